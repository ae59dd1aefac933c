"""Every write to a handover goes through here; the UI and the API call these and nothing else.

Services lock the handover row, check who is acting and in which state, change the rows
together in one transaction, write the timeline, and queue notices after commit.
"""

import contextlib
import datetime
import hashlib
import logging
import math
import os
import random
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed

from accounts import auth
from accounts.models import User
from accounts.roles import Role
from accounts.tokens import api_tokens_delete
from clients.models import (
    Client,
    OwnershipChange,
)
from clients.ownership import OwnershipRefusals
from clients.selectors import open_business_by_client

from . import codes, flow, policy, seal, selectors, signing
from .models import (
    DEFAULT_STATE_DAYS,
    OPEN_STATES,
    SIGNED_AT,
    STANDARD_KINDS,
    TRANSITIONS,
    ArchivedDocument,
    CallResult,
    ChecklistItem,
    ChecklistTemplateItem,
    DocumentTemplate,
    Duty,
    DutyKind,
    Event,
    Handover,
    HandoverClient,
    ItemKind,
    ItemStatus,
    PhoneCheck,
    Report,
    Signature,
    SignatureMethod,
    SignaturePurpose,
    StageDeadline,
    StageDuration,
    State,
    Visit,
    VisitMode,
    add_working_days,
    approver_signed,
    check_handover_dates,
    check_planned_visit,
    check_visit_date,
)
from .notify import notice_for_event
from .reminders import duties_create

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Errors. Each carries a message for a person; the API maps them to 400/403/404/409.


class HandoverError(Exception):
    status = 400

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = str(message)
        self.field = field


class InvalidInput(HandoverError):
    status = 400


class NotAllowed(HandoverError, PermissionDenied):
    status = 403


class WrongState(HandoverError):
    status = 409


class Conflict(HandoverError):
    status = 409


def _conflict() -> Conflict:
    return Conflict(_("This handover was changed by someone else in the meantime. Please reload the page."))


def _lock(handover: Handover | int, expected_version: int | None = None) -> Handover:
    pk = handover.pk if isinstance(handover, Handover) else handover
    locked = Handover.objects.select_for_update().get(pk=pk)
    if expected_version is not None and locked.version != expected_version:
        raise _conflict()
    return locked


def _bump(h: Handover) -> None:
    h.version += 1
    try:
        h.save()
    except ConcurrentTransition as exc:
        raise _conflict() from exc


def _event(h: Handover, *, actor, kind: str, comment: str = "", from_state: str = "", to_state: str = "", **data):
    return Event.objects.create(
        handover=h, actor=actor, kind=kind, comment=comment, from_state=from_state, to_state=to_state, data=data
    )


def _check(rule, *args, **kwargs) -> None:
    """Ask one of the models' rules; its refusal becomes an InvalidInput naming the field."""
    try:
        rule(*args, **kwargs)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], field=field) from exc


def _require_state(h: Handover, *states: str) -> None:
    if h.state not in states:
        raise WrongState(
            _("This cannot be done while the handover is at “%(state)s”. Please reload the page.")
            % {"state": h.get_state_display()}
        )


# ---------------------------------------------------------------------------------------
# Starting a handover


