"""The procedure as data: once per state and once per transition, everything the code needs to know.

The flowchart itself (which transition leads from which state to which, who may move it, what
must be true first) is declared by the `@transition`s on handover.models.Handover; this module
says what each state and transition *means*: its label and stage, who acts, the to-do text,
the deadline days, whether a reason is needed, which signature it carries, what a person is
told while a condition is unmet, the notice it sends, and what follows it. Services, selectors,
notices, reminders and the API read it; handover/tests/test_flow_spec.py fails when a state or
transition of the model has no entry here, or an entry names one the model does not have.

State and SignaturePurpose live here, not in models.py: this module is the bottom of the
handover app (it imports nothing of it), so the model can read the spec when it is declared
(its FSMField choices, the deadlines, the approvals' signatures) without an import cycle and
without importing anything inside a function. Anything that needs rows (the facts a message
counts, the hooks that follow a transition) is named here and provided above: the facts by
handover.signing.Facts, the hooks by handover.services.
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class State(models.TextChoices):
    PLAN = "plan", _("Plan")
    PLAN_REVIEW = "plan_review", _("Plan: supervisor review")
    PLAN_APPROVAL = "plan_approval", _("Plan: manager approval")
    MATERIALS = "materials", _("Materials")
    MATERIALS_REVIEW = "materials_review", _("Materials: supervisor review")
    VISITS = "visits", _("Joint visits")
    VISITS_REVIEW = "visits_review", _("Visits: supervisor review")
    SPOT_CHECK = "spot_check", _("Phone spot-check")
    REPORT = "report", _("Report")
    REPORT_REVIEW = "report_review", _("Report: supervisor review")
    REPORT_APPROVAL = "report_approval", _("Report: manager final approval")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class SignaturePurpose(models.TextChoices):
    # Signed on their own, while the handover is at the state named in SIGNED_AT below.
    MATERIALS_RECEIPT = "materials_receipt", _("Receipt of the materials")
    VISITS = "visits", _("Joint visits record")
    CHECKLIST = "checklist", _("Three-party handover checklist")
    # Signed in the same action as the approval they belong to (the transition's `signature`).
    PLAN_REVIEW = "plan_review", _("Plan review")
    PLAN_APPROVAL = "plan_approval", _("Plan approval")
    MATERIALS_REVIEW = "materials_review", _("Materials review")
    VISITS_REVIEW = "visits_review", _("Joint visits review")
    REPORT_REVIEW = "report_review", _("Report review")
    REPORT_APPROVAL = "report_approval", _("Final approval")


class Party(models.TextChoices):
    """Who acts. The four people are the handover's fields of the same name (departing_id ...)."""

    DEPARTING = "departing"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    WITNESS = "witness"
    # The receivers with something waiting for them in the state (items to confirm, clients to visit).
    RECEIVERS = "receivers"
    # Cancelling: the manager or HR, never the departing person (models.may_cancel).
    MANAGER_OR_HR = "manager_or_hr"
    # Who hears that a handover closed (StateSpec.told): the handover's default receiver, the
    # receiver of each of its clients, and every active HR person.
    DEFAULT_RECEIVER = "default_receiver"
    EVERY_RECEIVER = "every_receiver"
    HR = "hr"


# ---------------------------------------------------------------------------------------
# States


@dataclass(frozen=True)
class StateSpec:
    # The stage of the progress bar the state belongs to (STAGES); None: shown on none.
    stage: str | None
    # Whose to-do the state is (the inbox, the reminders); None for a closed state.
    by: Party | None = None
    # Others who act there too, when something waits for them.
    also: tuple[Party, ...] = ()
    # The to-do line in `by`'s inbox.
    todo: str = ""
    # Working days the state may take by default (the company changes them in StageDuration).
    days: int = 0
    # A closed state: who hears that the handover ended so (handover/notify.py).
    told: tuple[Party, ...] = ()
    # Signatures every signer of this purpose gives before `by` acts (SIGNATURES[...].at is this
    # state): until the last is in, the signers are told to sign (SignatureSpec.notice), and
    # `by`'s to-do, notice and reminders wait; the last signature brings them.
    signed_first: SignaturePurpose | None = None
    # The part of the procedure (PARTS) the state belongs to, where it is not its stage.
    part: str = ""
    # What follows whenever a transition enters the state, after the transition's own `after`
    # (hooks of handover.services): the state's preparation, whichever part the handover came from.
    entered: tuple[str, ...] = ()

    @property
    def actors(self) -> tuple[Party, ...]:
        return (self.by, *self.also) if self.by else ()


