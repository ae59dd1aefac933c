"""The duties after completion (contact, visit, revoke the accounts): whose, who sees them, who is late.

duties_visible_to() is the one gate of the duty page and of GET /api/duties/:
  - everyone sees the duties assigned to them (a receiver: their clients' contact and visit);
  - HR sees every duty (they own the revoke duties and follow every handover);
  - the handover's supervisor and manager, and the head of the departing person's department,
    see that handover's duties;
  - a supervisor sees the duties of their team: the people of their department, and of any
    department they head (as clients.selectors.clients_visible_to lets them see their book);
  - nobody else: not the departed person, not the witness, not another department's supervisor.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.roles import Role

from .. import policy
from ..models import Duty, DutyKind, Handover


def duties_visible_to(user) -> QuerySet[Duty]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Duty.objects.none()
    if user.is_superuser or user.has_role(Role.HR):
        return Duty.objects.all()
    seen = (
        Q(assignee=user)
        | Q(handover__supervisor=user)
        | Q(handover__manager=user)
        | Q(handover__departing__department__head=user)
    )
    if user.has_role(Role.SUPERVISOR):
        seen |= Q(assignee__department__head=user)
        if user.department_id:
            seen |= Q(assignee__department_id=user.department_id)
    return Duty.objects.filter(seen)


def duties_for_list(
    user, *, done: bool | None = None, late: bool | None = None, today: datetime.date | None = None
) -> QuerySet[Duty]:
    """The duties this person sees, each with its people; done/late narrow them (late: open and past due)."""
    today = today or timezone.localdate()
    queryset = duties_visible_to(user).select_related(
        "handover__departing__department", "client", "assignee", "done_by"
    )
    if done is not None:
        queryset = queryset.filter(done_at__isnull=not done)
    late_q = Q(done_at__isnull=True, due_on__lt=today)
    if late is True:
        queryset = queryset.filter(late_q)
    elif late is False:
        queryset = queryset.exclude(late_q)
    return queryset.order_by("-handover__completed_at", "handover_id", "kind", "due_on", "client__name", "pk")


def is_late(duty: Duty, today: datetime.date) -> bool:
    return duty.done_at is None and duty.due_on < today


@dataclass
class DutyGroup:
    """One handover's duties of one kind, as the duty page lists them."""

    handover: Handover
    kind: str
    label: str
    duties: list[Duty] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for d in self.duties if d.done_at)

    @property
    def late(self) -> int:
        return sum(1 for d in self.duties if d.late)


@dataclass(frozen=True)
class LatePerson:
    name: str
    late: int
    earliest: datetime.date


@dataclass
class DutyPage:
    groups: list[DutyGroup]
    # Who is late with how many duties, for those who oversee others' duties.
    late_people: list[LatePerson]
    oversees: bool


def duty_page(user, *, late_only: bool = False, today: datetime.date | None = None) -> DutyPage:
    """The duty page: grouped by handover and kind, each duty marked late or not, and who is late."""
    today = today or timezone.localdate()
    duties = list(duties_for_list(user, late=True if late_only else None, today=today))
    groups: dict[tuple[int, str], DutyGroup] = {}
    late_by: dict[str, list[datetime.date]] = {}
    oversees = False
    for d in duties:
        d.late = is_late(d, today)
        d.mine = d.assignee_id == user.pk
        # 记录跟进 for the assignee while they own the client; the revoke button for HR.
        d.may_record = bool(d.mine and d.client and d.client.owner_id == user.pk and not d.done_at)
        d.may_revoke = bool(
            d.kind == DutyKind.REVOKE_ACCOUNTS and not d.done_at and policy.may_revoke_access(d.handover, user)
        )
        oversees |= not d.mine
        key = (d.handover_id, d.kind)
        if key not in groups:
            groups[key] = DutyGroup(d.handover, d.kind, str(DutyKind(d.kind).label))
        groups[key].duties.append(d)
        if d.late:
            who = d.assignee.display_name if d.assignee else str(Role.HR.label)
            late_by.setdefault(who, []).append(d.due_on)
    late_people = sorted(
        (LatePerson(name, len(days), min(days)) for name, days in late_by.items()),
        key=lambda p: (-p.late, p.earliest, p.name),
    )
    return DutyPage(list(groups.values()), late_people, oversees)
