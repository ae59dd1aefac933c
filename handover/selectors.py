"""Reads of handovers: who sees which, what each person must do now, and what the handover page shows.

handovers_visible_to() is the one place deciding who sees a handover; every page and action
goes through it, so a handover someone may not see is a 404 for them everywhere.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.roles import Role
from clients.models import OPEN_STAGES, Contact, Contract, Opportunity, OpportunityStage, Receivable
from clients.templatetags.money import money

from . import codes, flow, policy, rules, signing
from .flow import WORK_STATES, Party
from .models import (
    OPEN_STATES,
    SIGNED_AT,
    STAGES,
    TRANSITIONS,
    ArchivedDocument,
    CallResult,
    ChecklistItem,
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
    State,
    Visit,
    VisitMode,
    approver_signed,
)

# ---------------------------------------------------------------------------------------
# Who sees which handover


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


def eligible_receivers(*, exclude: Iterable[int | None] = ()) -> QuerySet[User]:
    """Active salespeople who may receive clients: not leaving themselves, not a party that reviews."""
    leaving = Handover.objects.filter(departing=OuterRef("pk"), state__in=OPEN_STATES)
    return (
        User.objects.filter(is_active=True, groups__name=Role.SALES)
        .exclude(pk__in=[pk for pk in exclude if pk])
        .exclude(Exists(leaving))
        .select_related("department")
        .order_by("department__code", "full_name", "username")
        .distinct()
    )


def departing_is_locked(user) -> bool:
    """From the start of their handover, a departing person reads their clients but edits or exports nothing."""
    return Handover.objects.filter(departing=user, state__in=OPEN_STATES).exists()


def clients_seen_in_open_handovers(user) -> Exists:
    """A condition on clients.Client: during a handover its receivers and witness see the clients
    they visit and phone (registered with clients.hooks, which clients_visible_to asks)."""
    in_open_handover = HandoverClient.objects.filter(client=OuterRef("pk"), handover__state__in=OPEN_STATES)
    return Exists(in_open_handover.filter(Q(receiver=user) | Q(handover__witness=user)))


# ---------------------------------------------------------------------------------------
# The to-do inbox

# The people named on the handover whose to-do a state is (the flow spec's `by` and `todo`).
TODO_PARTIES = [Party.DEPARTING, Party.SUPERVISOR, Party.MANAGER, Party.WITNESS]


@dataclass(frozen=True)
class InboxEntry:
    handover: Handover
    action: str
    due_on: datetime.date | None
    overdue: bool
    return_reason: str = ""
    # Set for HR's "revoke the accounts" duty, which the inbox lets HR close in place.
    revoke: bool = False


DUTY_TODO = {
    DutyKind.CONTACT_CLIENT: gettext_lazy("Contact %(n)d client(s) you received (a call, WeChat, email or visit)"),
    DutyKind.VISIT_CLIENT: gettext_lazy("Visit %(n)d client(s) you received"),
    DutyKind.REVOKE_ACCOUNTS: gettext_lazy("Revoke the departed person's system accounts"),
}


def inbox_for(user, *, today: datetime.date | None = None) -> list[InboxEntry]:
    """What this person must act on now, soonest due first; two queries whatever the number of handovers."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    today = today or timezone.localdate()
    base = with_current_due(Handover.objects.select_related("departing__department"))
    entries: list[InboxEntry] = []

    def add(h: Handover, action: str) -> None:
        reason = h.last_return_reason if h.state in WORK_STATES else ""
        entries.append(InboxEntry(h, action, h.current_due_on, is_overdue(h, today), reason))

    duties = Q()
    for party in TODO_PARTIES:
        duties |= Q(**{party: user, "state__in": flow.todo_states(party)})
    for h in base.filter(duties):
        spec = flow.STATES[h.state]
        if getattr(h, f"{spec.by}_id") == user.pk:
            add(h, str(spec.todo))

    items_waiting = (
        ChecklistItem.objects.filter(handover=OuterRef("pk"), receiver=user, status=ItemStatus.HANDED_OVER)
        .order_by()
        .values("handover")
        .annotate(n=Count("pk"))
        .values("n")
    )
    visits_waiting = (
        Visit.objects.filter(
            handover_client__handover=OuterRef("pk"),
            handover_client__receiver=user,
            receiver_confirmed_at__isnull=True,
            superseded=False,
        )
        .order_by()
        .values("handover_client__handover")
        .annotate(n=Count("pk"))
        .values("n")
    )
    receiving = (
        base.filter(state__in=[State.MATERIALS, State.VISITS])
        .annotate(
            items_waiting=Coalesce(Subquery(items_waiting, output_field=IntegerField()), Value(0)),
            visits_waiting=Coalesce(Subquery(visits_waiting, output_field=IntegerField()), Value(0)),
        )
        .filter(Q(state=State.MATERIALS, items_waiting__gt=0) | Q(state=State.VISITS, visits_waiting__gt=0))
    )
    for h in receiving:
        if h.state == State.MATERIALS:
            add(h, _("Confirm the %(n)d item(s) handed over to you, or dispute them") % {"n": h.items_waiting})
        else:
            add(h, _("Confirm the %(n)d joint visit(s) recorded for your clients") % {"n": h.visits_waiting})

    # After completion: the procedure's duties, one entry per handover and kind.
    mine = Q(assignee=user)
    if user.has_role(Role.HR):
        mine |= Q(assignee__isnull=True, kind=DutyKind.REVOKE_ACCOUNTS)
    duties = list(
        Duty.objects.filter(mine, done_at__isnull=True)
        .values("handover", "kind")
        .annotate(n=Count("pk"), due_on=Min("due_on"))
        .order_by()
    )
    duty_handovers = Handover.objects.select_related("departing__department").in_bulk({d["handover"] for d in duties})
    for d in duties:
        entries.append(
            InboxEntry(
                duty_handovers[d["handover"]],
                str(DUTY_TODO[d["kind"]]) % {"n": d["n"]},
                d["due_on"],
                d["due_on"] < today,
                revoke=d["kind"] == DutyKind.REVOKE_ACCOUNTS,
            )
        )

    for h, action in _signatures_owed(base, user):
        add(h, action)

    far = datetime.date.max
    entries.sort(key=lambda e: (not e.overdue, e.due_on or far, e.handover.number))
    return entries