STATES: dict[State, StateSpec] = {
    State.PLAN: StateSpec(
        "plan",
        Party.DEPARTING,
        todo=_("Fill in the handover plan for every client and submit it for review"),
        days=3,
    ),
    State.PLAN_REVIEW: StateSpec("plan", Party.SUPERVISOR, todo=_("Review the handover plan"), days=1),
    State.PLAN_APPROVAL: StateSpec("plan", Party.MANAGER, todo=_("Approve the handover plan"), days=1),
    State.MATERIALS: StateSpec(
        "materials",
        Party.DEPARTING,
        also=(Party.RECEIVERS,),
        todo=_("Hand over the materials; submit once the receivers have confirmed every item"),
        days=3,
    ),
    State.MATERIALS_REVIEW: StateSpec("materials", Party.SUPERVISOR, todo=_("Review the materials handover"), days=1),
    State.VISITS: StateSpec(
        "visits",
        Party.DEPARTING,
        also=(Party.RECEIVERS,),
        todo=_("Visit the clients with their receivers, record the visits and submit them"),
        days=7,
    ),
    State.VISITS_REVIEW: StateSpec("visits", Party.SUPERVISOR, todo=_("Review the joint visits"), days=1),
    State.SPOT_CHECK: StateSpec(
        "spot_check",
        Party.WITNESS,
        todo=_("Phone the sampled clients (spot-check)"),
        days=2,
        entered=("draw_sample",),
    ),
    State.REPORT: StateSpec(
        "report",
        Party.DEPARTING,
        todo=_("Write the handover report and submit it"),
        days=2,
        entered=("draft_report",),
    ),
    State.REPORT_REVIEW: StateSpec("report", Party.SUPERVISOR, todo=_("Review the handover report"), days=1),
    State.REPORT_APPROVAL: StateSpec(
        "report",
        Party.MANAGER,
        todo=_("Give the final approval of the handover report"),
        days=1,
        signed_first=SignaturePurpose.CHECKLIST,
        part="approval",
        entered=("figures_without_report",),
    ),
    State.COMPLETED: StateSpec("completed", told=(Party.DEPARTING, Party.SUPERVISOR, Party.EVERY_RECEIVER, Party.HR)),
    State.CANCELLED: StateSpec(
        None, told=(Party.DEPARTING, Party.DEFAULT_RECEIVER, Party.SUPERVISOR, Party.WITNESS, Party.MANAGER)
    ),
}

# The progress bar, in order: (key, label); the states of each come from STATES.
STAGE_LABELS = {
    "plan": _("Plan"),
    "materials": _("Materials"),
    "visits": _("Joint visits"),
    "spot_check": _("Phone spot-check"),
    "report": _("Report"),
    "completed": _("Completed"),
}
STAGES = [(key, label, [s for s, spec in STATES.items() if spec.stage == key]) for key, label in STAGE_LABELS.items()]

OPEN_STATES = [s for s, spec in STATES.items() if spec.by is not None]
CLOSED_STATES = [s for s in STATES if s not in OPEN_STATES]
# Working days each state may take by default, in the order of the procedure.
DEFAULT_STATE_DAYS = {s: spec.days for s, spec in STATES.items() if spec.days}
# The departing person's own work: a return lands in one of these, and its reason is for them.
WORK_STATES = {s for s, spec in STATES.items() if spec.by == Party.DEPARTING}
# States where receivers act too.
RECEIVER_STATES = {s for s, spec in STATES.items() if Party.RECEIVERS in spec.also}


