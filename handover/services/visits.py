"""The joint visits: the departing person and the receiver meet each client and both confirm it."""

import datetime
from collections import Counter
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy
from ..models import HandoverClient, State, Visit, VisitMode, check_visit_date, check_visit_mode
from .common import bump, bump_row, check_rule, lock_handover, lock_row, log_event, require_state
from .errors import InvalidInput, NotAllowed, RowErrors, WrongState, row_changed_meanwhile
from .invitations import invitations_sync


@transaction.atomic
def visit_record(
    *,
    handover_client: HandoverClient,
    user: User,
    visited_on: datetime.date,
    mode: str,
    contact_met: str,
    outcome: str,
    concerns: str = "",
    expected_version: int | None = None,
    expected_row_version: int | None = None,
) -> Visit:
    h = lock_handover(handover_client.handover_id, expected_version)
    hc = lock_row(h, handover_client, expected_row_version)
    if not policy.may_record_visit(h, hc, user):
        raise NotAllowed(_("Only the departing salesperson and this client's receiver record the visit."))
    require_state(h, State.VISITS)
    if mode not in VisitMode.values:
        raise InvalidInput(_("Choose how the client was met."), field="mode")
    check_rule(check_visit_date, visited_on, today=timezone.localdate())
    check_rule(check_visit_mode, mode=mode, grade=hc.grade, client=hc.client.name)
    if not contact_met.strip() or not outcome.strip():
        raise InvalidInput(_("Record the contact met and the outcome of the visit."), field="outcome")
    now = timezone.now()
    visit = Visit.objects.create(
        handover_client=hc,
        visited_on=visited_on,
        mode=mode,
        contact_met=contact_met.strip(),
        outcome=outcome.strip(),
        concerns=concerns.strip(),
        recorded_by=user,
        # Whoever records it confirms it; the other party confirms separately.
        departing_confirmed_at=now if user.pk == h.departing_id else None,
        receiver_confirmed_at=now if user.pk == hc.receiver_id else None,
    )
    bump_row(hc)
    bump(h)
    log_event(h, actor=user, kind="visit_recorded", client=hc.client.name, mode=mode, visited_on=str(visited_on))
    invitations_sync(h, [hc])
    return visit


@transaction.atomic
def visit_confirm(
    *, visit: Visit, user: User, expected_version: int | None = None, expected_row_version: int | None = None
) -> Visit:
    visit = Visit.objects.select_related("handover_client__client").get(pk=visit.pk)
    hc = visit.handover_client
    h = lock_handover(hc.handover_id, expected_version)
    hc = lock_row(h, hc, expected_row_version)
    require_state(h, State.VISITS)
    if visit.superseded:
        raise WrongState(_("This visit record has been superseded; record a new visit."))
    if user.pk == h.departing_id and visit.departing_confirmed_at is None:
        visit.departing_confirmed_at = timezone.now()
    elif user.pk == hc.receiver_id and visit.receiver_confirmed_at is None:
        visit.receiver_confirmed_at = timezone.now()
    else:
        raise NotAllowed(_("Only the other salesperson of this visit may confirm it."))
    visit.save(update_fields=["departing_confirmed_at", "receiver_confirmed_at"])
    bump_row(hc)
    bump(h)
    log_event(h, actor=user, kind="visit_confirmed", client=hc.client.name)
    return visit


# ---------------------------------------------------------------------------------------
# The visits as a grid (and as a sheet): one row per client, saved together.


@dataclass
class VisitRow:
    """One client's row of the visits grid: a new visit to record, as a person (the grid, the
    sheet, the API) typed it. `row_version` is the version the row was loaded at (None: no check).

    A row with nothing typed (no date, contact, outcome or concerns) is skipped: the mode alone is
    a choice that always has a value.
    """

    handover_client_id: int
    visited_on: datetime.date | None = None
    mode: str = ""
    contact_met: str = ""
    outcome: str = ""
    concerns: str = ""
    row_version: int | None = None

    def is_blank(self) -> bool:
        return self.visited_on is None and not any(
            (v or "").strip() for v in (self.contact_met, self.outcome, self.concerns)
        )