def _hold(*people: User) -> None:
    """Lock these people's rows until the commit, in id order (as clients.ownership does).

    Whether someone is leaving, receiving, or being given clients is checked and then written in
    different rows; holding the person makes two such changes for the same person take turns.
    """
    ids = sorted({p.pk for p in people})
    list(User.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def _check_receiver(user: User, *, departing: User, h_parties: list[User]) -> None:
    _hold(user)
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


def open_handover_receiving(person: User) -> Handover | None:
    """The open handover whose clients or items are still coming to this person, if any.

    Its completion would give them clients after their own handover had been built without them.
    """
    coming = Q(receiver=person)
    coming |= Exists(HandoverClient.objects.filter(handover=OuterRef("pk"), receiver=person))
    coming |= Exists(ChecklistItem.objects.filter(handover=OuterRef("pk"), receiver=person))
    return (
        Handover.objects.filter(state__in=OPEN_STATES)
        .filter(coming)
        .select_related("departing")
        .order_by("number")
        .first()
    )


def _next_number(today: datetime.date) -> str:
    prefix = f"JJ{today:%Y%m}-"
    last = Handover.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True)
    n = int(last[0].rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{n:04d}"


NUMBER_ATTEMPTS = 10


def _create_numbered(today: datetime.date, *, departing: User, **fields) -> Handover:
    """Create the handover under the next free number.

    Two starts at the same moment read the same highest number; the unique number refuses the
    second, which then draws again. A refusal by the one-open-handover-per-person constraint
    is told apart by looking: only that one means the person already has an open handover.
    """
    for _attempt in range(NUMBER_ATTEMPTS):
        number = _next_number(today)
        try:
            with transaction.atomic():
                return Handover.objects.create(number=number, departing=departing, **fields)
        except IntegrityError as exc:
            if Handover.objects.filter(departing=departing, state__in=OPEN_STATES).exists():
                # Two people starting the same person's handover at once: the constraint keeps one.
                raise Conflict(_("%(name)s already has an open handover.") % {"name": departing}) from exc
            if not Handover.objects.filter(number=number).exists():
                raise
    raise Conflict(_("Many handovers are being started at this moment. Please try again."))


def stage_deadlines(*, start: datetime.date, last_working_day: datetime.date) -> dict[str, datetime.date]:
    """Due date per state, from the company's durations, never later than the last working day."""
    durations = {**DEFAULT_STATE_DAYS, **dict(StageDuration.objects.values_list("state", "working_days"))}
    due, current = {}, start
    for state in DEFAULT_STATE_DAYS:
        days = durations[state]
        current = add_working_days(current, days)
        due[state] = min(current, last_working_day)
    return due


@transaction.atomic
def handover_start(
    *,
    started_by: User,
    departing: User,
    receiver: User,
    witness: User,
    manager: User,
    reason: str,
    notice_date: datetime.date,
    last_working_day: datetime.date,
    supervisor: User | None = None,
) -> Handover:
    if not policy.may_start_handover(started_by, departing):
        raise NotAllowed(_("Only HR or the departing person's supervisor may start a handover."))
    _hold(departing, receiver)
    receiving = open_handover_receiving(departing)
    if receiving is not None:
        raise InvalidInput(
            _(
                "%(name)s is a receiver in handover %(number)s (%(departing)s); "
                "a handover cannot be started for them until that one is completed."
            )
            % {"name": departing, "number": receiving.number, "departing": receiving.departing},
            field="departing",
        )
    supervisor = supervisor or departing.supervisor
    if supervisor is None:
        raise InvalidInput(_("The departing salesperson has no direct supervisor; choose one."), field="supervisor")
    for field, person, label in [
        ("supervisor", supervisor, _("supervisor")),
        ("witness", witness, _("witness")),
        ("manager", manager, _("manager in charge")),
    ]:
        if person.pk == departing.pk:
            raise InvalidInput(
                _("The departing salesperson cannot be the %(role)s of their own handover.") % {"role": label},
                field=field,
            )
    if not supervisor.has_role(Role.SUPERVISOR):
        raise InvalidInput(_("%(name)s does not hold the supervisor role.") % {"name": supervisor}, field="supervisor")
    if not witness.has_role(Role.WITNESS):
        raise InvalidInput(_("%(name)s does not hold the witness role.") % {"name": witness}, field="witness")
    if not manager.has_role(Role.MANAGER):
        raise InvalidInput(_("%(name)s does not hold the manager role.") % {"name": manager}, field="manager")
    _check_receiver(receiver, departing=departing, h_parties=[supervisor, manager, witness])
    today = timezone.localdate()
    _check(check_handover_dates, notice_date=notice_date, last_working_day=last_working_day, today=today)
    if Handover.objects.filter(departing=departing, state__in=OPEN_STATES).exists():
        raise InvalidInput(_("%(name)s already has an open handover.") % {"name": departing}, field="departing")

    h = _create_numbered(
        today,
        departing=departing,
        receiver=receiver,
        supervisor=supervisor,
        witness=witness,
        manager=manager,
        reason=reason,
        notice_date=notice_date,
        last_working_day=last_working_day,
        started_by=started_by,
    )

    _build_checklist(h)
    StageDeadline.objects.bulk_create(
        StageDeadline(handover=h, state=state, due_on=due)
        for state, due in stage_deadlines(start=max(today, notice_date), last_working_day=last_working_day).items()
    )
    # The report starts from the company's template, if it keeps one.
    template = DocumentTemplate.objects.filter(kind=DocumentTemplate.Kind.REPORT).first()
    Report.objects.create(handover=h, summary=template.body if template else "")
    event = _event(h, actor=started_by, kind="started", to_state=h.state, clients=h.clients.count())
    notice_for_event(h, event_id=event.pk, kind="started", actor=started_by)
    return h


def _build_checklist(h: Handover) -> None:
    clients = list(Client.objects.filter(owner=h.departing).order_by("grade", "name", "id"))
    HandoverClient.objects.bulk_create(
        HandoverClient(handover=h, client=c, receiver=h.receiver, grade=c.grade) for c in clients
    )
    by_client = {hc.client_id: hc for hc in h.clients.all()}
    items: list[ChecklistItem] = []

    def add(hc, kind, title, **extra):
        items.append(
            ChecklistItem(
                handover=h, handover_client=hc, kind=kind, title=title, receiver=h.receiver, order=len(items), **extra
            )
        )

    business = open_business_by_client(c.pk for c in clients)
    for c in clients:
        hc = by_client[c.pk]
        add(hc, ItemKind.CLIENT, c.name, description=c.credit_code)
        for contract in business.contracts[c.pk]:
            add(
                hc,
                ItemKind.CONTRACT,
                f"{contract.number} {contract.name}",
                contract=contract,
                storage_location=contract.original_location,
                description=_("Amount %(amount)s, paid %(paid)s")
                % {"amount": contract.amount, "paid": contract.amount_paid},
            )
        for r in business.receivables[c.pk]:
            add(
                hc,
                ItemKind.RECEIVABLE,
                _("Receivable %(number)s due %(date)s") % {"number": r.contract.number, "date": r.due_date},
                receivable=r,
                description=_("Outstanding %(amount)s") % {"amount": r.outstanding},
            )
        for o in business.deals[c.pk]:
            add(hc, ItemKind.OPPORTUNITY, o.name, opportunity=o, description=o.get_stage_display())
    for t in ChecklistTemplateItem.objects.filter(active=True, kind__in=STANDARD_KINDS):
        add(None, t.kind, t.title, description=t.description, storage_location=t.storage_location)
    ChecklistItem.objects.bulk_create(items)


# ---------------------------------------------------------------------------------------
# The plan


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
) -> HandoverClient:
    h = _lock(handover_client.handover_id, expected_version)
    if not policy.may_fill_plan(h, user):
        raise NotAllowed(_("Only the departing salesperson fills in the plan."))
    _require_state(h, State.PLAN)
    if planned_visit_on:
        _check(check_planned_visit, h, planned_visit_on)
    hc = HandoverClient.objects.get(pk=handover_client.pk)
    hc.current_status, hc.risks, hc.next_steps, hc.planned_visit_on = (
        current_status,
        risks,
        next_steps,
        planned_visit_on,
    )
    hc.save(update_fields=["current_status", "risks", "next_steps", "planned_visit_on"])
    _bump(h)
    _event(h, actor=user, kind="plan_updated", client=hc.client.name)
    return hc


