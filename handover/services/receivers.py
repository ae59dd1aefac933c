"""Receivers in bulk: set one receiver for many clients at once, or split them among several.

The rules are those of one client's receiver change (handover_client_set_receiver): the departing
person or the supervisor, at the plan, and a receiver check_receiver accepts. Every change is
all-or-nothing: rows picked on a loaded page carry the versions they were loaded at and conflict
by row; a filter (grade, industry, region) picks the current rows. Each client whose receiver
changes gets its line on the timeline, as a single change does.

A split is shown before it applies (receivers_split_preview): each receiver's resulting load and
the client-by-client assignment, with a digest over the rows, the versions they were shown at and
the assignment. Applying it (receivers_split_apply) applies exactly that assignment, or refuses
the rows someone changed since the preview.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import models, transaction
from django.db.models import F, Sum
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from accounts.models import User
from clients.models import Client, Receivable

from .. import policy, selectors, split
from ..models import Handover, HandoverClient, State
from ..selectors import fit
from .common import bump, bump_row, check_caps, check_receiver, hold_people, lock_handover, require_state
from .errors import InvalidInput, NotAllowed, RowErrors
from .invitations import invitations_sync
from .plan import _set_receiver

ZERO = Decimal("0")


@dataclass(frozen=True)
class RowPick:
    """Which clients of the handover: the rows chosen on a page (`ids`, each with the row version it
    was loaded at when known), or, when `ids` is None, the current rows matching a filter (an
    empty filter: every client)."""

    ids: list[int] | None = None
    row_versions: dict[int, int] = field(default_factory=dict)
    grade: str = ""
    industry: str = ""
    region: str = ""

    @property
    def by_filter(self) -> bool:
        return self.ids is None


@dataclass(frozen=True)
class ReceiverLoadRow:
    """One receiver in a preview: their resulting load in this handover and their existing book."""

    receiver: User
    clients: int
    a_clients: int
    receivable: Decimal
    book_size: int
    # Of which come from this split.
    new_clients: int
    # All the clients they would hold (their book and what they are to receive in open handovers,
    # this split applied), against their cap (None: no cap); over: beyond it, the apply is refused.
    held: int = 0
    cap: int | None = None

    @property
    def over(self) -> bool:
        return self.cap is not None and self.held > self.cap


@dataclass(frozen=True)
class AssignedRow:
    handover_client: HandoverClient
    receivable: Decimal
    receiver: User
    row_version: int

    @property
    def changes(self) -> bool:
        return self.handover_client.receiver_id != self.receiver.pk


SPLIT_EVEN, SPLIT_FIT = split.EVEN, split.FIT


@dataclass(frozen=True)
class SplitPreview:
    handover: Handover
    receivers: list[ReceiverLoadRow]
    rows: list[AssignedRow]
    digest: str
    mode: str = SPLIT_EVEN

    @property
    def assignment(self) -> dict[int, int]:
        return {r.handover_client.pk: r.receiver.pk for r in self.rows}

    @property
    def row_versions(self) -> dict[int, int]:
        return {r.handover_client.pk: r.row_version for r in self.rows}

    @property
    def changed(self) -> int:
        return sum(r.changes for r in self.rows)


# ---------------------------------------------------------------------------------------
# Shared checks and reads


def _require_setter(h: Handover, user: User) -> None:
    if not policy.may_set_receiver(h, user):
        raise NotAllowed(_("Only the departing salesperson or the supervisor may change who receives a client."))
    require_state(h, State.PLAN)


def _check_receivers(h: Handover, receivers: list[User], *, field: str) -> list[User]:
    """Each receiver once, in the order given, checked as a single change checks its receiver."""
    unique = list({u.pk: u for u in receivers}.values())
    if not unique:
        raise InvalidInput(_("Choose at least one receiver."), field=field)
    # All of them at once, in the one order, before each check holds its person again.
    hold_people(*unique)
    for person in unique:
        try:
            check_receiver(person, departing=h.departing, h_parties=[h.supervisor, h.manager, h.witness])
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=field) from exc
    return unique


def _pick_rows(h: Handover, pick: RowPick, *, lock: bool) -> list[HandoverClient]:
    rows = HandoverClient.objects.filter(handover=h).select_related("client", "receiver").order_by("pk")
    if lock:
        rows = rows.select_for_update(of=("self",))
    if not pick.by_filter:
        ids = list(dict.fromkeys(pick.ids or []))
        if not ids:
            raise InvalidInput(_("Choose at least one client, or pick the clients by a filter."), field="hc")
        found = {hc.pk: hc for hc in rows.filter(pk__in=ids)}
        missing = [pk for pk in ids if pk not in found]
        if missing:
            gone = _("This client is no longer in this handover. Please reload the page.")
            raise RowErrors({pk: {"__all__": gone} for pk in missing})
        return [found[pk] for pk in sorted(ids)]
    if pick.grade:
        rows = rows.filter(grade=pick.grade)
    if pick.industry:
        rows = rows.filter(client__industry=pick.industry)
    if pick.region:
        rows = rows.filter(client__region=pick.region)
    found = list(rows)
    if not found:
        raise InvalidInput(_("No client of this handover matches the filter."), field="grade")
    return found


def _check_row_versions(rows: list[HandoverClient], versions: dict[int, int], message: str) -> None:
    conflicts = {hc.pk for hc in rows if hc.pk in versions and versions[hc.pk] != hc.row_version}
    if conflicts:
        raise RowErrors(
            dict.fromkeys(conflicts, {"__all__": message}),
            conflicts=conflicts,
            labels={hc.pk: str(hc.client) for hc in rows},
        )


def _changed_meanwhile() -> str:
    return _("Someone else changed this client in the meantime. Your input is kept; reload the row to see theirs.")


def outstanding_by_client(client_ids) -> dict[int, Decimal]:
    """The outstanding receivables of each client, in one query."""
    totals = (
        Receivable.objects.outstanding()
        .filter(contract__client_id__in=list(client_ids))
        .order_by()
        .values("contract__client_id")
        .annotate(total=Sum(F("amount_due") - F("amount_received")))
    )
    return {row["contract__client_id"]: row["total"] or ZERO for row in totals}


def book_sizes(user_ids) -> dict[int, int]:
    """How many clients each person owns now."""
    counts = (
        Client.objects.filter(owner_id__in=list(user_ids)).order_by().values("owner_id").annotate(n=models.Count("pk"))
    )
    sizes = dict.fromkeys(user_ids, 0)
    sizes.update({row["owner_id"]: row["n"] for row in counts})
    return sizes


def _apply(h: Handover, user: User, targets: list[tuple[HandoverClient, User]]) -> list[HandoverClient]:
    changed = []
    for hc, receiver in targets:
        if hc.receiver_id == receiver.pk:
            continue
        _set_receiver(h, hc, receiver, user)
        bump_row(hc)
        changed.append(hc)
    if changed:
        bump(h)
        invitations_sync(h, changed)
    return changed


def receivers_set_allowed(*, handover, user: User) -> None:
    """Refuse (NotAllowed, WrongState) as receivers_set would, before any input is looked at."""
    _require_setter(handover, user)


# ---------------------------------------------------------------------------------------
# One receiver for many clients


@transaction.atomic
def receivers_set(
    *, handover, user: User, receiver: User, pick: RowPick, expected_version: int | None = None
) -> list[HandoverClient]:
    """Give the picked clients to one receiver, all of them or none. Returns the clients that changed
    hands (a client already with this receiver is left alone)."""
    h = lock_handover(handover.pk if hasattr(handover, "pk") else handover, expected_version)
    _require_setter(h, user)
    (receiver,) = _check_receivers(h, [receiver], field="receiver")
    rows = _pick_rows(h, pick, lock=True)
    _check_row_versions(rows, pick.row_versions, _changed_meanwhile())
    check_caps(((hc.receiver_id, receiver.pk) for hc in rows), field="receiver")
    return _apply(h, user, [(hc, receiver) for hc in rows])


# ---------------------------------------------------------------------------------------
# A split among several receivers: preview, then apply


def split_digest(handover_id: int, assignment: dict[int, int], row_versions: dict[int, int]) -> str:
    """Binds an assignment to the rows and versions it was shown for."""
    parts = [str(handover_id)] + [f"{pk}:{row_versions.get(pk, '')}:{assignment[pk]}" for pk in sorted(assignment)]
    return salted_hmac("handover.receivers.split", "|".join(parts), algorithm="sha256").hexdigest()


def _facts(rows: list[HandoverClient], receivables: dict[int, Decimal]) -> list[split.ClientFacts]:
    # Keyed by the client, as at the start: the same clients split the same way at both.
    return [split.ClientFacts(hc.client_id, hc.grade, receivables.get(hc.client_id, ZERO)) for hc in rows]


@transaction.atomic
def receivers_split_preview(
    *, handover, user: User, receivers: list[User], pick: RowPick, mode: str = SPLIT_EVEN
) -> SplitPreview:
    """The split the picked clients would get among these receivers; nothing is written.

    mode "even" balances the clients (handover.split); each receiver's load counts what they already
    receive in this handover outside the pick, so a split of some clients evens out the whole
    handover. Mode "fit" (按匹配度分配) gives each client its best-fit candidate with room under
    their cap (selectors.fit.assign_by_fit), among the receivers chosen, or every possible receiver
    of the handover when none is chosen.
    """
    pk = handover.pk if hasattr(handover, "pk") else handover
    h = Handover.objects.select_related("departing", "supervisor", "manager", "witness").get(pk=pk)
    _require_setter(h, user)
    if mode not in (SPLIT_EVEN, SPLIT_FIT):
        raise InvalidInput(_("Choose how to split: evenly or by fit."), field="mode")
    if mode == SPLIT_FIT and not receivers:
        receivers = list(selectors.receivers_for(h))
        if not receivers:
            raise InvalidInput(_("No salesperson can receive clients now."), field="receivers")
    people = _check_receivers(h, receivers, field="receivers")
    rows = _pick_rows(h, pick, lock=False)
    _check_row_versions(rows, pick.row_versions, _changed_meanwhile())
    picked = {hc.pk for hc in rows}
    others = list(
        HandoverClient.objects.filter(handover=h, receiver__in=people)
        .exclude(pk__in=picked)
        .only("pk", "grade", "client_id", "receiver_id")
    )
    receivables = outstanding_by_client({hc.client_id for hc in rows} | {hc.client_id for hc in others})
    books = book_sizes([p.pk for p in people])
    base = {p.pk: split.Load() for p in people}
    for hc in others:
        base[hc.receiver_id].add(split.ClientFacts(hc.pk, hc.grade, receivables.get(hc.client_id, ZERO)))
    candidates = [split.Receiver(p.pk, books[p.pk], base[p.pk]) for p in people]
    facts = _facts(rows, receivables)
    with_department = list(User.objects.select_related("department").filter(pk__in=[p.pk for p in people]))
    if mode == SPLIT_FIT:
        basis = fit.fit_basis(h, rows, sorted(with_department, key=lambda u: u.pk))
        try:
            assignment = fit.assign_by_fit(basis)
        except fit.NoRoom as exc:
            raise InvalidInput(
                _("No chosen receiver has room under their cap for: %(clients)s.")
                % {"clients": "、".join(str(hc.client) for hc in exc.clients)},
                field="receivers",
            ) from exc
        by_client = {hc.client_id: assignment[hc.pk] for hc in rows}
        held = basis.loads
    else:
        by_client = split.split_clients(facts, candidates)
        assignment = {hc.pk: by_client[hc.client_id] for hc in rows}
        held = fit.receiver_loads(with_department)
    loads = split.loads_after(facts, by_client, candidates)
    by_pk = {p.pk: p for p in people}
    new = {p.pk: 0 for p in people}
    for target in assignment.values():
        new[target] += 1
    # What each one holds after: what they hold now, plus what comes to them, less what leaves them.
    moved = {p.pk: new[p.pk] - sum(1 for hc in rows if hc.receiver_id == p.pk) for p in people}
    assigned = [
        AssignedRow(hc, receivables.get(hc.client_id, ZERO), by_pk[assignment[hc.pk]], hc.row_version) for hc in rows
    ]
    assigned.sort(key=lambda r: (r.receiver.pk, r.handover_client.grade, -r.receivable, r.handover_client.pk))
    versions = {hc.pk: hc.row_version for hc in rows}
    shown = people if mode == SPLIT_EVEN or len(people) <= 1 else [p for p in people if new[p.pk] or moved[p.pk]]
    return SplitPreview(
        handover=h,
        receivers=[
            ReceiverLoadRow(
                receiver=p,
                clients=loads[p.pk].clients,
                a_clients=loads[p.pk].a_clients,
                receivable=loads[p.pk].receivable,
                book_size=books[p.pk],
                new_clients=new[p.pk],
                held=held[p.pk].clients + moved[p.pk],
                cap=held[p.pk].cap,
            )
            for p in shown
        ],
        rows=assigned,
        digest=split_digest(h.pk, assignment, versions),
        mode=mode,
    )


@transaction.atomic
def receivers_split_apply(
    *,
    handover,
    user: User,
    assignment: dict[int, int],
    row_versions: dict[int, int],
    digest: str,
    expected_version: int | None = None,
) -> list[HandoverClient]:
    """Apply a previewed split exactly: each client to the receiver the preview showed.

    The digest must be the preview's for this assignment and these row versions; a row changed
    since the preview (its version moved) is a conflict of that row, and nothing is written.
    """
    h = lock_handover(handover.pk if hasattr(handover, "pk") else handover, expected_version)
    _require_setter(h, user)
    if not assignment:
        raise InvalidInput(_("The split is empty. Please preview it again."))
    if set(row_versions) != set(assignment) or not constant_time_compare(
        digest or "", split_digest(h.pk, assignment, row_versions)
    ):
        raise InvalidInput(_("This is not the split that was previewed. Please preview it again."))
    people = {u.pk: u for u in User.objects.filter(pk__in=set(assignment.values()))}
    if len(people) != len(set(assignment.values())):
        raise InvalidInput(_("This is not the split that was previewed. Please preview it again."))
    _check_receivers(h, list(people.values()), field="receivers")
    rows = _pick_rows(h, RowPick(ids=list(assignment)), lock=True)
    _check_row_versions(
        rows,
        row_versions,
        _("Someone else changed this client since the preview. Please preview the split again."),
    )
    check_caps(((hc.receiver_id, assignment[hc.pk]) for hc in rows), field="receivers")
    return _apply(h, user, [(hc, people[assignment[hc.pk]]) for hc in rows])
