"""Starting a handover: the checks on the people, its number, its deadlines, and the checklist built
from the departing person's book."""

import datetime
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from clients.models import Client
from clients.money import format_money
from clients.selectors import open_business_by_client

from .. import policy, split
from ..models import (
    DEFAULT_STATE_DAYS,
    OPEN_STATES,
    STANDARD_KINDS,
    ChecklistItem,
    ChecklistTemplateItem,
    DocumentTemplate,
    Handover,
    HandoverClient,
    ItemKind,
    ProcedureVariant,
    Report,
    StageDeadline,
    StageDuration,
    add_working_days,
    check_handover_dates,
    check_return_date,
    parts_problem,
    path,
)
from ..notify import notice_for_event
from .common import check_caps, check_receiver, check_rule, hold_people, log_event
from .errors import Conflict, InvalidInput, NotAllowed
from .prefill import prefill_plan
from .receivers import ZERO, book_sizes, outstanding_by_client


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


def stage_deadlines(
    *, start: datetime.date, last_working_day: datetime.date, variant: ProcedureVariant | None = None
) -> dict[str, datetime.date]:
    """Due date per state of the variant's path (no variant: every state), from its own durations,
    else the company's, else the flow spec's; never later than the last working day."""
    company = StageDuration.objects.filter(variant=None).values_list("state", "working_days")
    own = (
        StageDuration.objects.filter(variant=variant).values_list("state", "working_days")
        if variant and variant.pk
        else []
    )
    durations = {**DEFAULT_STATE_DAYS, **dict(company), **dict(own)}
    states = path(variant.parts) if variant else list(DEFAULT_STATE_DAYS)
    due, current = {}, start
    for state in states:
        days = durations[state]
        current = add_working_days(current, days)
        due[state] = min(current, last_working_day)
    return due


@transaction.atomic
def handover_start(
    *,
    started_by: User,
    departing: User,
    receiver: User | None = None,
    witness: User,
    manager: User,
    reason: str,
    notice_date: datetime.date,
    last_working_day: datetime.date,
    supervisor: User | None = None,
    receivers: Iterable[User] = (),
    returns_on: datetime.date | None = None,
) -> Handover:
    """Start the handover of departing's clients.

    `receiver` is the default receiver (the standard items go to them); with `receivers`, the
    clients are split among the default receiver and these (split.split_clients: balanced by
    clients, A clients and outstanding receivables). Without a default receiver, the first of
    `receivers` is it. A cover (models.COVER_REASONS) names `returns_on`, the day the person and
    their clients come back (services/cover.py); a departure names none.
    """
    if not policy.may_start_handover(started_by, departing):
        raise NotAllowed(_("Only HR or the departing person's supervisor may start a handover."))
    others = list({u.pk: u for u in receivers or ()}.values())
    # A refusal of the default receiver names the field it came from.
    receiver_field = "receiver" if receiver is not None else "receivers"
    if receiver is None:
        if not others:
            raise InvalidInput(_("Choose the receiver of the clients."), field="receiver")
        receiver = others[0]
    everyone = [receiver, *(u for u in others if u.pk != receiver.pk)]
    hold_people(departing, *everyone)
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
    for person in everyone:
        try:
            check_receiver(person, departing=departing, h_parties=[supervisor, manager, witness])
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=receiver_field if person is receiver else "receivers") from exc
    today = timezone.localdate()
    check_rule(check_handover_dates, notice_date=notice_date, last_working_day=last_working_day, today=today)
    # The parts this kind of handover goes through, as the company set them when it starts.
    variant = ProcedureVariant.for_reason(reason)
    if problem := parts_problem(variant.parts):
        raise InvalidInput(problem, field="reason")
    check_rule(check_return_date, reason=reason, last_working_day=last_working_day, returns_on=returns_on)
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
        returns_on=returns_on,
        started_by=started_by,
        parts=variant.parts,
    )

    _build_checklist(h, everyone, today=today)
    StageDeadline.objects.bulk_create(
        StageDeadline(handover=h, state=state, due_on=due)
        for state, due in stage_deadlines(
            start=max(today, notice_date), last_working_day=last_working_day, variant=variant
        ).items()
    )
    # The report starts from the company's template, if it keeps one.
    template = DocumentTemplate.objects.filter(kind=DocumentTemplate.Kind.REPORT).first()
    Report.objects.create(handover=h, summary=template.body if template else "")
    extra = {"receivers": [str(u) for u in everyone]} if len(everyone) > 1 else {}
    event = log_event(h, actor=started_by, kind="started", to_state=h.state, clients=h.clients.count(), **extra)
    notice_for_event(h, event_id=event.pk, kind="started", actor=started_by)
    return h


def split_at_start(clients: list[Client], receivers: list[User]) -> dict[int, int]:
    """{client id: receiver id}: the clients split among the receivers as the plan stage's split does."""
    if len(receivers) == 1:
        return dict.fromkeys((c.pk for c in clients), receivers[0].pk)
    receivables = outstanding_by_client(c.pk for c in clients)
    books = book_sizes([u.pk for u in receivers])
    facts = [split.ClientFacts(c.pk, c.grade, receivables.get(c.pk, ZERO)) for c in clients]
    return split.split_clients(facts, [split.Receiver(u.pk, books[u.pk]) for u in receivers])


def _build_checklist(h: Handover, receivers: list[User], *, today: datetime.date) -> None:
    clients = list(Client.objects.filter(owner=h.departing).order_by("grade", "name", "id"))
    to = split_at_start(clients, receivers)
    # The receivers' caps count the clients they are given here (the whole start is refused otherwise).
    check_caps(((None, pk) for pk in to.values()), field="receiver" if len(receivers) == 1 else "receivers")
    HandoverClient.objects.bulk_create(
        HandoverClient(handover=h, client=c, receiver_id=to[c.pk], grade=c.grade) for c in clients
    )
    by_client = {hc.client_id: hc for hc in h.clients.all()}
    items: list[ChecklistItem] = []

    def add(hc, kind, title, **extra):
        receiver_id = hc.receiver_id if hc is not None else h.receiver_id
        items.append(
            ChecklistItem(
                handover=h,
                handover_client=hc,
                kind=kind,
                title=title,
                receiver_id=receiver_id,
                order=len(items),
                **extra,
            )
        )

    business = open_business_by_client(c.pk for c in clients)
    # Each client's plan starts from what the book says; the departing person checks it.
    prefill_plan(h, list(by_client.values()), business, today=today)
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
                % {"amount": format_money(contract.amount), "paid": format_money(contract.amount_paid)},
            )
        for r in business.receivables[c.pk]:
            add(
                hc,
                ItemKind.RECEIVABLE,
                _("Receivable %(number)s due %(date)s") % {"number": r.contract.number, "date": r.due_date},
                receivable=r,
                description=_("Outstanding %(amount)s") % {"amount": format_money(r.outstanding)},
            )
        for o in business.deals[c.pk]:
            add(hc, ItemKind.OPPORTUNITY, o.name, opportunity=o, description=o.get_stage_display())
    for t in ChecklistTemplateItem.objects.filter(active=True, kind__in=STANDARD_KINDS):
        add(None, t.kind, t.title, description=t.description, storage_location=t.storage_location)
    ChecklistItem.objects.bulk_create(items)