# ---------------------------------------------------------------------------------------
# Parts of the procedure: which ones a kind of handover goes through (handover.models.ProcedureVariant,
# edited in the admin, copied onto each handover when it starts: Handover.parts)


class Part(models.TextChoices):
    PLAN = "plan", _("Plan")
    MATERIALS = "materials", _("Materials")
    VISITS = "visits", _("Joint visits")
    SPOT_CHECK = "spot_check", _("Phone spot-check")
    REPORT = "report", _("Report")
    APPROVAL = "approval", _("Final approval")


def part_of(state: str) -> str | None:
    spec = STATES[state]
    return spec.part or spec.stage if spec.by else None


# Every handover goes through the plan and the final approval: the plan says who receives what, and
# the final approval is the manager's signature under which the clients move, after the departing
# person, the receivers and the witness have signed the checklist. The other parts a company may
# leave out for a kind of handover.
REQUIRED_PARTS = (Part.PLAN, Part.APPROVAL)
OPTIONAL_PARTS = tuple(p for p in Part if p not in REQUIRED_PARTS)
ALL_PARTS = tuple(Part.values)
# A part kept only with another, and what a company is told that leaves the other out.
PART_NEEDS = {
    Part.SPOT_CHECK: (
        Part.VISITS,
        _("The phone spot-check needs the joint visits: the witness phones a sample of the clients visited jointly."),
    ),
}


def parts_problem(parts) -> str:
    """Why a handover cannot go through exactly these parts ("" when it can)."""
    parts = set(parts)
    if unknown := parts - set(ALL_PARTS):
        return _("Unknown part of the procedure: %(parts)s.") % {"parts": ", ".join(sorted(unknown))}
    for part in REQUIRED_PARTS:
        if part not in parts:
            return _("Every handover goes through the %(part)s: its signatures are what the clients move under.") % {
                "part": Part(part).label
            }
    for part, (needed, message) in PART_NEEDS.items():
        if part in parts and needed not in parts:
            return str(message)
    return ""


def path(parts) -> list[State]:
    """The open states a handover going through these parts passes, in the procedure's order."""
    return [s for s in OPEN_STATES if part_of(s) in parts]


def forward_from(parts, state: str) -> State:
    """Where moving on from this state leads: the next state on the path (after the last: completed)."""
    states = path(parts)
    i = states.index(state)
    return states[i + 1] if i + 1 < len(states) else State.COMPLETED


def back_from(parts, state: str) -> State:
    """Where a return from this state leads: the departing person's work last before it on the path."""
    states = path(parts)
    return next(s for s in reversed(states[: states.index(state)]) if s in WORK_STATES)


def todo_states(party: Party) -> list[State]:
    return [s for s, spec in STATES.items() if spec.by == party]


# The tabs of the handover page (its workspace): /handovers/<pk>/?tab=<key>, rows anchored as
# #client-<handover client pk> and #item-<checklist item pk>. Every notice links to one.
TABS = ("mine", "plan", "materials", "visits", "spot_check", "report", "notices", "surveys", "timeline")


def tab_of(state: str) -> str:
    """The tab where the work of a state is done (a completed handover: its report; cancelled: the timeline)."""
    if state == State.COMPLETED:
        return "report"
    stage = STATES[state].stage
    return stage if stage in TABS else "timeline"


# ---------------------------------------------------------------------------------------
# What a person is told while something they want to do cannot be done yet


@dataclass(frozen=True)
class Unmet:
    """What a person is told while a condition of a step (a transition or a signature) does not hold.

    `fact` names what handover.signing.Facts counts for it (its `n` and `names`); `blocked` is
    the refusal of the step (services), `hint` the line about it on the handover page. Of a
    transition's entries the first whose fact holds is told, and when none holds, the last one.
    """

    fact: str
    blocked: str
    hint: str = ""


def _told(entry: Unmet, facts, hint: bool) -> str:
    text = entry.hint if hint else entry.blocked
    return str(text) % facts.params(entry.fact) if text else ""


# ---------------------------------------------------------------------------------------
# Signatures of their own (the approvals' are the transitions' `signature`)


