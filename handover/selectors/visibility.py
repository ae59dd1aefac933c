"""Who sees which handover.

handovers_visible_to() is the one place deciding who sees a handover; every page and action
goes through it, so a handover someone may not see is a 404 for them everywhere.
"""

import datetime
from collections.abc import Iterable

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role

from .. import policy
from ..models import OPEN_STATES, ChecklistItem, Handover, HandoverClient, StageDeadline


def handovers_visible_to(user) -> QuerySet[Handover]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Handover.objects.none()
    if user.is_superuser or user.has_role(Role.HR):
        return Handover.objects.all()
    party = (
        Q(departing=user)
        | Q(receiver=user)
        | Q(supervisor=user)
        | Q(witness=user)
        | Q(manager=user)
        | Q(started_by=user)
        # A department head oversees every handover of their department, not only those they supervise.
        | Q(departing__department__head=user)
        | Exists(HandoverClient.objects.filter(handover=OuterRef("pk"), receiver=user))
        | Exists(ChecklistItem.objects.filter(handover=OuterRef("pk"), receiver=user))
    )
    return Handover.objects.filter(party)


def with_current_due(queryset: QuerySet[Handover]) -> QuerySet[Handover]:
    """Add current_due_on: the deadline of the state each handover is in (None when closed)."""
    due = StageDeadline.objects.filter(handover=OuterRef("pk"), state=OuterRef("state")).values("due_on")[:1]
    return queryset.annotate(current_due_on=Subquery(due))


def is_overdue(h: Handover, today: datetime.date) -> bool:
    due = getattr(h, "current_due_on", None)
    return bool(due and due < today and h.state in OPEN_STATES)


def handover_for_user(user, pk: int) -> Handover:
    """The handover with its people: 404 if this user may not see it, 403 if not its clients' data."""
    queryset = handovers_visible_to(user).select_related(
        "departing__department", "receiver", "supervisor", "witness", "manager", "started_by"
    )
    return policy.require_client_data(get_object_or_404(queryset, pk=pk), user)


def handovers_for_list(
    user,
    *,
    state: str = "",
    department=None,
    overdue: bool = False,
    today: datetime.date | None = None,
) -> QuerySet[Handover]:
    today = today or timezone.localdate()
    queryset = with_current_due(handovers_visible_to(user)).select_related("departing__department", "receiver")
    if state:
        queryset = queryset.filter(state=state)
    if department is not None:
        queryset = queryset.filter(departing__department=department)
    queryset = queryset.annotate(
        is_overdue=ExpressionWrapper(Q(state__in=OPEN_STATES, current_due_on__lt=today), output_field=BooleanField())
    )
    if overdue:
        queryset = queryset.filter(is_overdue=True)
    return queryset.order_by("-started_at", "-id")


def eligible_receivers(
    *,
    departing: User | int | None = None,
    parties: Iterable[User | int | None] = (),
    exclude: Iterable[int | None] = (),
) -> QuerySet[User]:
    """Who may receive clients: services.common.check_receiver's rules as a queryset.

    Active salespeople (someone who has left is inactive), not leaving themselves (no open
    handover of their own), never the departing person nor a party who reviews the handover
    (supervisor, manager, witness). Every receiver list asks this (receivers_for for a started
    handover), so no list offers someone the service would refuse.
    """
    leaving = Handover.objects.filter(departing=OuterRef("pk"), state__in=OPEN_STATES)
    excluded = {_pk(p) for p in [departing, *parties, *exclude]} - {None}
    return (
        User.objects.filter(is_active=True, groups__name=Role.SALES)
        .exclude(pk__in=excluded)
        .exclude(Exists(leaving))
        .select_related("department")
        .order_by("department__code", "full_name", "username")
        .distinct()
    )


def receivers_for(h: Handover) -> QuerySet[User]:
    """Who may receive clients in this handover (its default receiver and each client's)."""
    return eligible_receivers(departing=h.departing_id, parties=[h.supervisor_id, h.manager_id, h.witness_id])


def _pk(person: User | int | str | None) -> int | None:
    if person is None or person == "":
        return None
    if isinstance(person, User):
        return person.pk
    try:
        return int(person)
    except (TypeError, ValueError):
        return None


def departing_is_locked(user) -> bool:
    """From the start of their handover, a departing person reads their clients but edits or exports nothing."""
    return Handover.objects.filter(departing=user, state__in=OPEN_STATES).exists()


def seen_in_open_handovers(user) -> Q:
    """A condition on HandoverClient: the entries of open handovers this person receives or witnesses."""
    return Q(handover__state__in=OPEN_STATES) & (Q(receiver=user) | Q(handover__witness=user))


def clients_seen_in_open_handovers(user) -> Exists:
    """A condition on clients.Client: during a handover its receivers and witness see the clients
    they visit and phone (clients.hooks asks it through selectors.cover.clients_granted)."""
    return Exists(HandoverClient.objects.filter(client=OuterRef("pk")).filter(seen_in_open_handovers(user)))


# The API asks the same gate; its detail comes with the people, clients and deadlines it shows.
API_PEOPLE = ["departing", "receiver", "supervisor", "witness", "manager", "started_by", "cover_ended_by"]


def handovers_for_api(user, *, state: str = "") -> QuerySet[Handover]:
    queryset = handovers_visible_to(user).select_related("departing", "receiver")
    if state:
        queryset = queryset.filter(state=state)
    return queryset


def handover_for_api(user, pk, *, detail: bool = False) -> Handover | None:
    """The handover if this person sees it (None if not); with its people, clients and deadlines for detail."""
    queryset = handovers_visible_to(user)
    if detail:
        queryset = queryset.select_related(*API_PEOPLE).prefetch_related(
            Prefetch("clients", queryset=HandoverClient.objects.select_related("client", "receiver")),
            "deadlines",
        )
    return queryset.filter(pk=pk).first()