@transaction.atomic
def handover_client_set_receiver(
    *, handover_client: HandoverClient, user: User, receiver: User, expected_version: int | None = None
) -> HandoverClient:
    h = _lock(handover_client.handover_id, expected_version)
    if not policy.may_set_receiver(h, user):
        raise NotAllowed(_("Only the departing salesperson or the supervisor may change who receives a client."))
    _require_state(h, State.PLAN)
    _check_receiver(receiver, departing=h.departing, h_parties=[h.supervisor, h.manager, h.witness])
    hc = HandoverClient.objects.select_related("receiver", "client").get(pk=handover_client.pk)
    previous = hc.receiver
    hc.receiver = receiver
    hc.save(update_fields=["receiver"])
    hc.items.update(receiver=receiver, status=ItemStatus.PENDING, handed_over_at=None, confirmed_at=None)
    _bump(h)
    _event(
        h,
        actor=user,
        kind="receiver_changed",
        client=hc.client.name,
        from_receiver=str(previous),
        to_receiver=str(receiver),
    )
    return hc


# ---------------------------------------------------------------------------------------
# Materials


@transaction.atomic
def item_hand_over(*, item: ChecklistItem, user: User, note: str = "", expected_version: int | None = None):
    h = _lock(item.handover_id, expected_version)
    if not policy.may_hand_over_items(h, user):
        raise NotAllowed(_("Only the departing salesperson hands items over."))
    _require_state(h, State.MATERIALS)
    item = ChecklistItem.objects.get(pk=item.pk)
    if item.status not in (ItemStatus.PENDING, ItemStatus.DISPUTED):
        raise WrongState(_("This item has already been handed over."))
    item.status, item.handed_over_at, item.confirmed_at = ItemStatus.HANDED_OVER, timezone.now(), None
    item.save(update_fields=["status", "handed_over_at", "confirmed_at"])
    _bump(h)
    _event(h, actor=user, kind="item_handed_over", comment=note, item=item.title)
    return item