@dataclass(frozen=True)
class SignatureSpec:
    # The state it is given in.
    at: State
    # Whose data the signature covers depends on the signer (their own items or clients).
    per_signer: bool
    # The line in the inbox of whoever still has to sign, and the button that signs.
    todo: str
    label: str
    # What the signer must have done first (handover.signing.Facts for that signer).
    unmet: Unmet | None = None
    # The notice (WORK_NOTICES) each signer gets when signing becomes possible for them, when the
    # state is reached; "" when their to-do alone tells them.
    notice: str = ""


SIGNATURES = {
    SignaturePurpose.MATERIALS_RECEIPT: SignatureSpec(
        State.MATERIALS,
        per_signer=True,
        todo=_("Confirmed: now sign the receipt of the materials"),
        label=_("Sign the receipt of the materials"),
        unmet=Unmet(
            "my_items_unconfirmed",
            _("Confirm every item handed over to you before you sign the receipt."),
            _("Confirm every item handed over to you; then sign the receipt here."),
        ),
    ),
    SignaturePurpose.VISITS: SignatureSpec(
        State.VISITS,
        per_signer=True,
        todo=_("Sign the record of the joint visits to your clients"),
        label=_("Sign the record of the joint visits"),
        unmet=Unmet(
            "my_visit_gaps",
            _(
                "%(n)d of your clients have no joint visit confirmed by both salespeople yet "
                "(A clients need a visit in person), e.g. %(names)s."
            ),
            _("Once every client of yours has a joint visit confirmed by both of you, sign here."),
        ),
    ),
    SignaturePurpose.CHECKLIST: SignatureSpec(
        State.REPORT_APPROVAL,
        per_signer=False,
        todo=_("Sign the three-party handover checklist"),
        label=_("Sign the handover checklist"),
        notice="sign_checklist",
    ),
}
SIGNED_AT = {purpose: spec.at for purpose, spec in SIGNATURES.items()}
PER_SIGNER = {purpose for purpose, spec in SIGNATURES.items() if spec.per_signer}


def sign_unmet_message(purpose: str, facts, *, hint: bool = False) -> str:
    """Why this signer cannot sign yet ("" when they can): the refusal, or the page's line."""
    entry = SIGNATURES[purpose].unmet
    if entry is None or not facts.holds(entry.fact):
        return ""
    return _told(entry, facts, hint)


# ---------------------------------------------------------------------------------------
# Transitions


class Notice(models.TextChoices):
    """The title of the notice a transition sends to whoever must act next (handover/notify.py)."""

    NEEDS_YOU = "needs_you"
    SENT_BACK = "sent_back"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


NOTICE_TITLES = {
    Notice.NEEDS_YOU: _("Handover %(number)s needs you: %(state)s"),
    Notice.SENT_BACK: _("Handover %(number)s was sent back to you: %(state)s"),
    Notice.COMPLETED: _("Handover %(number)s is completed"),
    Notice.CANCELLED: _("Handover %(number)s was cancelled"),
}


@dataclass(frozen=True)
class WorkNotice:
    """A notice of the work inside a state (handed over, disputed, all confirmed, sign now).

    `title` takes %(number)s (the handover) and %(n)d (how many rows, where it counts some); the
    link opens `tab` of the handover page, at the row (#item-<pk> or #client-<pk>) when the notice
    is about one. Who gets it is said where it is sent from: the receivers of the items of one
    hand-over (one notice each per action, not per item), the departing person of a dispute, the
    mover of a transition that became possible (TransitionSpec.ready), the signers the state waits
    for (StateSpec.signed_first, SignatureSpec.notice).
    """

    title: str
    tab: str


