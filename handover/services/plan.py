"""The plan: the departing person's notes per client, who receives each client, and taking out a
client that has left the departing person's book."""

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy, selectors
from ..models import (
    OPEN_STATES,
    Event,
    HandoverClient,
    ItemStatus,
    Report,
    State,
    check_planned_visit,
)
from .client_notices import notice_receiver_changed
from .common import (
    bump,
    bump_row,
    cap_refusals,
    check_caps,
    check_receiver,
    check_rule,
    lock_handover,
    lock_row,
    log_event,
    require_state,
)
from .errors import InvalidInput, NotAllowed, RowErrors, WrongState, row_changed_meanwhile
from .invitations import invitations_sync

PLAN_FIELDS = ("current_status", "risks", "next_steps", "planned_visit_on")


@dataclass
class PlanRow:
    """One client's row of the plan as a person (the grid, the sheet, the API) gives it.

    A field left as None is not touched; `row_version` is the version the row was loaded at (None:
    no check); `receiver` changes who receives the client when given.
    """

    handover_client_id: int
    current_status: str | None = None
    risks: str | None = None
    next_steps: str | None = None
    planned_visit_on: datetime.date | None = None
    clear_planned_visit: bool = False
    receiver: User | None = None
    row_version: int | None = None
    # Mark the prefilled fields as confirmed (saving the row in the grid does).
    confirm: bool = True
    extra: dict = field(default_factory=dict)


def _plan_differs(hc: HandoverClient, row: PlanRow) -> bool:
    if row.clear_planned_visit and hc.planned_visit_on is not None:
        return True
    return any(getattr(row, f) is not None and getattr(row, f) != getattr(hc, f) for f in PLAN_FIELDS)


def _apply_plan(h, hc: HandoverClient, row: PlanRow) -> tuple[list[str], dict[str, str]]:
    """Set the row's fields on hc in memory; return (changed fields, {field: message})."""
    errors: dict[str, str] = {}
    changed: list[str] = []
    for name in ("current_status", "risks", "next_steps"):
        value = getattr(row, name)
        if value is not None and value != getattr(hc, name):
            setattr(hc, name, value)
            changed.append(name)
    day = row.planned_visit_on
    if (day is not None or row.clear_planned_visit) and day != hc.planned_visit_on:
        if day is not None:
            try:
                check_planned_visit(h, day)
            except ValidationError as exc:
                errors["planned_visit_on"] = exc.message_dict["planned_visit_on"][0]
        hc.planned_visit_on = day
        changed.append("planned_visit_on")
    text_changed = [f for f in changed if f != "planned_visit_on"]
    if text_changed:
        try:
            hc.clean_fields(exclude=[f.name for f in HandoverClient._meta.fields if f.name not in text_changed])
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, messages[0])
    return changed, errors


@transaction.atomic
def handover_client_update_plan(
    *,
    handover_client: HandoverClient,
    user: User,
    current_status: str,
    risks: str,
    next_steps: str,
    planned_visit_on: datetime.date | None,
    expected_version: int | None = None,
    expected_row_version: int | None = None,
) -> HandoverClient:
    h = lock_handover(handover_client.handover_id, expected_version)
    if not policy.may_fill_plan(h, user):
        raise NotAllowed(_("Only the departing salesperson fills in the plan."))
    require_state(h, State.PLAN)
    if planned_visit_on:
        check_rule(check_planned_visit, h, planned_visit_on)
    hc = lock_row(h, handover_client, expected_row_version)
    hc.current_status, hc.risks, hc.next_steps, hc.planned_visit_on = (
        current_status,
        risks,
        next_steps,
        planned_visit_on,
    )
    hc.prefilled = []
    hc.save(update_fields=["current_status", "risks", "next_steps", "planned_visit_on", "prefilled"])
    bump_row(hc)
    bump(h)
    log_event(h, actor=user, kind="plan_updated", client=hc.client.name)
    invitations_sync(h, [hc])
    return hc