@transaction.atomic
def items_hand_over_all(*, handover: Handover, user: User, expected_version: int | None = None) -> int:
    h = _lock(handover, expected_version)
    if not policy.may_hand_over_items(h, user):
        raise NotAllowed(_("Only the departing salesperson hands items over."))
    _require_state(h, State.MATERIALS)
    n = h.items.filter(status=ItemStatus.PENDING).update(status=ItemStatus.HANDED_OVER, handed_over_at=timezone.now())
    if n == 0:
        # Refused like confirm-all with nothing waiting: a no-op must not bump the version (which
        # makes every open page stale) nor write an empty event.
        raise InvalidInput(_("There is nothing left to hand over."))
    _bump(h)
    _event(h, actor=user, kind="items_handed_over", count=n)
    return n


def _receiver_item(h: Handover, item: ChecklistItem, user: User) -> ChecklistItem:
    item = ChecklistItem.objects.get(pk=item.pk)
    if not policy.may_answer_for_item(item, user):
        raise NotAllowed(_("Only this item's receiver may confirm or dispute it."))
    _require_state(h, State.MATERIALS)
    if item.status != ItemStatus.HANDED_OVER:
        raise WrongState(_("Only an item that has been handed over can be confirmed or disputed."))
    return item


@transaction.atomic
def item_confirm(*, item: ChecklistItem, user: User, expected_version: int | None = None) -> ChecklistItem:
    h = _lock(item.handover_id, expected_version)
    item = _receiver_item(h, item, user)
    item.status, item.confirmed_at, item.dispute_reason = ItemStatus.CONFIRMED, timezone.now(), ""
    item.save(update_fields=["status", "confirmed_at", "dispute_reason"])
    _bump(h)
    _event(h, actor=user, kind="item_confirmed", item=item.title)
    return item


@transaction.atomic
def items_confirm_all(*, handover: Handover, user: User, expected_version: int | None = None) -> int:
    h = _lock(handover, expected_version)
    _require_state(h, State.MATERIALS)
    n = h.items.filter(receiver=user, status=ItemStatus.HANDED_OVER).update(
        status=ItemStatus.CONFIRMED, confirmed_at=timezone.now(), dispute_reason=""
    )
    if n == 0:
        raise InvalidInput(_("There is nothing handed over to you waiting for confirmation."))
    _bump(h)
    _event(h, actor=user, kind="items_confirmed", count=n)
    return n


@transaction.atomic
def item_dispute(*, item: ChecklistItem, user: User, reason: str, expected_version: int | None = None):
    if not (reason or "").strip():
        raise InvalidInput(_("Please give the reason for the dispute."), field="reason")
    h = _lock(item.handover_id, expected_version)
    item = _receiver_item(h, item, user)
    item.status, item.dispute_reason, item.confirmed_at = ItemStatus.DISPUTED, reason.strip(), None
    item.save(update_fields=["status", "dispute_reason", "confirmed_at"])
    _bump(h)
    event = _event(h, actor=user, kind="item_disputed", comment=item.dispute_reason, item=item.title)
    notice_for_event(h, event_id=event.pk, kind="item_disputed", actor=user, comment=item.dispute_reason)
    return item


# ---------------------------------------------------------------------------------------
# Joint visits


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
) -> Visit:
    h = _lock(handover_client.handover_id, expected_version)
    hc = HandoverClient.objects.select_related("client").get(pk=handover_client.pk)
    if not policy.may_record_visit(h, hc, user):
        raise NotAllowed(_("Only the departing salesperson and this client's receiver record the visit."))
    _require_state(h, State.VISITS)
    if mode not in VisitMode.values:
        raise InvalidInput(_("Choose how the client was met."), field="mode")
    _check(check_visit_date, visited_on, today=timezone.localdate())
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
    _bump(h)
    _event(h, actor=user, kind="visit_recorded", client=hc.client.name, mode=mode, visited_on=str(visited_on))
    return visit


@transaction.atomic
def visit_confirm(*, visit: Visit, user: User, expected_version: int | None = None) -> Visit:
    visit = Visit.objects.select_related("handover_client__client").get(pk=visit.pk)
    hc = visit.handover_client
    h = _lock(hc.handover_id, expected_version)
    _require_state(h, State.VISITS)
    if visit.superseded:
        raise WrongState(_("This visit record has been superseded; record a new visit."))
    if user.pk == h.departing_id and visit.departing_confirmed_at is None:
        visit.departing_confirmed_at = timezone.now()
    elif user.pk == hc.receiver_id and visit.receiver_confirmed_at is None:
        visit.receiver_confirmed_at = timezone.now()
    else:
        raise NotAllowed(_("Only the other salesperson of this visit may confirm it."))
    visit.save(update_fields=["departing_confirmed_at", "receiver_confirmed_at"])
    _bump(h)
    _event(h, actor=user, kind="visit_confirmed", client=hc.client.name)
    return visit


# ---------------------------------------------------------------------------------------
# Phone spot-check