WORK_NOTICES = {
    "items_waiting": WorkNotice(
        _("Handover %(number)s: %(n)d item(s) handed over to you wait for your confirmation"), "materials"
    ),
    "item_disputed": WorkNotice(_("Handover %(number)s: a receiver disputed an item"), "materials"),
    "materials_confirmed": WorkNotice(
        _("Handover %(number)s: every receiver has confirmed the materials; submit them for review"), "materials"
    ),
    "visits_confirmed": WorkNotice(
        _("Handover %(number)s: every receiver has signed the joint visits; submit them for review"), "visits"
    ),
    "sign_checklist": WorkNotice(_("Handover %(number)s: please sign the three-party handover checklist"), "report"),
}


@dataclass(frozen=True)
class TransitionSpec:
    label: str
    # Who moves it; the model's `permission=` is the check of this party (test_flow_spec).
    by: Party
    # A return or a cancellation: the reason is read by the person who must act next.
    reason: bool = False
    # An approval: the approver's signature, given in the same action.
    signature: SignaturePurpose | None = None
    unmet: tuple[Unmet, ...] = ()
    notice: Notice = Notice.NEEDS_YOU
    # What follows, in this order, inside the transition's transaction (hooks of handover.services).
    after: tuple[str, ...] = ()
    # The notice (WORK_NOTICES) its mover gets when the others' work makes it possible.
    ready: str = ""


NOT_POSSIBLE_YET = _("This step is not possible yet.")
SIGN_TO_APPROVE = Unmet(
    "approval_unsigned", _("Sign to approve: draw your signature or type your full name, and enter your password.")
)
CALLS_PENDING = Unmet(
    "calls_pending",
    _("%(n)d sampled client(s) have not been called yet."),
    _("%(n)d sampled client(s) still to call."),
)