def _signatures_owed(base: QuerySet[Handover], user) -> list[tuple[Handover, str]]:
    """Handovers waiting for this person's signature, in one query.

    A receiver signs the receipt once every item of theirs is confirmed, and the visits once
    every client of theirs has a confirmed joint visit; the departing person, the receivers
    and the witness sign the checklist at the final approval. (A signature that no longer holds
    shows on the handover page, and in the departing person's hint, not here.)
    """
    mine = Signature.objects.filter(handover=OuterRef("pk"), signer=user, superseded_at__isnull=True)
    my_items = ChecklistItem.objects.filter(handover=OuterRef("pk"), receiver=user)
    my_clients = HandoverClient.objects.filter(handover=OuterRef("pk"), receiver=user)
    covering = Visit.objects.filter(handover_client=OuterRef("pk")).filter(rules.VISIT_COVERS)
    receipt = (
        Q(state=State.MATERIALS)
        & Exists(my_items)
        & ~Exists(my_items.exclude(rules.ITEM_CONFIRMED))
        & ~Exists(mine.filter(purpose=SignaturePurpose.MATERIALS_RECEIPT))
    )
    visits = (
        Q(state=State.VISITS)
        & Exists(my_clients)
        & ~Exists(my_clients.exclude(Exists(covering)))
        & ~Exists(mine.filter(purpose=SignaturePurpose.VISITS))
    )
    checklist = (
        Q(state=State.REPORT_APPROVAL)
        & (Q(departing=user) | Q(witness=user) | Exists(my_clients) | Exists(my_items))
        & ~Exists(mine.filter(purpose=SignaturePurpose.CHECKLIST))
    )
    actions = {spec.at: str(spec.todo) for spec in flow.SIGNATURES.values()}
    return [(h, actions[h.state]) for h in base.filter(receipt | visits | checklist)]


# ---------------------------------------------------------------------------------------
# The handover page

EVENT_LABELS = {
    "started": gettext_lazy("Handover started"),
    "plan_updated": gettext_lazy("Plan updated"),
    "receiver_changed": gettext_lazy("Receiver changed"),
    "item_handed_over": gettext_lazy("Item handed over"),
    "items_handed_over": gettext_lazy("All pending items handed over"),
    "item_confirmed": gettext_lazy("Item confirmed"),
    "items_confirmed": gettext_lazy("Items confirmed"),
    "item_disputed": gettext_lazy("Item disputed"),
    "visit_recorded": gettext_lazy("Joint visit recorded"),
    "visit_confirmed": gettext_lazy("Joint visit confirmed"),
    "phone_check": gettext_lazy("Spot-check call"),
    "report_updated": gettext_lazy("Report updated"),
    "signed": gettext_lazy("Signed"),
    "archived": gettext_lazy("Signed confirmation archived and sealed"),
    "client_dropped": gettext_lazy("Client removed from the handover"),
}

STATUS_STYLE = {
    ItemStatus.PENDING: "secondary",
    ItemStatus.HANDED_OVER: "primary",
    ItemStatus.CONFIRMED: "success",
    ItemStatus.DISPUTED: "danger",
}

_MARK = 987654321


def _url_pattern(name: str, *args) -> str:
    # reverse() once per page, then str.format per row: a reverse() for each of thousands of
    # rows would cost more than rendering the rows.
    return reverse(name, args=[*args, _MARK]).replace(str(_MARK), "{}")