def sample_size(n_others: int) -> int:
    """Of the clients below grade A: at least 20% and at least 3 (or all of them, if fewer)."""
    return min(n_others, max(3, math.ceil(n_others * 0.2)))


def draw_sample(hcs: list[HandoverClient], seed: int) -> set[int]:
    """The ids drawn: every A client plus a random share of the others. Same seed, same draw."""
    a_clients = [hc.pk for hc in hcs if hc.grade == "A"]
    others = sorted(hc.pk for hc in hcs if hc.grade != "A")
    return set(a_clients) | set(random.Random(seed).sample(others, sample_size(len(others))))


def _draw_sample(h: Handover) -> None:
    if h.sample_seed is not None:
        return
    h.sample_seed = random.SystemRandom().randrange(2**62)
    h.sample_drawn_at = timezone.now()
    drawn = draw_sample(list(h.clients.all()), h.sample_seed)
    h.clients.filter(pk__in=drawn).update(in_sample=True)


@transaction.atomic
def phone_check_record(
    *, handover_client: HandoverClient, user: User, result: str, note: str = "", expected_version: int | None = None
) -> PhoneCheck:
    h = _lock(handover_client.handover_id, expected_version)
    if not policy.may_record_call(h, user):
        raise NotAllowed(_("Only the witness records the spot-check calls."))
    _require_state(h, State.SPOT_CHECK)
    hc = HandoverClient.objects.select_related("client").get(pk=handover_client.pk)
    if not hc.in_sample:
        raise InvalidInput(_("This client was not drawn for the spot-check."))
    if result not in CallResult.values:
        raise InvalidInput(_("Choose the result of the call."), field="result")
    if result != CallResult.CONFIRMED and not note.strip():
        raise InvalidInput(_("Please note what the client said."), field="note")
    check = PhoneCheck.objects.create(handover_client=hc, result=result, note=note.strip(), witness=user)
    _bump(h)
    _event(h, actor=user, kind="phone_check", comment=note, client=hc.client.name, result=result)
    return check


# ---------------------------------------------------------------------------------------
# The report


@transaction.atomic
def report_update(
    *,
    handover: Handover,
    user: User,
    summary: str,
    open_risks: str = "",
    advice: str = "",
    expected_version: int | None = None,
) -> Report:
    h = _lock(handover, expected_version)
    if not policy.may_write_report(h, user):
        raise NotAllowed(_("Only the departing salesperson writes the report."))
    _require_state(h, State.REPORT)
    report, _created = Report.objects.get_or_create(handover=h)
    report.summary, report.open_risks, report.advice = summary, open_risks, advice
    report.save()
    _bump(h)
    _event(h, actor=user, kind="report_updated")
    return report


