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

from django.core.paginator import Paginator
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from accounts.models import User
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
    # Who is late with how many duties (over every page), for those who oversee others' duties.
    late_people: list[LatePerson]
    oversees: bool
    # The handovers of this page: HR sees every handover's duties, a page of them at a time.
    page: object = None


HANDOVERS_PER_PAGE = 20


def _late_people(visible: QuerySet[Duty], user, today: datetime.date) -> list[LatePerson]:
    """Everyone but this person who has late duties in what they see, worst first; one query."""
    rows = (
        visible.filter(done_at__isnull=True, due_on__lt=today)
        .exclude(assignee=user)
        .values("assignee")
        .annotate(n=Count("pk"), earliest=Min("due_on"))
        .order_by()
    )
    rows = list(rows)
    names = User.objects.in_bulk([r["assignee"] for r in rows if r["assignee"]])
    people = [
        LatePerson(names[r["assignee"]].display_name if r["assignee"] else str(Role.HR.label), r["n"], r["earliest"])
        for r in rows
    ]
    return sorted(people, key=lambda p: (-p.late, p.earliest, p.name))


def duty_page(user, *, late_only: bool = False, page_number=None, today: datetime.date | None = None) -> DutyPage:
    """The duty page: grouped by handover and kind, each duty marked late or not, and who is late."""
    today = today or timezone.localdate()
    visible = duties_visible_to(user)
    selected = duties_for_list(user, late=True if late_only else None, today=today)
    handovers = Handover.objects.filter(pk__in=selected.values("handover_id")).order_by("-completed_at", "-pk")
    page = Paginator(handovers, HANDOVERS_PER_PAGE).get_page(page_number)
    duties = list(selected.filter(handover_id__in=[h.pk for h in page.object_list]))
    groups: dict[tuple[int, str], DutyGroup] = {}
    oversees = visible.exclude(assignee=user).exists()
    for d in duties:
        d.late = is_late(d, today)
        d.mine = d.assignee_id == user.pk
        # 记录跟进 for the assignee while they own the client; the revoke button for HR.
        d.may_record = bool(d.mine and d.client and d.client.owner_id == user.pk and not d.done_at)
        d.may_revoke = bool(
            d.kind == DutyKind.REVOKE_ACCOUNTS and not d.done_at and policy.may_revoke_access(d.handover, user)
        )
        key = (d.handover_id, d.kind)
        if key not in groups:
            groups[key] = DutyGroup(d.handover, d.kind, str(DutyKind(d.kind).label))
        groups[key].duties.append(d)
    late_people = _late_people(visible, user, today) if oversees else []
    return DutyPage(list(groups.values()), late_people, oversees, page)