def _labels(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


class _Row:
    """Rows of the long checklist and timeline.

    The template engine first tries row[name] and only then getattr(); for a plain object the
    first try raises, and with thousands of rows on a 500-client page the exceptions alone
    cost more than the page may. Answering row[name] directly keeps each lookup cheap.
    """

    def __getitem__(self, name: str):
        return getattr(self, name)


@dataclass(slots=True)
class ItemRow(_Row):
    pk: int
    kind_label: str
    title: str
    detail: str
    status: str
    status_label: str
    status_style: str
    dispute_reason: str
    receiver_name: str
    hand_over_url: str = ""
    confirm_url: str = ""
    dispute_url: str = ""
    has_actions: bool = False


@dataclass(slots=True)
class VisitRow(_Row):
    pk: int
    visited_on: str
    mode_label: str
    contact_met: str
    outcome: str
    concerns: str
    recorded_by: str
    confirmed: bool
    superseded: bool
    confirm_url: str = ""


@dataclass(slots=True)
class CallRow(_Row):
    called_at: str
    result_label: str
    note: str
    superseded: bool


@dataclass(slots=True)
class ClientRow(_Row):
    pk: int
    client_id: int
    name: str
    grade: str
    grade_class: str
    receiver_name: str
    in_sample: bool
    current_status: str
    risks: str
    next_steps: str
    planned_visit_on: str
    plan_complete: bool
    visited: bool
    items: list[ItemRow] = field(default_factory=list)
    visits: list[VisitRow] = field(default_factory=list)
    calls: list[CallRow] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    plan_url: str = ""
    visit_url: str = ""
    call_url: str = ""
    # The departing person no longer owns the client: completion cannot move it.
    left_book: bool = False
    drop_url: str = ""


@dataclass
class ReceiverGroup:
    receiver_id: int
    receiver_name: str
    clients: list[ClientRow] = field(default_factory=list)
    items: int = 0
    confirmed: int = 0


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    url: str
    ready: bool
    needs_reason: bool
    hint: str = ""
    # An approval: signed by the approver in the same action.
    needs_signature: bool = False


@dataclass(slots=True)
class SignatureRow(_Row):
    pk: int
    purpose: str
    purpose_label: str
    signer_id: int
    signer: str
    method_label: str
    typed_name: str
    signed_at: str
    valid: bool
    image_url: str = ""


@dataclass(frozen=True)
class SignatureNeed:
    """One person the current stage asks to sign, and where they stand."""

    signer: str
    status: str  # valid, invalid, missing


@dataclass
class SignaturePanel:
    rows: list[SignatureRow] = field(default_factory=list)
    # The current stage's own signatures (receipt, visits or checklist), person by person.
    purpose_label: str = ""
    needs: list[SignatureNeed] = field(default_factory=list)
    # The viewer's signing form, when they must sign now; otherwise why they cannot yet.
    sign_url: str = ""
    sign_label: str = ""
    sign_blocked: str = ""
    invalid_mine: bool = False


@dataclass(frozen=True)
class StageCell:
    key: str
    label: str
    status: str  # done, current, returned, cancelled, todo
    state_label: str = ""


@dataclass(slots=True)
class EventRow(_Row):
    kind: str
    at: str
    actor: str
    label: str
    detail: str
    from_label: str
    to_label: str
    comment: str


@dataclass
class HandoverPage:
    handover: Handover
    viewer: User
    today: datetime.date
    current_due_on: datetime.date | None
    overdue: bool
    stages: list[StageCell]
    steps: list[Step]
    groups: list[ReceiverGroup]
    other_items: list[ItemRow]
    events: list[EventRow]
    return_reason: str
    viewer_must_act_on_return: bool
    counts: dict
    report: object
    figures: list[tuple[str, str]]
    figures_live: bool
    can_edit_plan: bool
    can_set_receiver: bool
    can_write_report: bool
    receiver_choices: list[User]
    hand_over_all_url: str = ""
    confirm_all_url: str = ""
    mine_waiting: int = 0
    action_urls: dict = field(default_factory=dict)
    signatures: SignaturePanel = field(default_factory=SignaturePanel)
    print_links: list[tuple[str, str]] = field(default_factory=list)
    archive_url: str = ""


PEOPLE = ["departing", "receiver", "supervisor", "witness", "manager", "started_by"]
# The same fields a signature covers, so the page checks signatures on the rows it shows.
ITEM_FIELDS = signing.ITEM_FIELDS
EVENT_FIELDS = ["kind", "at", "actor_id", "from_state", "to_state", "comment", "data"]


def _page_queryset(user) -> QuerySet[Handover]:
    # Visits, calls, items and events are read apart (see handover_page). The clients are
    # prefetched as handover.clients because plan_gaps(), a transition condition, reads that;
    # nothing else is prefetched under them, since conditions that filter handover.clients
    # would drag every prefetch along into their own queries.
    clients = HandoverClient.objects.select_related("client").only(
        *[f.name for f in HandoverClient._meta.concrete_fields], "client__name", "client__owner"
    )
    return (
        with_current_due(handovers_visible_to(user))
        .select_related("departing__department", "report", "archive", *PEOPLE[1:])
        .prefetch_related(Prefetch("clients", queryset=clients))
    )


def _stages(h: Handover, cancelled_from: str) -> list[StageCell]:
    current = next((i for i, (_k, _l, states) in enumerate(STAGES) if h.state in states), None)
    if h.state == State.CANCELLED:
        current = next((i for i, (_k, _l, states) in enumerate(STAGES) if cancelled_from in states), None)
    cells = []
    for i, (key, label, states) in enumerate(STAGES):
        if current is None or i > current:
            status = "todo"
        elif i < current or h.state == State.COMPLETED:
            status = "done"
        elif h.state == State.CANCELLED:
            status = "cancelled"
        elif h.last_return_reason and h.state == states[0]:
            status = "returned"
        else:
            status = "current"
        # Name the review or approval the stage waits for; the stage's own work needs no second label.
        state_label = h.get_state_display() if status == "current" and h.state != states[0] else ""
        cells.append(StageCell(key, str(label), status, state_label))
    return cells


def _local(at: datetime.datetime, tz) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _event_rows(events: list[dict], names: dict[int, str]) -> list[EventRow]:
    tz = timezone.get_current_timezone()
    states = _labels(State.choices)
    modes = _labels(VisitMode.choices)
    results = _labels(CallResult.choices)
    labels = {k: str(v) for k, v in EVENT_LABELS.items()}
    steps = {name: str(spec.label) for name, spec in flow.TRANSITIONS.items()}
    purposes = _labels(SignaturePurpose.choices)
    system = _("System")
    rows = []
    for e in events:
        kind, data = e["kind"], e["data"] or {}
        if kind == "transition":
            kind = data.get("name", kind)
            label = steps.get(kind, kind)
        else:
            label = labels.get(kind, kind)
        parts = [str(data[k]) for k in ("client", "item") if data.get(k)]
        if data.get("from_receiver") or data.get("to_receiver"):
            parts.append(f"{data.get('from_receiver', '')} → {data.get('to_receiver', '')}")
        if data.get("mode"):
            parts.append(modes.get(data["mode"], data["mode"]))
        if data.get("visited_on"):
            parts.append(str(data["visited_on"]))
        if data.get("result"):
            parts.append(results.get(data["result"], data["result"]))
        if data.get("count") is not None:
            parts.append(_("%(n)d item(s)") % {"n": data["count"]})
        if data.get("clients") is not None:
            parts.append(_("%(n)d client(s)") % {"n": data["clients"]})
        if data.get("purpose"):
            parts.append(purposes.get(data["purpose"], data["purpose"]))
        if data.get("signature"):
            parts.append(_("signed"))
        rows.append(
            EventRow(
                kind=kind,
                at=_local(e["at"], tz),
                actor=names.get(e["actor_id"], system),
                label=label,
                detail=" · ".join(parts),
                from_label=states.get(e["from_state"], e["from_state"]),
                to_label=states.get(e["to_state"], e["to_state"]),
                comment=e["comment"],
            )
        )
    return rows


def report_figures(h: Handover, today: datetime.date | None = None) -> dict:
    """The report's figures, in six queries whatever the size of the book."""
    today = today or timezone.localdate()
    rows = list(h.clients.values_list("client_id", "grade", "receiver_id", "in_sample"))
    clients = h.clients.values("client_id")
    contracts = Contract.objects.filter(client_id__in=clients).aggregate(n=Count("id"), value=Sum("amount"))
    owed = F("amount_due") - F("amount_received")
    money = (
        Receivable.objects.outstanding()
        .filter(contract__client_id__in=clients)
        .aggregate(outstanding=Sum(owed), overdue=Sum(owed, filter=Q(due_date__lt=today)))
    )
    deals = dict(
        Opportunity.objects.filter(client_id__in=clients, stage__in=OPEN_STAGES)
        .values_list("stage")
        .annotate(n=Count("id"))
        .values_list("stage", "n")
    )
    visits = Visit.objects.filter(handover_client__handover=h, superseded=False).aggregate(
        n=Count("id"), in_person=Count("id", filter=Q(mode=VisitMode.IN_PERSON))
    )
    checks = PhoneCheck.objects.filter(handover_client__handover=h)
    by_grade: dict[str, int] = {}
    for _client, grade, _receiver, _sampled in rows:
        by_grade[grade] = by_grade.get(grade, 0) + 1
    cents = Decimal("0.01")
    return {
        "clients": len(rows),
        "clients_by_grade": by_grade,
        "receivers": len({row[2] for row in rows}),
        "contracts": contracts["n"],
        "contract_value": str(contracts["value"] or Decimal("0.00")),
        "outstanding": str((money["outstanding"] or Decimal("0")).quantize(cents)),
        "overdue": str((money["overdue"] or Decimal("0")).quantize(cents)),
        "open_deals_by_stage": deals,
        "visits": visits["n"],
        "visits_in_person": visits["in_person"],
        "spot_checks": dict(checks.values_list("result").annotate(n=Count("id")).values_list("result", "n")),
        "sampled_clients": sum(1 for row in rows if row[3]),
    }


def figure_rows(figures: dict) -> list[tuple[str, str]]:
    """The report's figures (report_figures) as labelled lines."""
    if not figures:
        return []
    stages = _labels(OpportunityStage.choices)
    results = _labels(CallResult.choices)

    def joined(values: dict, labels: dict) -> str:
        return "，".join(f"{labels.get(k, k)} {v}" for k, v in sorted(values.items())) or "0"

    return [
        (_("Clients"), str(figures.get("clients", 0))),
        (_("Clients by grade"), joined(figures.get("clients_by_grade", {}), {})),
        (_("Receivers"), str(figures.get("receivers", 0))),
        (_("Contracts"), str(figures.get("contracts", 0))),
        (_("Contract value"), money(figures.get("contract_value") or "0")),
        (_("Outstanding receivables"), money(figures.get("outstanding") or "0")),
        (_("Overdue receivables"), money(figures.get("overdue") or "0")),
        (_("Open deals by stage"), joined(figures.get("open_deals_by_stage", {}), stages)),
        (_("Joint visits"), str(figures.get("visits", 0))),
        (_("Visits in person"), str(figures.get("visits_in_person", 0))),
        (_("Sampled clients"), str(figures.get("sampled_clients", 0))),
        (_("Spot-check calls"), joined(figures.get("spot_checks", {}), results)),
    ]


# ---------------------------------------------------------------------------------------
# What this person may run now


def conditions_met(h: Handover, name: str, *, skip=()) -> bool:
    transition = getattr(Handover, name)._django_fsm.get_transition(h.state)
    if transition is None:
        return False
    return all(condition(h) for condition in (transition.conditions or []) if condition not in skip)


def transitions_for(h: Handover, user: User) -> list[str]:
    """The transitions this person may run now, conditions met.

    An approval is listed when everything but the approver's own signature is in place: that
    signature is given in the same request (handover_transition(signature=...)).
    """
    names = []
    for name in TRANSITIONS:
        meta = getattr(Handover, name)._django_fsm
        if not meta.has_transition(h.state) or not meta.has_transition_perm(h, h.state, user):
            continue
        if conditions_met(h, name, skip={approver_signed}):
            names.append(name)
    return names


def signature_statuses(h: Handover, checker: "signing.SignatureChecker | None" = None) -> list[dict]:
    """The current signatures with whether each still holds: for pages and the API."""
    checker = checker or signing.checker_for(h)
    return [{"signature": sig, "valid": checker.is_valid(sig)} for sig in checker.signatures]


def _steps(h: Handover, user, checker: "signing.SignatureChecker | None" = None) -> list[Step]:
    ready = set(transitions_for(h, user))
    pattern = _url_pattern("handover:transition", h.pk)
    facts = signing.Facts(h, checker)
    steps = []
    for name in TRANSITIONS:
        meta = getattr(Handover, name)._django_fsm
        if not meta.has_transition(h.state) or not meta.has_transition_perm(h, h.state, user):
            continue
        spec = flow.TRANSITIONS[name]
        if name not in ready and spec.reason:
            # A return that is not possible yet (no client said they were unaware) is not offered.
            continue
        steps.append(
            Step(
                name=name,
                label=str(spec.label),
                url=pattern.format(name),
                ready=name in ready,
                needs_reason=spec.reason,
                hint="" if name in ready else flow.unmet_message(name, facts, hint=True),
                needs_signature=spec.signature is not None,
            )
        )
    return steps


def _item_detail(item: dict, storage_label: str) -> str:
    parts = [item["description"]] if item["description"] else []
    if item["storage_location"]:
        parts.append(_("%(label)s: %(value)s") % {"label": storage_label, "value": item["storage_location"]})
    return " · ".join(parts)


def _people_names(
    h: Handover, hcs: list[HandoverClient], items: list[dict], events: list[dict], visits, signers=()
) -> dict:
    """Display names of everyone the page mentions.

    The handover's own people come with it; anyone else (a per-client receiver, an HR
    colleague who cancelled) is read in one query, rather than joining a user to each of
    thousands of items and events.
    """
    people = {getattr(h, f"{p}_id"): getattr(h, p) for p in PEOPLE}
    wanted = {hc.receiver_id for hc in hcs} | {i["receiver_id"] for i in items}
    wanted |= {e["actor_id"] for e in events if e["actor_id"]} | {v.recorded_by_id for v in visits}
    wanted |= set(signers)
    missing = wanted - people.keys()
    if missing:
        people.update({u.pk: u for u in User.objects.filter(pk__in=missing)})
    return people


def handover_page(user, pk: int, *, today: datetime.date | None = None) -> HandoverPage:
    """Everything the handover page shows, in a number of queries that does not grow with the clients."""
    today = today or timezone.localdate()
    h = policy.require_client_data(get_object_or_404(_page_queryset(user), pk=pk), user)
    state = h.state
    me = user.pk
    is_departing = policy.is_departing(h, user)
    may_call = state == State.SPOT_CHECK and policy.may_record_call(h, user)

    hcs = list(h.clients.all())
    items = list(h.items.values(*ITEM_FIELDS))
    events = list(h.events.values(*EVENT_FIELDS))
    visits = list(Visit.objects.filter(handover_client__handover=h))
    checks = list(PhoneCheck.objects.filter(handover_client__handover=h))
    signatures = list(Signature.objects.filter(handover=h, superseded_at__isnull=True).defer("image").order_by("pk"))
    people = _people_names(h, hcs, items, events, visits, [sig.signer_id for sig in signatures])
    names = {pk: u.display_name for pk, u in people.items()}

    sampled_contacts: dict[int, list[Contact]] = {}
    if may_call:
        sampled = [hc.client_id for hc in hcs if hc.in_sample]
        for contact in Contact.objects.filter(client_id__in=sampled):
            sampled_contacts.setdefault(contact.client_id, []).append(contact)

    kinds = _labels(ItemKind.choices)
    statuses = _labels(ItemStatus.choices)
    modes = _labels(VisitMode.choices)
    results = _labels(CallResult.choices)
    hand_over = _url_pattern("handover:item_hand_over", h.pk)
    confirm = _url_pattern("handover:item_confirm", h.pk)
    dispute = _url_pattern("handover:item_dispute", h.pk)
    at_materials = state == State.MATERIALS
    may_hand_over = policy.may_hand_over_items(h, user)
    at_visits = state == State.VISITS
    tz = timezone.get_current_timezone()
    storage_label = _("storage place")

    items_by_client: dict[int | None, list[ItemRow]] = {}
    for i in items:
        row = ItemRow(
            pk=i["pk"],
            kind_label=kinds.get(i["kind"], i["kind"]),
            title=i["title"],
            detail=_item_detail(i, storage_label),
            status=i["status"],
            status_label=statuses.get(i["status"], i["status"]),
            status_style=STATUS_STYLE.get(i["status"], "secondary"),
            dispute_reason=i["dispute_reason"],
            receiver_name=names.get(i["receiver_id"], ""),
        )
        if at_materials:
            if may_hand_over and i["status"] in (ItemStatus.PENDING, ItemStatus.DISPUTED):
                row.hand_over_url = hand_over.format(i["pk"])
            if i["receiver_id"] == me and i["status"] == ItemStatus.HANDED_OVER:
                row.confirm_url = confirm.format(i["pk"])
                row.dispute_url = dispute.format(i["pk"])
            row.has_actions = bool(row.hand_over_url or row.confirm_url)
        items_by_client.setdefault(i["handover_client_id"], []).append(row)

    visits_by_client: dict[int, list[Visit]] = {}
    for v in visits:
        visits_by_client.setdefault(v.handover_client_id, []).append(v)
    checks_by_client: dict[int, list[PhoneCheck]] = {}
    for c in checks:
        checks_by_client.setdefault(c.handover_client_id, []).append(c)

    may_plan = state == State.PLAN and policy.may_fill_plan(h, user)
    plan_url = _url_pattern("handover:plan_update", h.pk) if may_plan else ""
    visit_record = _url_pattern("handover:visit_record", h.pk)
    visit_confirm = _url_pattern("handover:visit_confirm", h.pk)
    call_url = _url_pattern("handover:phone_check_record", h.pk) if may_call else ""
    drop_url = _url_pattern("handover:client_drop", h.pk) if h.is_open and policy.may_drop_client(h, user) else ""
    groups: dict[int, ReceiverGroup] = {}
    plan_gaps = visit_gaps = calls_pending = 0
    for hc in hcs:
        client_visits = visits_by_client.get(hc.pk, [])
        covered = any(rules.visit_covers(v, hc.grade) for v in client_visits)
        complete = rules.plan_complete(hc)
        plan_gaps += not complete
        visit_gaps += not covered
        row = ClientRow(
            pk=hc.pk,
            client_id=hc.client_id,
            name=hc.client.name,
            grade=hc.grade,
            grade_class=hc.grade.lower(),
            receiver_name=names.get(hc.receiver_id, ""),
            in_sample=hc.in_sample,
            current_status=hc.current_status,
            risks=hc.risks,
            next_steps=hc.next_steps,
            planned_visit_on=hc.planned_visit_on.isoformat() if hc.planned_visit_on else "",
            plan_complete=complete,
            visited=covered,
            items=items_by_client.get(hc.pk, []),
            contacts=sampled_contacts.get(hc.client_id, []),
        )
        may_visit = at_visits and policy.may_record_visit(h, hc, user)
        for v in client_visits:
            vrow = VisitRow(
                pk=v.pk,
                visited_on=v.visited_on.isoformat(),
                mode_label=modes.get(v.mode, v.mode),
                contact_met=v.contact_met,
                outcome=v.outcome,
                concerns=v.concerns,
                recorded_by=names.get(v.recorded_by_id, ""),
                confirmed=v.is_confirmed,
                superseded=v.superseded,
            )
            if may_visit and not v.superseded:
                mine_open = (is_departing and v.departing_confirmed_at is None) or (
                    me == hc.receiver_id and v.receiver_confirmed_at is None
                )
                if mine_open:
                    vrow.confirm_url = visit_confirm.format(v.pk)
            row.visits.append(vrow)
        client_checks = checks_by_client.get(hc.pk, [])
        row.calls = [
            CallRow(_local(c.called_at, tz), results.get(c.result, c.result), c.note, c.superseded)
            for c in client_checks
        ]
        if hc.in_sample and all(c.superseded for c in client_checks):
            calls_pending += 1
        if plan_url:
            row.plan_url = plan_url.format(hc.pk)
        if may_visit and not covered:
            row.visit_url = visit_record.format(hc.pk)
        if call_url and hc.in_sample:
            row.call_url = call_url.format(hc.pk)
        if h.is_open and hc.client.owner_id != h.departing_id:
            row.left_book = True
            row.drop_url = drop_url.format(hc.pk) if drop_url else ""
        group = groups.get(hc.receiver_id)
        if group is None:
            group = groups[hc.receiver_id] = ReceiverGroup(hc.receiver_id, names.get(hc.receiver_id, ""))
        group.clients.append(row)
        group.items += len(row.items)
        group.confirmed += sum(1 for r in row.items if rules.item_confirmed(r.status))

    counts = {
        "clients": len(hcs),
        "items": len(items),
        "confirmed": sum(1 for i in items if rules.item_confirmed(i["status"])),
        "unconfirmed": len(rules.unconfirmed_items(items)),
        "plan_gaps": plan_gaps,
        "visit_gaps": visit_gaps,
        "calls_pending": calls_pending,
        "sampled": sum(1 for hc in hcs if hc.in_sample),
    }
    mine_waiting = sum(1 for i in items if i["receiver_id"] == me and i["status"] == ItemStatus.HANDED_OVER)

    cancelled_from = next((e["from_state"] for e in reversed(events) if e["to_state"] == State.CANCELLED), "")
    report = getattr(h, "report", None)
    checker = signing.SignatureChecker(
        h, signing.SignedContent(h, clients=hcs, items=items, visits=visits, calls=checks, report=report), signatures
    )
    # The transition conditions (transitions_for) check signatures on these same rows.
    h.__dict__["_signature_checker"] = checker
    can_write_report = state == State.REPORT and policy.may_write_report(h, user)
    if can_write_report:
        figures, figures_live = figure_rows(report_figures(h, today)), True
    elif report is not None and state in (State.REPORT_REVIEW, State.REPORT_APPROVAL, State.COMPLETED):
        figures, figures_live = figure_rows(report.figures), False
    else:
        figures, figures_live = [], False

    can_set_receiver = state == State.PLAN and policy.may_set_receiver(h, user)
    receiver_choices = []
    if can_set_receiver:
        receiver_choices = list(
            eligible_receivers(exclude=[h.departing_id, h.supervisor_id, h.manager_id, h.witness_id])
        )

    is_receiver = any(hc.receiver_id == me for hc in hcs)
    must_act = state in WORK_STATES and (is_departing or (state == State.VISITS and is_receiver))
    return_reason = h.last_return_reason if state in WORK_STATES else ""
    return HandoverPage(
        handover=h,
        viewer=user,
        today=today,
        current_due_on=h.current_due_on,
        overdue=is_overdue(h, today),
        stages=_stages(h, cancelled_from),
        steps=_steps(h, user, checker),
        groups=sorted(groups.values(), key=lambda g: (g.receiver_id != h.receiver_id, g.receiver_name)),
        other_items=items_by_client.get(None, []),
        events=_event_rows(events, names),
        return_reason=return_reason,
        viewer_must_act_on_return=bool(return_reason) and must_act,
        counts=counts,
        report=report,
        figures=figures,
        figures_live=figures_live,
        can_edit_plan=bool(plan_url),
        can_set_receiver=can_set_receiver,
        can_write_report=can_write_report,
        receiver_choices=receiver_choices,
        hand_over_all_url=(
            reverse("handover:items_hand_over_all", args=[h.pk])
            if at_materials and may_hand_over and any(i["status"] == ItemStatus.PENDING for i in items)
            else ""
        ),
        confirm_all_url=reverse("handover:items_confirm_all", args=[h.pk]) if at_materials and mine_waiting else "",
        mine_waiting=mine_waiting,
        action_urls={
            "receiver_set": reverse("handover:receiver_set", args=[h.pk]),
            "report_update": reverse("handover:report_update", args=[h.pk]),
        },
        signatures=_signature_panel(h, user, checker, names, tz),
        print_links=_print_links(h, user),
        archive_url=_archive_url(h, user),
    )


def _signature_panel(h: Handover, user, checker: "signing.SignatureChecker", names: dict, tz) -> SignaturePanel:
    purposes = _labels(SignaturePurpose.choices)
    methods = _labels(SignatureMethod.choices)
    image = _url_pattern("handover:signature_image", h.pk)
    order = list(SignaturePurpose.values)
    panel = SignaturePanel()
    for sig in sorted(checker.signatures, key=lambda s: (s.signed_at, order.index(s.purpose), s.pk)):
        panel.rows.append(
            SignatureRow(
                pk=sig.pk,
                purpose=sig.purpose,
                purpose_label=purposes.get(sig.purpose, sig.purpose),
                signer_id=sig.signer_id,
                signer=names.get(sig.signer_id, ""),
                method_label=methods.get(sig.method, sig.method),
                typed_name=sig.typed_name,
                signed_at=_local(sig.signed_at, tz),
                valid=checker.is_valid(sig),
                image_url=image.format(sig.pk) if sig.method == SignatureMethod.DRAWN else "",
            )
        )
    panel.invalid_mine = any(r.signer_id == user.pk and not r.valid for r in panel.rows)
    purpose = next((p for p, state in SIGNED_AT.items() if state == h.state), None)
    if purpose is None:
        return panel
    panel.purpose_label = purposes[purpose]
    for signer_id in checker.required_signers(purpose):
        sig = checker.current(purpose, signer_id)
        status = "missing" if sig is None else ("valid" if checker.is_valid(sig) else "invalid")
        panel.needs.append(SignatureNeed(names.get(signer_id, str(signer_id)), status))
        if signer_id != user.pk or status == "valid":
            continue
        panel.sign_blocked = flow.sign_unmet_message(purpose, signing.Facts(h, checker, signer_id=user.pk), hint=True)
        if not panel.sign_blocked:
            panel.sign_url = reverse("handover:sign", args=[h.pk, purpose])
            panel.sign_label = str(flow.SIGNATURES[purpose].label)
    return panel


def _archive_url(h: Handover, user) -> str:
    archive = getattr(h, "archive", None) if h.state == State.COMPLETED else None
    if archive is None or not policy.is_archivist(user):
        return ""
    return reverse("handover:archive_download", args=[h.pk])


def _print_links(h: Handover, user) -> list[tuple[str, str]]:
    if not policy.may_print(h, user):
        return []
    return [
        (_("Print the plan"), reverse("handover:print_stage", args=[h.pk, "plan"])),
        (_("Print the materials list"), reverse("handover:print_stage", args=[h.pk, "materials"])),
        (_("Print the visits record"), reverse("handover:print_stage", args=[h.pk, "visits"])),
    ]


# ---------------------------------------------------------------------------------------
# What the departing person keeps of a completed handover


@dataclass(frozen=True)
class OwnSignature:
    purpose_label: str
    signed_at: str
    valid: bool


@dataclass(frozen=True)
class HandoverSummary:
    """The header of a handover, without a word about its clients (see may_read_client_data)."""

    handover: Handover
    clients: int
    signatures: list[OwnSignature]


def handover_summary(h: Handover, user) -> HandoverSummary:
    # Validity is worked out over the whole signed content here, on the server; only the verdict leaves.
    checker = signing.SignatureChecker(h)
    purposes = _labels(SignaturePurpose.choices)
    tz = timezone.get_current_timezone()
    own = [
        OwnSignature(purposes.get(sig.purpose, sig.purpose), _local(sig.signed_at, tz), checker.is_valid(sig))
        for sig in sorted(checker.signatures, key=lambda s: (s.signed_at, s.pk))
        if sig.signer_id == user.pk
    ]
    return HandoverSummary(handover=h, clients=h.clients.count(), signatures=own)


# ---------------------------------------------------------------------------------------
# The archive


def archive_for(h: Handover) -> ArchivedDocument | None:
    return ArchivedDocument.objects.filter(handover=h).first()


def archive_matching(*, sha256: str = "", code: str = "") -> ArchivedDocument | None:
    """The archive a file (by its SHA-256) or a verification code belongs to, if any."""
    queryset = ArchivedDocument.objects.select_related("handover__departing")
    if sha256:
        return queryset.filter(sha256=sha256.lower()).first()
    code = codes.normalize_code(code)
    if code:
        return queryset.filter(verification_code=code).first()
    return None


# ---------------------------------------------------------------------------------------
# What the API reads (handover/api.py): each list and object under /api/handovers/{id}/

API_PEOPLE = ["departing", "receiver", "supervisor", "witness", "manager", "started_by"]


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


def handover_fresh(h: Handover) -> Handover:
    """The handover as stored now (after a service changed it)."""
    return Handover.objects.get(pk=h.pk)


def row_in(queryset: QuerySet, pk):
    """One row of a handover's list by id, or None: one of another handover is as absent as a missing one."""
    return queryset.filter(pk=pk).first()


def handover_clients(h: Handover) -> QuerySet[HandoverClient]:
    return HandoverClient.objects.filter(handover=h).select_related("client", "receiver")


def checklist_items(h: Handover) -> QuerySet[ChecklistItem]:
    return ChecklistItem.objects.filter(handover=h).select_related("receiver")


def handover_visits(h: Handover) -> QuerySet[Visit]:
    return Visit.objects.filter(handover_client__handover=h).select_related("handover_client__client", "recorded_by")


def handover_phone_checks(h: Handover) -> QuerySet[PhoneCheck]:
    return PhoneCheck.objects.filter(handover_client__handover=h).select_related("handover_client__client", "witness")


def handover_report(h: Handover) -> Report:
    """The report, or an unsaved empty one."""
    return Report.objects.filter(handover=h).first() or Report(handover=h)


def handover_events(h: Handover) -> QuerySet[Event]:
    return Event.objects.filter(handover=h).select_related("actor")


def current_signatures(h: Handover) -> QuerySet[Signature]:
    """The signatures that count now (superseded ones left out), oldest first, without their images."""
    return (
        Signature.objects.filter(handover=h, superseded_at__isnull=True)
        .select_related("signer")
        .defer("image")
        .order_by("signed_at", "pk")
    )