# ---------------------------------------------------------------------------------------
# A client that left the departing person's book before completion


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
    h = _lock(handover_client.handover_id, expected_version)
    if not policy.may_drop_client(h, user):
        raise NotAllowed(_("Only the supervisor of this handover may remove a client from it."))
    _require_state(h, *OPEN_STATES)
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
    hc.delete()
    if h.state in (State.REPORT_REVIEW, State.REPORT_APPROVAL):
        # The submitted figures counted this client; the report signed from here on must not.
        Report.objects.filter(handover=h).update(figures=selectors.report_figures(h))
    _bump(h)
    return _event(
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


# ---------------------------------------------------------------------------------------
# Completion: every client moves to its receiver in one transaction


def _left_book_conflict(h: Handover, names: list[str]) -> Conflict:
    return Conflict(
        _(
            "%(n)d client(s) of this handover no longer belong to the departing salesperson: %(names)s. "
            "The supervisor (%(supervisor)s) removes them from the handover on its page, with the reason; "
            "then the handover can be completed."
        )
        % {"n": len(names), "names": "、".join(names[:5]) + ("…" if len(names) > 5 else ""), "supervisor": h.supervisor}
    )


def _transfer_ownership(h: Handover, user: User) -> int:
    now = timezone.now()
    left = list(
        Client.objects.filter(handover_entries__handover=h)
        .exclude(owner_id=h.departing_id)
        .order_by("name")
        .values_list("name", flat=True)
    )
    if left:
        raise _left_book_conflict(h, left)
    hcs = list(h.clients.select_related("client"))
    by_receiver: dict[int, list[int]] = defaultdict(list)
    for hc in hcs:
        by_receiver[hc.receiver_id].append(hc.client_id)
    # Only clients the departing person still owns move; anything else changed hands meanwhile.
    moved = 0
    for receiver_id, client_ids in by_receiver.items():
        moved += Client.objects.filter(pk__in=client_ids, owner_id=h.departing_id).update(
            owner_id=receiver_id, updated_at=now
        )
    if moved != len(hcs):
        # One changed hands between the check above and the update.
        raise Conflict(_("Some clients of this handover no longer belong to the departing salesperson."))
    OwnershipChange.objects.bulk_create(
        OwnershipChange(
            client_id=hc.client_id,
            from_owner_id=h.departing_id,
            to_owner_id=hc.receiver_id,
            changed_at=now,
            reason=_("Handover %(number)s") % {"number": h.number},
            changed_by=user,
        )
        for hc in hcs
    )
    return moved


# ---------------------------------------------------------------------------------------
# Signatures


@dataclass(frozen=True)
class SignatureInput:
    """A signature as a person gives it: drawn (a PNG data URL) or typed, and their password again."""

    method: str
    password: str = ""
    typed_name: str = ""
    image: str = ""
    ip_address: str | None = None
    user_agent: str = ""


def _check_password(user: User, signature: SignatureInput) -> None:
    """The password again, throttled like the login page: signing is no way round its lockout."""
    attempt = auth.LoginAttempt(user.username, signature.ip_address or "")
    if attempt.refused_for:
        raise InvalidInput(auth.lockout_message(attempt.refused_for), field="password")
    if not user.check_password(signature.password or ""):
        attempt.failed()
        raise InvalidInput(_("The password is not correct; nothing was signed."), field="password")
    attempt.succeeded()


def _make_signature(h: Handover, *, user: User, purpose: str, signature: SignatureInput | None) -> Signature:
    """Check the signature given and store it against the data as it is now. The caller bumps and logs."""
    if signature is None:
        raise InvalidInput(
            _("Sign first: draw your signature or type your full name, and enter your password."), field="signature"
        )
    if signature.method not in SignatureMethod.values:
        raise InvalidInput(_("Choose how to sign: draw your signature or type your full name."), field="method")
    _check_password(user, signature)
    image, typed_name = b"", ""
    if signature.method == SignatureMethod.DRAWN:
        try:
            image = signing.signature_png(signature.image)
        except signing.BadImage as exc:
            raise InvalidInput(str(exc), field="image") from exc
    else:
        typed_name = " ".join((signature.typed_name or "").split())
        if not typed_name or typed_name != user.display_name:
            raise InvalidInput(
                _("Type your full name exactly as the system knows it: %(name)s.") % {"name": user.display_name},
                field="typed_name",
            )
    checker = signing.checker_for(h)
    content_sha256 = checker.content.sha256(purpose, user.pk)
    now = timezone.now()
    # The person's earlier signature for this purpose stays on record, no longer current.
    Signature.objects.filter(handover=h, signer=user, purpose=purpose, superseded_at__isnull=True).update(
        superseded_at=now
    )
    sig = Signature.objects.create(
        handover=h,
        signer=user,
        purpose=purpose,
        method=signature.method,
        typed_name=typed_name,
        image=image,
        content_sha256=content_sha256,
        handover_state=h.state,
        handover_version=h.version,
        signed_at=now,
        ip_address=signature.ip_address or None,
        user_agent=(signature.user_agent or "")[:300],
    )
    checker.record(sig)
    return sig


@transaction.atomic
def handover_sign(
    *,
    handover: Handover | int,
    user: User,
    purpose: str,
    signature: SignatureInput,
    expected_version: int | None = None,
) -> Signature:
    """A signature the procedure asks for on its own: a receiver's receipt of the materials, a
    receiver's record of the joint visits, a party's signature on the final checklist. Approvals
    are signed with handover_transition(signature=...)."""
    if purpose not in SIGNED_AT:
        if purpose in SignaturePurpose.values:
            raise InvalidInput(_("An approval is signed together with the approval itself."), field="purpose")
        raise InvalidInput(_("Unknown signature purpose “%(purpose)s”.") % {"purpose": purpose}, field="purpose")
    h = _lock(handover, expected_version)
    _require_state(h, SIGNED_AT[purpose])
    checker = signing.checker_for(h)
    if user.pk not in checker.required_signers(purpose):
        raise NotAllowed(_("You are not asked to sign this for this handover."))
    unmet = flow.sign_unmet_message(purpose, signing.Facts(h, checker, signer_id=user.pk))
    if unmet:
        raise InvalidInput(unmet)
    existing = checker.current(purpose, user.pk)
    if existing is not None and checker.is_valid(existing):
        raise WrongState(_("You have already signed this, and nothing has changed since."))
    sig = _make_signature(h, user=user, purpose=purpose, signature=signature)
    _bump(h)
    _event(h, actor=user, kind="signed", purpose=purpose, method=sig.method, sha256=sig.content_sha256)
    return sig


# ---------------------------------------------------------------------------------------
# Transitions


def _condition_message(h: Handover, name: str) -> str:
    return flow.unmet_message(name, signing.Facts(h))


@transaction.atomic
def handover_transition(
    *,
    handover: Handover | int,
    name: str,
    user: User,
    comment: str = "",
    expected_version: int | None = None,
    signature: SignatureInput | None = None,
) -> Handover:
    """Run one transition. An approval (the flow spec's `signature`) needs the approver's signature,
    given here and stored in the same transaction: no approval without it, no signature without
    the approval."""
    if name not in TRANSITIONS:
        raise InvalidInput(_("Unknown step “%(name)s”.") % {"name": name})
    h = _lock(handover, expected_version)
    method = getattr(h, name)
    if not can_proceed(method, check_conditions=False):
        raise WrongState(
            _("This cannot be done while the handover is at “%(state)s”. Please reload the page.")
            % {"state": h.get_state_display()}
        )
    # Who may act is asked apart from the conditions, so the refused person hears "not yours",
    # and the right person hears what is missing.
    if not method._django_fsm.has_transition_perm(h, h.state, user):
        raise NotAllowed(_("You may not do this step of this handover."))
    if not selectors.conditions_met(h, name, skip={approver_signed}):
        raise InvalidInput(_condition_message(h, name))
    spec = flow.TRANSITIONS[name]
    comment = (comment or "").strip()
    if spec.reason and not comment:
        raise InvalidInput(_("Please give a reason; the person who must act next will read it."), field="comment")
    signed = None
    if spec.signature:
        signed = _make_signature(h, user=user, purpose=spec.signature, signature=signature)
    if not can_proceed(method):
        raise InvalidInput(_condition_message(h, name))

    from_state = h.state
    if spec.reason:
        method(reason=comment)
    else:
        method()
    for hook in spec.after:
        AFTER_TRANSITION[hook](h, user)

    _bump(h)
    extra = {"signature": signed.pk, "sha256": signed.content_sha256} if signed else {}
    event = _event(
        h, actor=user, kind="transition", from_state=from_state, to_state=h.state, comment=comment, name=name, **extra
    )
    notice_for_event(h, event_id=event.pk, kind=name, actor=user, comment=comment)
    return h


# What follows a transition, by the names the flow spec gives in its `after`.


def _supersede_unaware(h: Handover, user: User) -> None:
    ids = [hc.pk for hc in h.spot_check_outcome()[1]]
    # The client did not know: the visit did not really happen and must be done again.
    Visit.objects.filter(handover_client_id__in=ids).update(superseded=True)
    # Their calls stay in the record but no longer count: after the new visit the witness calls again.
    PhoneCheck.objects.filter(handover_client_id__in=ids).update(superseded=True)


def _fill_report_figures(h: Handover, user: User) -> None:
    Report.objects.filter(handover=h).update(figures=selectors.report_figures(h))


def _queue_archive_after_commit(h: Handover, user: User) -> None:
    # The manager's signature was the last: print, seal and archive the confirmation after the commit.
    handover_id = h.pk
    transaction.on_commit(lambda: _queue_archive(handover_id))


AFTER_TRANSITION = {
    "draw_sample": lambda h, user: _draw_sample(h),
    "supersede_unaware": _supersede_unaware,
    "fill_report_figures": _fill_report_figures,
    "transfer_ownership": _transfer_ownership,
    "create_duties": lambda h, user: duties_create(h),
    "queue_archive": _queue_archive_after_commit,
}


def ownership_refusals(*, client_ids: set[int], owner_ids: set[int]) -> OwnershipRefusals:
    """The procedure's guard on owner changes outside it (registered with clients.ownership).

    A client inside an open handover changes hands only at that handover's completion; someone
    leaving in an open handover is given no more clients, which would stay with them after they left.
    """
    refusals = OwnershipRefusals()
    ids = sorted(client_ids)
    for start in range(0, len(ids), 500):
        entries = HandoverClient.objects.filter(
            client_id__in=ids[start : start + 500], handover__state__in=OPEN_STATES
        ).select_related("client", "handover__departing")
        for hc in entries:
            refusals.clients[hc.client_id] = _(
                "%(client)s is in handover %(number)s (%(departing)s), which is still open; "
                "it changes hands only when that handover is completed."
            ) % {"client": hc.client.name, "number": hc.handover.number, "departing": hc.handover.departing}
    if owner_ids:
        for h in Handover.objects.filter(departing_id__in=owner_ids, state__in=OPEN_STATES).select_related("departing"):
            refusals.owners[h.departing_id] = _(
                "%(name)s is leaving (handover %(number)s is open) and cannot be given clients."
            ) % {"name": h.departing, "number": h.number}
    return refusals


# ---------------------------------------------------------------------------------------
# After completion


@transaction.atomic
def handover_revoke_access(*, handover: Handover, user: User) -> int:
    """HR ends the departed person's system access and closes the revoke duty."""
    if not policy.may_revoke_access(handover, user):
        raise NotAllowed(_("Only HR revokes system accounts."))
    h = _lock(handover)
    _require_state(h, State.COMPLETED)
    duties = Duty.objects.select_for_update().filter(handover=h, kind=DutyKind.REVOKE_ACCOUNTS, done_at__isnull=True)
    if not duties.exists():
        raise WrongState(_("The system accounts of this handover have already been revoked."))
    User.objects.filter(pk=h.departing_id).update(is_active=False)
    # Tokens for the API die with the account (a bulk update sends no signal to do it).
    api_tokens_delete(user_ids=[h.departing_id])
    n = duties.update(done_at=timezone.now(), done_by=user)
    _bump(h)
    _event(h, actor=user, kind="access_revoked")
    return n


# ---------------------------------------------------------------------------------------
# The archived confirmation: printed once when the last signature lands, sealed, never replaced


# The Celery tasks sit above the services (they call them): HandoverConfig.ready() hands the
# archive task's queueing down here, rather than this module importing handover/tasks.py.
_archive_queue: list = []


def queue_archive_with(enqueue) -> None:
    _archive_queue[:] = [enqueue]


def _queue_archive(handover_id: int) -> bool:
    try:
        _archive_queue[0](handover_id)
    except Exception:  # noqa: BLE001 - a broker that is down must not fail the approval; the scan retries
        logger.warning("could not queue the archive of handover %s; the scan will retry", handover_id, exc_info=True)
        return False
    return True


def archives_queue_missing() -> int:
    """Queue the archive of every completed handover that has none; the periodic scan calls it.

    Its queueing at completion may have failed (broker down) or its run may have (seal missing).
    Several scans at once queue the same handover more than once: handover_archive is idempotent
    under the row lock, so the duplicates find the archive made and change nothing.
    """
    missing = list(
        Handover.objects.filter(state=State.COMPLETED, archive__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    if not missing:
        return 0
    try:
        seal.require_configured()
    except seal.SealNotConfigured as exc:
        # Once a scan, not once a handover: nothing can be archived until the seal is in place.
        logger.warning("%d completed handovers wait for their archive: %s", len(missing), exc)
        return 0
    queued = 0
    for handover_id in missing:
        if not _queue_archive(handover_id):
            break  # the broker is down: the next scan tries again
        queued += 1
    return queued


def archive_name(h: Handover) -> str:
    # Under the field's upload_to (archive/): one name per handover, so a second file cannot sit beside it.
    return f"{h.number}.pdf"


def handover_archive(*, handover_id: int) -> ArchivedDocument:
    """Render the signed confirmation of a completed handover, seal it, store it with its hash.

    Idempotent: a handover already archived returns its archive untouched. The PDF is rendered
    and sealed before the handover row is locked (it takes seconds for a large book); the
    lock then decides who stores it, and the write-once storage refuses a second file.
    """
    # WeasyPrint takes about a second to load: the PDF module is loaded on the first archive, not at start.
    from . import pdf

    existing = ArchivedDocument.objects.filter(handover_id=handover_id).first()
    if existing is not None:
        return existing
    h = Handover.objects.get(pk=handover_id)
    _require_state(h, State.COMPLETED)
    seal.require_configured()
    code = codes.new_verification_code()
    while ArchivedDocument.objects.filter(verification_code=code).exists():
        code = codes.new_verification_code()
    sealed = seal.seal_pdf(pdf.render_confirmation(h, verification_code=code))
    digest = hashlib.sha256(sealed.data).hexdigest()

    written = None
    try:
        with transaction.atomic():
            h = _lock(h)
            existing = ArchivedDocument.objects.filter(handover=h).first()
            if existing is not None:
                return existing
            doc = ArchivedDocument(
                handover=h,
                sha256=digest,
                size=len(sealed.data),
                verification_code=code,
                sealed=True,
                seal_signer=sealed.signer[:300],
            )
            try:
                doc.file.save(archive_name(h), ContentFile(sealed.data), save=False)
            except FileExistsError as exc:
                raise Conflict(
                    _("An archived file for %(number)s already exists; it is never overwritten.") % {"number": h.number}
                ) from exc
            written = doc.file.path
            doc.save()
            _event(h, actor=None, kind="archived", sha256=digest, code=code)
    except BaseException:
        # The row did not make it: take back the file we wrote, so a retry can write it.
        if written:
            with contextlib.suppress(OSError):
                os.remove(written)
        raise
    return doc