def _check_visit_row(hc: HandoverClient, row: VisitRow, today: datetime.date) -> dict[str, str]:
    """{field: message} of what is wrong with this row; the client is named where the rule is about it."""
    errors: dict[str, str] = {}
    client = hc.client.name
    if row.visited_on is None:
        errors["visited_on"] = _("Enter the date of the visit.")
    else:
        try:
            check_visit_date(row.visited_on, today=today)
        except ValidationError as exc:
            errors["visited_on"] = _("%(client)s: %(message)s") % {
                "client": client,
                "message": exc.message_dict["visited_on"][0],
            }
    if row.mode not in VisitMode.values:
        errors["mode"] = _("Choose how the client was met.")
    else:
        try:
            check_visit_mode(mode=row.mode, grade=hc.grade, client=client)
        except ValidationError as exc:
            errors["mode"] = exc.message_dict["mode"][0]
    if not (row.contact_met or "").strip():
        errors["contact_met"] = _("Record the contact met.")
    if not (row.outcome or "").strip():
        errors["outcome"] = _("Record the outcome of the visit.")
    probe = Visit(
        handover_client=hc,
        contact_met=(row.contact_met or "").strip(),
        outcome=(row.outcome or "").strip(),
        concerns=(row.concerns or "").strip(),
    )
    try:
        probe.clean_fields(
            exclude=[f.name for f in Visit._meta.fields if f.name not in ("contact_met", "outcome", "concerns")]
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, messages[0])
    return errors


def _locked_rows(h, ids) -> dict[int, HandoverClient]:
    return {
        hc.pk: hc
        for hc in HandoverClient.objects.select_for_update()
        .select_related("client", "receiver")
        .filter(handover=h, pk__in=ids)
        .order_by("pk")
    }


def _gone() -> str:
    return _("This client is no longer in this handover. Please reload the page.")


@transaction.atomic
def visits_save_rows(*, handover, user: User, rows: list[VisitRow], expected_version: int | None = None) -> list[Visit]:
    """Record the visits typed in several rows together: all of them, or none.

    The rules are those of one visit (who may, the state, the date, an A client in person, the
    contact and outcome, the text limits); each refusal is kept by row and field, a row changed
    by someone else since it was loaded is a conflict of that row only, and nothing is written
    unless every row passes. Rows with nothing typed are skipped. Each row adds a visit, as
    visit_record does; whoever records it confirms it. Returns the visits recorded.
    """
    h = lock_handover(handover.pk if hasattr(handover, "pk") else handover, expected_version)
    if user.pk != h.departing_id and not h.clients.filter(receiver=user).exists():
        raise NotAllowed(_("Only the departing salesperson and this client's receiver record the visit."))
    require_state(h, State.VISITS)
    typed = [r for r in rows if not r.is_blank()]
    locked = _locked_rows(h, [r.handover_client_id for r in typed])
    today = timezone.localdate()
    errors: dict[int, dict[str, str]] = {}
    conflicts: set[int] = set()
    refused: set[int] = set()
    times = Counter(r.handover_client_id for r in typed)
    for row in typed:
        key = row.handover_client_id
        hc = locked.get(key)
        if hc is None:
            errors[key] = {"__all__": _gone()}
            continue
        if not policy.may_record_visit(h, hc, user):
            errors[key] = {"__all__": _("Only the departing salesperson and this client's receiver record the visit.")}
            refused.add(key)
            continue
        if row.row_version is not None and row.row_version != hc.row_version:
            conflicts.add(key)
            errors[key] = {"__all__": row_changed_meanwhile().message}
            continue
        row_errors = _check_visit_row(hc, row, today)
        if times[key] > 1:
            row_errors.setdefault("__all__", _("This client appears twice; record one visit per row."))
        if row_errors:
            errors[key] = row_errors
    if errors:
        labels = {pk: hc.client.name for pk, hc in locked.items()}
        raise RowErrors(errors, conflicts=conflicts, refused=refused, labels=labels)
    now = timezone.now()
    saved = []
    for row in typed:
        hc = locked[row.handover_client_id]
        visit = Visit.objects.create(
            handover_client=hc,
            visited_on=row.visited_on,
            mode=row.mode,
            contact_met=row.contact_met.strip(),
            outcome=row.outcome.strip(),
            concerns=(row.concerns or "").strip(),
            recorded_by=user,
            departing_confirmed_at=now if user.pk == h.departing_id else None,
            receiver_confirmed_at=now if user.pk == hc.receiver_id else None,
        )
        bump_row(hc)
        log_event(
            h, actor=user, kind="visit_recorded", client=hc.client.name, mode=row.mode, visited_on=str(row.visited_on)
        )
        saved.append(visit)
    if saved:
        bump(h)
        invitations_sync(h, {v.handover_client_id for v in saved})
    return saved


