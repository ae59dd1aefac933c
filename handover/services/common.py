"""What every stage's services do around their change: lock the handover, check the state, ask the
models' rules, bump the version, write the timeline; and the checks on people the start and the
plan share."""

from collections import Counter
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition

from accounts.models import User
from accounts.roles import Role
from clients.ownership import lock_people

from ..models import OPEN_STATES, Event, Handover, HandoverClient
from ..selectors.fit import receiver_loads
from .errors import CapExceeded, InvalidInput, WrongState, changed_meanwhile, row_changed_meanwhile
from .webhooks import webhooks_for_event


def lock_handover(handover: Handover | int, expected_version: int | None = None) -> Handover:
    pk = handover.pk if isinstance(handover, Handover) else handover
    locked = Handover.objects.select_for_update().get(pk=pk)
    if expected_version is not None and locked.version != expected_version:
        raise changed_meanwhile()
    return locked


def bump(h: Handover) -> None:
    h.version += 1
    try:
        h.save()
    except ConcurrentTransition as exc:
        raise changed_meanwhile() from exc


def lock_row(
    h: Handover, handover_client: HandoverClient | int, expected_row_version: int | None = None
) -> HandoverClient:
    """The handover client, locked, after the handover (the one order: handover, then its rows).

    A row saved with the version it was loaded at conflicts only with a change to that same row.
    """
    pk = handover_client.pk if isinstance(handover_client, HandoverClient) else handover_client
    hc = HandoverClient.objects.select_for_update().select_related("client", "receiver").filter(pk=pk).first()
    if hc is None or hc.handover_id != h.pk:
        raise WrongState(_("This client is no longer in this handover. Please reload the page."))
    if expected_row_version is not None and hc.row_version != expected_row_version:
        raise row_changed_meanwhile()
    return hc


def bump_row(hc: HandoverClient | int) -> None:
    """One more change to this client's row (its plan, receiver, visits or calls)."""
    pk = hc.pk if isinstance(hc, HandoverClient) else hc
    HandoverClient.objects.filter(pk=pk).update(row_version=models.F("row_version") + 1)
    if isinstance(hc, HandoverClient):
        hc.row_version += 1


def log_event(h: Handover, *, actor, kind: str, comment: str = "", from_state: str = "", to_state: str = "", **data):
    event = Event.objects.create(
        handover=h, actor=actor, kind=kind, comment=comment, from_state=from_state, to_state=to_state, data=data
    )
    webhooks_for_event(h, event)
    return event


def check_rule(rule, *args, **kwargs) -> None:
    """Ask one of the models' rules; its refusal becomes an InvalidInput naming the field."""
    try:
        rule(*args, **kwargs)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], field=field) from exc


def require_state(h: Handover, *states: str) -> None:
    if h.state not in states:
        raise WrongState(
            _("This cannot be done while the handover is at “%(state)s”. Please reload the page.")
            % {"state": h.get_state_display()}
        )


def hold_people(*people: User) -> None:
    """Lock these people's rows until the commit (clients.ownership.lock_people, the one order).

    Whether someone is leaving, receiving, or being given clients is checked and then written in
    different rows; holding the person makes two such changes for the same person take turns.
    """
    lock_people(p.pk for p in people)


def check_receiver(user: User, *, departing: User, h_parties: list[User]) -> None:
    hold_people(user)
    if user.pk == departing.pk:
        raise InvalidInput(_("The receiver cannot be the departing salesperson."), field="receiver")
    if not user.is_active or not user.has_role(Role.SALES):
        raise InvalidInput(
            _("%(name)s is not an active salesperson and cannot receive clients.") % {"name": user}, field="receiver"
        )
    if any(user.pk == p.pk for p in h_parties):
        raise InvalidInput(
            _("%(name)s reviews or approves this handover and cannot also receive its clients.") % {"name": user},
            field="receiver",
        )
    if Handover.objects.filter(departing=user, state__in=OPEN_STATES).exists():
        raise InvalidInput(
            _("%(name)s is leaving and has an open handover; they cannot receive clients.") % {"name": user},
            field="receiver",
        )


def cap_refusals(moves: Iterable[tuple[int | None, int]]) -> dict[int, str]:
    """{receiver id: why not} for the receivers these moves would take beyond their client cap.

    moves: (from receiver id or None, to receiver id) per client given. Each receiver's load
    (selectors.fit.receiver_loads: their book and what they are to receive in open handovers, this
    handover as it stands included) grows by what comes to them and shrinks by what leaves them;
    only a receiver who gains is refused, so a client moved away from someone over their cap is fine.
    Call it after the receivers are held (check_receiver), so two changes for one person take turns.
    """
    net: Counter[int] = Counter()
    for old, new in moves:
        if old == new:
            continue
        net[new] += 1
        if old is not None:
            net[old] -= 1
    gaining = [pk for pk, n in net.items() if n > 0]
    if not gaining:
        return {}
    people = {u.pk: u for u in User.objects.select_related("department").filter(pk__in=gaining)}
    refusals = {}
    for pk, load in receiver_loads(people.values()).items():
        if not load.room_for(net[pk]):
            refusals[pk] = _(
                "%(name)s would hold %(load)s clients, beyond their cap of %(cap)s. Choose another receiver, "
                "or ask an administrator to raise the cap."
            ) % {"name": people[pk], "load": load.clients + net[pk], "cap": load.cap}
    return refusals


def check_caps(moves: Iterable[tuple[int | None, int]], *, field: str = "receiver") -> None:
    """Refuse (CapExceeded) moves that take a receiver beyond their client cap; see cap_refusals."""
    refusals = cap_refusals(moves)
    if refusals:
        raise CapExceeded(refusals[min(refusals)], field=field)