TRANSITIONS: dict[str, TransitionSpec] = {
    "submit_plan": TransitionSpec(
        _("Submit the plan for review"),
        Party.DEPARTING,
        unmet=(
            Unmet(
                "plan_gaps",
                _("The plan is incomplete for %(n)d client(s), e.g. %(names)s."),
                _("The plan is incomplete for %(n)d client(s)."),
            ),
        ),
    ),
    "approve_plan_review": TransitionSpec(
        _("Pass the plan on to the manager"),
        Party.SUPERVISOR,
        signature=SignaturePurpose.PLAN_REVIEW,
        unmet=(SIGN_TO_APPROVE,),
    ),
    "return_plan_review": TransitionSpec(_("Return the plan"), Party.SUPERVISOR, reason=True, notice=Notice.SENT_BACK),
    "approve_plan": TransitionSpec(
        _("Approve the plan"), Party.MANAGER, signature=SignaturePurpose.PLAN_APPROVAL, unmet=(SIGN_TO_APPROVE,)
    ),
    "return_plan": TransitionSpec(_("Return the plan"), Party.MANAGER, reason=True, notice=Notice.SENT_BACK),
    "submit_materials": TransitionSpec(
        _("Submit the materials for review"),
        Party.DEPARTING,
        unmet=(
            Unmet(
                "unconfirmed_items",
                _("%(n)d item(s) are not yet confirmed by their receiver."),
                _("%(n)d item(s) are not yet confirmed by their receiver."),
            ),
            Unmet(
                "receipt_unsigned",
                _("The receipt of the materials still needs the signature of %(names)s."),
                _("%(n)d receiver(s) still have to sign the receipt of the materials."),
            ),
        ),
        ready="materials_confirmed",
    ),
    "approve_materials": TransitionSpec(
        _("Approve the materials handover"),
        Party.SUPERVISOR,
        signature=SignaturePurpose.MATERIALS_REVIEW,
        unmet=(SIGN_TO_APPROVE,),
    ),
    "return_materials": TransitionSpec(
        _("Return the materials"), Party.SUPERVISOR, reason=True, notice=Notice.SENT_BACK
    ),
    "submit_visits": TransitionSpec(
        _("Submit the joint visits for review"),
        Party.DEPARTING,
        unmet=(
            Unmet(
                "visit_gaps",
                _(
                    "%(n)d client(s) have no visit confirmed by both salespeople (A clients need a visit in person), "
                    "e.g. %(names)s."
                ),
                _("%(n)d client(s) still need a joint visit confirmed by both salespeople (A clients in person)."),
            ),
            Unmet(
                "visits_unsigned",
                _("The record of the joint visits still needs the signature of %(names)s."),
                _("%(n)d receiver(s) still have to sign the record of the joint visits."),
            ),
        ),
        ready="visits_confirmed",
    ),
    "approve_visits": TransitionSpec(
        _("Approve the joint visits"),
        Party.SUPERVISOR,
        signature=SignaturePurpose.VISITS_REVIEW,
        unmet=(SIGN_TO_APPROVE,),
    ),
    "return_visits": TransitionSpec(
        _("Return the joint visits"), Party.SUPERVISOR, reason=True, notice=Notice.SENT_BACK
    ),
    "finish_spot_check": TransitionSpec(
        _("Finish the spot-check"),
        Party.WITNESS,
        unmet=(
            CALLS_PENDING,
            Unmet(
                "unaware",
                _("Some clients said they were unaware of the handover; return them to joint visits."),
                _("A client said they were unaware of the handover; return it to joint visits."),
            ),
        ),
    ),
    "return_spot_check": TransitionSpec(
        _("Return to joint visits (client unaware)"),
        Party.WITNESS,
        reason=True,
        unmet=(
            CALLS_PENDING,
            Unmet("none_unaware", _("No client said they were unaware; finish the spot-check instead.")),
        ),
        notice=Notice.SENT_BACK,
        after=("supersede_unaware",),
    ),
    "submit_report": TransitionSpec(
        _("Submit the report for review"),
        Party.DEPARTING,
        unmet=(Unmet("summary_missing", _("Write the report summary first."), _("Write the report summary first.")),),
        after=("fill_report_figures",),
    ),
    "approve_report_review": TransitionSpec(
        _("Pass the report on to the manager"),
        Party.SUPERVISOR,
        signature=SignaturePurpose.REPORT_REVIEW,
        unmet=(SIGN_TO_APPROVE,),
    ),
    "return_report_review": TransitionSpec(
        _("Return the report"), Party.SUPERVISOR, reason=True, notice=Notice.SENT_BACK
    ),
    # The manager's signature is the last one: completion then archives the signed confirmation.
    "approve_report": TransitionSpec(
        _("Give final approval: hand the clients over"),
        Party.MANAGER,
        signature=SignaturePurpose.REPORT_APPROVAL,
        unmet=(
            Unmet(
                "checklist_unsigned",
                _("The handover checklist still needs the signature of %(names)s."),
                _("%(n)d signature(s) of the handover checklist are still missing."),
            ),
            SIGN_TO_APPROVE,
        ),
        notice=Notice.COMPLETED,
        after=("transfer_ownership", "create_duties", "queue_archive"),
    ),
    # Back to the report, or where the handover goes through none, to the departing person's last work kept.
    "return_report": TransitionSpec(
        _("Send back from the final approval"), Party.MANAGER, reason=True, notice=Notice.SENT_BACK
    ),
    "cancel": TransitionSpec(_("Cancel the handover"), Party.MANAGER_OR_HR, reason=True, notice=Notice.CANCELLED),
}

TRANSITION_NAMES = list(TRANSITIONS)
TRANSITIONS_NEEDING_REASON = {name for name, spec in TRANSITIONS.items() if spec.reason}
# Each approval carries the approver's signature, made in the same action.
APPROVAL_SIGNATURES = {name: spec.signature for name, spec in TRANSITIONS.items() if spec.signature}
# Who signs each approval's purpose: the party that moves the approval.
APPROVERS = {spec.signature: spec.by for spec in TRANSITIONS.values() if spec.signature}


def unmet_message(name: str, facts, *, hint: bool = False) -> str:
    """What a person is told while the transition cannot be done: the refusal, or the page's hint.

    `facts` answers facts.holds(fact) and facts.params(fact) (handover.signing.Facts).
    """
    entries = TRANSITIONS[name].unmet
    if not entries:
        return "" if hint else str(NOT_POSSIBLE_YET)
    entry = next((e for e in entries if facts.holds(e.fact)), entries[-1])
    return _told(entry, facts, hint)