@transaction.atomic
def plan_save_rows(*, handover, user: User, rows: list[PlanRow], expected_version: int | None = None):
    """Save several clients' rows of the plan together: all of them, or none.

    The rules are those of one row (who may, the state, the visit date's window, the text limits,
    who may receive); each refusal is kept by row and field, a row changed by someone else since
    it was loaded is a conflict of that row only, and nothing is written unless every row passes.
    Rows whose values are unchanged are left alone (no version bump, no timeline line).
    Returns the handover clients that changed.
    """
    h = lock_handover(handover.pk if hasattr(handover, "pk") else handover, expected_version)
    if not policy.may_fill_plan(h, user) and not policy.may_set_receiver(h, user):
        raise NotAllowed(_("Only the departing salesperson fills in the plan."))
    require_state(h, State.PLAN)
    may_fill = policy.may_fill_plan(h, user)
    ids = [r.handover_client_id for r in rows]
    locked = {
        hc.pk: hc
        for hc in HandoverClient.objects.select_for_update()
        .select_related("client", "receiver")
        .filter(handover=h, pk__in=ids)
        .order_by("pk")
    }
    errors: dict[int, dict[str, str]] = {}
    conflicts: set[int] = set()
    refused: set[int] = set()
    work: list[tuple[HandoverClient, PlanRow, list[str]]] = []
    for row in rows:
        key = row.handover_client_id
        hc = locked.get(key)
        if hc is None:
            errors[key] = {"__all__": _("This client is no longer in this handover. Please reload the page.")}
            continue
        if row.row_version is not None and row.row_version != hc.row_version:
            conflicts.add(key)
            errors[key] = {"__all__": row_changed_meanwhile().message}
            continue
        if not may_fill and _plan_differs(hc, row):
            errors[key] = {"__all__": _("Only the departing salesperson fills in the plan.")}
            refused.add(key)
            continue
        changed, row_errors = _apply_plan(h, hc, row)
        if row.receiver is not None and row.receiver.pk != hc.receiver_id:
            if not policy.may_set_receiver(h, user):
                row_errors["receiver"] = _(
                    "Only the departing salesperson or the supervisor may change who receives a client."
                )
                if len(row_errors) == 1:
                    refused.add(key)
            else:
                try:
                    check_receiver(row.receiver, departing=h.departing, h_parties=[h.supervisor, h.manager, h.witness])
                except InvalidInput as exc:
                    row_errors["receiver"] = exc.message
        if row_errors:
            errors[key] = row_errors
            continue
        work.append((hc, row, changed))
    if not errors:
        # The receivers given, together: beyond a receiver's cap, each row giving them a client is refused.
        moving = [(hc, row.receiver) for hc, row, _c in work if row.receiver and row.receiver.pk != hc.receiver_id]
        over = cap_refusals((hc.receiver_id, receiver.pk) for hc, receiver in moving)
        for hc, receiver in moving:
            if receiver.pk in over:
                errors[hc.pk] = {"receiver": over[receiver.pk]}
    if errors:
        labels = {pk: str(hc.client) for pk, hc in locked.items()}
        raise RowErrors(errors, conflicts=conflicts, refused=refused, labels=labels)
    saved = []
    for hc, row, changed in work:
        confirm = row.confirm and may_fill and hc.prefilled
        new_receiver = row.receiver if row.receiver is not None and row.receiver.pk != hc.receiver_id else None
        if not changed and not confirm and new_receiver is None:
            continue
        fields = list(changed)
        if confirm:
            hc.prefilled = []
            fields.append("prefilled")
        if fields:
            hc.save(update_fields=fields)
        if changed:
            log_event(h, actor=user, kind="plan_updated", client=hc.client.name)
        if new_receiver is not None:
            _set_receiver(h, hc, new_receiver, user)
        bump_row(hc)
        saved.append(hc)
    if saved:
        bump(h)
        invitations_sync(h, saved)
    return saved


def _set_receiver(h, hc: HandoverClient, receiver: User, user: User) -> None:
    previous = hc.receiver
    hc.receiver = receiver
    hc.save(update_fields=["receiver"])
    hc.items.update(receiver=receiver, status=ItemStatus.PENDING, handed_over_at=None, confirmed_at=None)
    event = log_event(
        h,
        actor=user,
        kind="receiver_changed",
        client=hc.client.name,
        from_receiver=str(previous),
        to_receiver=str(receiver),
    )
    # A notice sent to the client named the earlier receiver: its senders hear it is outdated.
    notice_receiver_changed(h, hc, event_id=event.pk, user=user)


@transaction.atomic
def handover_client_set_receiver(
    *,
    handover_client: HandoverClient,
    user: User,
    receiver: User,
    expected_version: int | None = None,
    expected_row_version: int | None = None,
) -> HandoverClient:
    h = lock_handover(handover_client.handover_id, expected_version)
    if not policy.may_set_receiver(h, user):
        raise NotAllowed(_("Only the departing salesperson or the supervisor may change who receives a client."))
    require_state(h, State.PLAN)
    check_receiver(receiver, departing=h.departing, h_parties=[h.supervisor, h.manager, h.witness])
    hc = lock_row(h, handover_client, expected_row_version)
    check_caps([(hc.receiver_id, receiver.pk)])
    _set_receiver(h, hc, receiver, user)
    bump_row(hc)
    bump(h)
    invitations_sync(h, [hc])
    return hc


@transaction.atomic
def handover_client_drop(
    *, handover_client: HandoverClient, user: User, reason: str, expected_version: int | None = None
) -> Event:
    """The supervisor takes out of the handover a client the departing person no longer owns.

    Completion moves only what the departing person still owns, so such a client would stop it.
    The client leaves with its items, visits and calls (each of those records is about handing it
    over, which no longer happens); the timeline keeps the client, what was removed and why.
    Signatures over the checklist no longer match and are given again.
    """
    h = lock_handover(handover_client.handover_id, expected_version)
    if not policy.may_drop_client(h, user):
        raise NotAllowed(_("Only the supervisor of this handover may remove a client from it."))
    require_state(h, *OPEN_STATES)
    hc = HandoverClient.objects.select_related("client__owner", "receiver").filter(pk=handover_client.pk).first()
    if hc is None or hc.handover_id != h.pk:
        raise WrongState(_("This client is no longer in this handover. Please reload the page."))
    client = hc.client
    if client.owner_id == h.departing_id:
        raise InvalidInput(
            _(
                "%(client)s still belongs to %(departing)s and is handed over with the others; only a client "
                "that has left the departing salesperson's book can be removed."
            )
            % {"client": client.name, "departing": h.departing}
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            _("Please give the reason for removing this client; it stays on the timeline."), field="reason"
        )
    removed = {
        "items_removed": hc.items.count(),
        "visits_removed": hc.visits.count(),
        "calls_removed": hc.phone_checks.count(),
    }
    # Off both salespeople's calendars before the row goes.
    invitations_sync(h, [hc], leaving=True)
    hc.delete()
    if h.state in (State.REPORT_REVIEW, State.REPORT_APPROVAL):
        # The submitted figures counted this client; the report signed from here on must not.
        Report.objects.filter(handover=h).update(figures=selectors.report_figures(h))
    bump(h)
    return log_event(
        h,
        actor=user,
        kind="client_dropped",
        comment=reason,
        client=client.name,
        credit_code=client.credit_code,
        owner=str(client.owner),
        receiver=str(hc.receiver),
        in_sample=hc.in_sample,
        **removed,
    )