def _open_for(h, hc: HandoverClient, visit: Visit, user: User) -> bool:
    """Whether this person's confirmation of this visit is still open."""
    if visit.superseded:
        return False
    if user.pk == h.departing_id and visit.departing_confirmed_at is None:
        return True
    return user.pk == hc.receiver_id and visit.receiver_confirmed_at is None


@transaction.atomic
def visits_confirm(
    *,
    handover,
    user: User,
    visit_ids: list[int] | None = None,
    row_versions: dict[int, int] | None = None,
    expected_version: int | None = None,
) -> int:
    """Confirm several visits at once: the selected ones (visit_ids) or, without a selection, every
    visit waiting for this person's confirmation. All or nothing; refusals by row (the handover
    client), a row changed since it was loaded (row_versions: {handover client id: version}) is a
    conflict of that row. Returns the number confirmed."""
    h = lock_handover(handover.pk if hasattr(handover, "pk") else handover, expected_version)
    if user.pk != h.departing_id and not h.clients.filter(receiver=user).exists():
        raise NotAllowed(_("Only the other salesperson of this visit may confirm it."))
    require_state(h, State.VISITS)
    row_versions = row_versions or {}
    visits = Visit.objects.filter(handover_client__handover=h).order_by("pk")
    if visit_ids is not None:
        visits = visits.filter(pk__in=visit_ids)
    visits = list(visits)
    locked = _locked_rows(h, {v.handover_client_id for v in visits})
    errors: dict[int, dict[str, str]] = {}
    conflicts: set[int] = set()
    refused: set[int] = set()
    work: list[Visit] = []
    if visit_ids is not None:
        missing = set(visit_ids) - {v.pk for v in visits}
        if missing:
            raise InvalidInput(_("A selected visit is no longer in this handover. Please reload the page."))
    for v in visits:
        hc = locked[v.handover_client_id]
        key = hc.pk
        expected = row_versions.get(key)
        if expected is not None and expected != hc.row_version:
            conflicts.add(key)
            errors[key] = {"__all__": row_changed_meanwhile().message}
            continue
        if _open_for(h, hc, v, user):
            work.append(v)
        elif visit_ids is not None:
            if v.superseded:
                message = _("This visit record has been superseded; record a new visit.")
            elif policy.may_record_visit(h, hc, user):
                message = _("You have confirmed this visit already.")
            else:
                message = _("Only the other salesperson of this visit may confirm it.")
                refused.add(key)
            errors.setdefault(key, {})["__all__"] = message
    if errors:
        labels = {pk: hc.client.name for pk, hc in locked.items()}
        raise RowErrors(errors, conflicts=conflicts, refused=refused, labels=labels)
    if not work:
        raise InvalidInput(_("There is no visit waiting for your confirmation."))
    now = timezone.now()
    bumped: set[int] = set()
    for v in work:
        hc = locked[v.handover_client_id]
        if user.pk == h.departing_id and v.departing_confirmed_at is None:
            v.departing_confirmed_at = now
        if user.pk == hc.receiver_id and v.receiver_confirmed_at is None:
            v.receiver_confirmed_at = now
        v.save(update_fields=["departing_confirmed_at", "receiver_confirmed_at"])
        log_event(h, actor=user, kind="visit_confirmed", client=hc.client.name)
        if hc.pk not in bumped:
            bump_row(hc)
            bumped.add(hc.pk)
    bump(h)
    return len(work)
