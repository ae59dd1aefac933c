"""The handover and the company's flowchart, top to bottom.

    plan ─▶ plan_review ─▶ plan_approval ─▶ materials ─▶ materials_review ─▶ visits
      ▲          │ N             │ N            ▲               │ N             ▲  │
      └──────────┴───────────────┘              └───────────────┘               │  ▼
                                                                  visits_review ◀┘
    spot_check ◀─ visits_review (Y)        spot_check ─(client unaware)─▶ visits
    spot_check ─▶ report ─▶ report_review ─▶ report_approval ─▶ completed
                    ▲            │ N               │ N
                    └────────────┴─────────────────┘
    any open state ─▶ cancelled (HR or the manager, with a reason)

That is the full procedure. A kind of handover may leave parts of it out (ProcedureVariant, in
the admin; copied onto Handover.parts when it starts): an approval leaving a part then leads to
the first state of the next part kept, and the manager's return from the final approval to the
departing person's last work kept (flow.forward_from / flow.back_from). The plan and the final
approval are never left out.

Signatures: each receiver signs the receipt of the materials (at materials) and the record
of the joint visits (at visits); the supervisor and the manager sign every approval as they
give it; the departing person, every receiver and the witness sign the final checklist at
report_approval, before the manager's final approval, whose signature is the last.

Each transition names who may move it (`permission`) and what must be true first
(`conditions`, which ask handover/rules.py). Conditions only read; transition bodies only set
fields. What each state and transition means (label, to-do, deadline days, reason, signature,
messages, notices, what follows) is declared once in the flow spec, handover/flow.py. Everything with a
side effect (the timeline, drawing the spot-check sample, moving ownership) lives in
handover/services/, which calls these transitions inside a transaction.
"""

import datetime
import string
from typing import Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django_fsm import GET_STATE, ConcurrentTransitionMixin, FSMField, transition

from clients.models import FollowUpKind, Grade, LimitedTextField, PlainCharField
from clients.validators import LONG_TEXT_MAX_LENGTH

from . import rules
from .choices import CallResult, ItemStatus, RiskLevel, VisitMode
from .codes import new_verification_code

# The states, their stages and deadline days, the signatures and what each transition means are
# the flow spec's (handover/flow.py). These are read from the models by many; they stay importable here.
from .flow import (  # noqa: F401
    ALL_PARTS,
    APPROVAL_SIGNATURES,
    CLOSED_STATES,
    DEFAULT_STATE_DAYS,
    OPEN_STATES,
    OPTIONAL_PARTS,
    PART_NEEDS,
    SIGNED_AT,
    STAGES,
    TRANSITION_NAMES,
    TRANSITIONS_NEEDING_REASON,
    Part,
    SignaturePurpose,
    State,
    back_from,
    forward_from,
    parts_problem,
    path,
)
from .policy import is_departing, is_manager, is_supervisor, is_witness, may_cancel
from .storage import archive_storage


class Reason(models.TextChoices):
    RESIGNATION = "resignation", _("Resignation")
    TRANSFER = "transfer", _("Transfer")
    LONG_LEAVE = "long_leave", _("Long leave")
    MATERNITY_LEAVE = "maternity_leave", _("Maternity leave")
    TEMPORARY_TRANSFER = "temporary_transfer", _("Temporary transfer")


# A cover, not a departure: the person comes back on a return date, and their clients with them.
COVER_REASONS = frozenset({Reason.LONG_LEAVE, Reason.MATERNITY_LEAVE, Reason.TEMPORARY_TRANSFER})


class CoverStatus(models.TextChoices):
    PENDING = "pending", _("Cover not yet begun")
    ACTIVE = "active", _("Cover in progress")
    ENDED = "ended", _("Cover ended, clients returned")
    REFUSED = "refused", _("Return refused, clients stay with the cover person")
    CANCELLED = "cancelled", _("Cover cancelled")


# ---------------------------------------------------------------------------------------
# The dates a person types for a handover. Each rule is here once; the services ask it for the
# pages and the API alike. A slip such as 9999-12-31 is refused where it is typed, instead of
# surfacing later in the deadlines and duties computed from it.

# The notice date lies within this many days of the day the handover is started, either way.
NOTICE_WITHIN_DAYS = 366
# The last working day lies at most this many days after the notice date.
MAX_NOTICE_PERIOD_DAYS = 366
# A joint visit is recorded at most this many days after it took place.
VISIT_RECORDED_WITHIN_DAYS = 366


def check_handover_dates(*, notice_date: datetime.date, last_working_day: datetime.date, today: datetime.date):
    earliest = today - datetime.timedelta(days=NOTICE_WITHIN_DAYS)
    latest = today + datetime.timedelta(days=NOTICE_WITHIN_DAYS)
    if not earliest <= notice_date <= latest:
        raise ValidationError(
            {
                "notice_date": _("The notice date must lie within a year of today, from %(earliest)s to %(latest)s.")
                % {"earliest": earliest, "latest": latest}
            }
        )
    if last_working_day < notice_date:
        raise ValidationError({"last_working_day": _("The last working day cannot be before the notice date.")})
    latest = notice_date + datetime.timedelta(days=MAX_NOTICE_PERIOD_DAYS)
    if last_working_day > latest:
        raise ValidationError(
            {
                "last_working_day": _(
                    "The last working day must be at most %(days)d days after the notice date, by %(latest)s."
                )
                % {"days": MAX_NOTICE_PERIOD_DAYS, "latest": latest}
            }
        )


# A cover ends at most this many days after the last working day (two years).
MAX_COVER_DAYS = 731


def check_return_date(*, reason: str, last_working_day: datetime.date, returns_on: datetime.date | None) -> None:
    """A cover (长假、产假、临时调岗) names the day the person comes back; a departure names none."""
    if reason not in COVER_REASONS:
        if returns_on is not None:
            raise ValidationError(
                {"returns_on": _("Only a leave or a temporary transfer has a return date; leave it empty.")}
            )
        return
    if returns_on is None:
        raise ValidationError(
            {"returns_on": _("A leave or a temporary transfer is a cover: give the date the person comes back.")}
        )
    if returns_on <= last_working_day:
        raise ValidationError({"returns_on": _("The return date must be after the last working day.")})
    latest = last_working_day + datetime.timedelta(days=MAX_COVER_DAYS)
    if returns_on > latest:
        raise ValidationError(
            {
                "returns_on": _("The return date must be at most two years after the last working day, by %(latest)s.")
                % {"latest": latest}
            }
        )


def check_planned_visit(h: "Handover", day: datetime.date) -> None:
    """The joint visit is planned within the handover: from the notice to the last working day."""
    if not h.notice_date <= day <= h.last_working_day:
        raise ValidationError(
            {
                "planned_visit_on": _(
                    "The planned visit must be between the notice date and the last working day, "
                    "from %(start)s to %(end)s."
                )
                % {"start": h.notice_date, "end": h.last_working_day}
            }
        )


def check_visit_date(day: datetime.date, *, today: datetime.date) -> None:
    if day > today:
        raise ValidationError({"visited_on": _("A visit cannot be recorded for a future date.")})
    earliest = today - datetime.timedelta(days=VISIT_RECORDED_WITHIN_DAYS)
    if day < earliest:
        raise ValidationError(
            {
                "visited_on": _("A visit is recorded within a year of it: the date must be %(earliest)s or later.")
                % {"earliest": earliest}
            }
        )


def check_visit_mode(*, mode: str, grade: str, client: str) -> None:
    """An A client is visited in person: a visit by phone alone is refused where it is typed."""
    if not rules.visit_mode_counts(mode, grade):
        raise ValidationError(
            {
                "mode": _("%(client)s is an A client: the joint visit must be in person, a call alone does not count.")
                % {"client": client}
            }
        )


# ---------------------------------------------------------------------------------------
# What must be true before a transition. Each takes the handover and only reads. (Who may
# move each one: the party checks of handover/policy.py.)


def plan_is_complete(h) -> bool:
    return h.plan_gaps() == []


def every_item_confirmed(h) -> bool:
    return not h.items.exclude(rules.ITEM_CONFIRMED).exists()


def every_client_visited(h) -> bool:
    return h.visit_gaps() == []


def spot_check_done_and_clean(h) -> bool:
    pending, unaware = h.spot_check_outcome()
    return not pending and not unaware


def spot_check_found_unaware(h) -> bool:
    pending, unaware = h.spot_check_outcome()
    return not pending and bool(unaware)


def report_is_written(h) -> bool:
    return rules.report_written(getattr(h, "report", None))


# Signatures (handover/signing.py): a signature counts only while the data it vouches for is unchanged.
# signing.py reads the models below, so it sits above them: HandoverConfig.ready() hands its
# checker_for down here (use_signature_checker) instead of these conditions importing it.
_signature_checker: list = []


def use_signature_checker(checker_for) -> None:
    _signature_checker[:] = [checker_for]


def _checker(h):
    return _signature_checker[0](h)


def receipts_signed(h) -> bool:
    """Every receiver with items has signed the receipt of exactly what they confirmed."""
    return not _checker(h).missing(SignaturePurpose.MATERIALS_RECEIPT)


def visits_signed(h) -> bool:
    """Every receiver has signed the record of the joint visits to their clients."""
    return not _checker(h).missing(SignaturePurpose.VISITS)


def checklist_signed(h) -> bool:
    """The departing person, every receiver and the witness have signed the final checklist."""
    return not _checker(h).missing(SignaturePurpose.CHECKLIST)


def approver_signed(h) -> bool:
    """The approver signed this approval in the same action (services.handover_transition signs first)."""
    return _checker(h).approval_signed()


# Where a transition that leaves a part of the procedure leads depends on the parts this handover
# goes through (Handover.parts, from its ProcedureVariant): the flow spec's forward_from / back_from.
def _forward(h, *args, **kwargs) -> str:
    return forward_from(h.parts, h.state)


def _back(h, *args, **kwargs) -> str:
    return back_from(h.parts, h.state)


def _onward(*states: State) -> GET_STATE:
    return GET_STATE(_forward, states=list(states))


def all_parts() -> list[str]:
    return list(ALL_PARTS)


class Handover(ConcurrentTransitionMixin, models.Model):
    number = models.CharField(_("handover number"), max_length=20, unique=True)
    departing = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("departing salesperson"),
        on_delete=models.PROTECT,
        related_name="handovers_departing",
    )
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("default receiver"),
        on_delete=models.PROTECT,
        related_name="handovers_receiving",
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("direct supervisor"),
        on_delete=models.PROTECT,
        related_name="handovers_supervising",
    )
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("witness"),
        on_delete=models.PROTECT,
        related_name="handovers_witnessing",
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager in charge"),
        on_delete=models.PROTECT,
        related_name="handovers_managing",
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    notice_date = models.DateField(_("notice date"))
    last_working_day = models.DateField(_("last working day"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.PROTECT,
        related_name="handovers_started",
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    state = FSMField(_("state"), default=State.PLAN, choices=State.choices, protected=True, db_index=True)
    # Bumped on every change, so a form posted from a stale page is refused instead of acting twice.
    version = models.PositiveIntegerField(_("version"), default=1)
    last_return_reason = LimitedTextField(_("reason for the last return"), blank=True)
    cancel_reason = LimitedTextField(_("reason for cancelling"), blank=True)
    sample_seed = models.BigIntegerField(_("spot-check random seed"), null=True, blank=True)
    sample_drawn_at = models.DateTimeField(_("spot-check sample drawn at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    # The parts of the procedure it goes through (flow.Part), copied from its kind's ProcedureVariant
    # when it starts: a later change in the admin does not move a handover already under way.
    parts = models.JSONField(_("parts of the procedure"), default=all_parts)
    # A cover (COVER_REASONS): the person comes back on this day, and their clients with them.
    returns_on = models.DateField(_("return date"), null=True, blank=True)
    # When the clients went back to the absent person, and who ended the cover (None: by itself on the return date).
    cover_ended_at = models.DateTimeField(_("cover ended at"), null=True, blank=True)
    cover_ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cover ended by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The return was refused (the absent person has left or is leaving): the clients stay with the
    # cover person until a proper handover moves them; the scan does not try again.
    cover_refused_at = models.DateTimeField(_("return refused at"), null=True, blank=True)
    cover_refusal = LimitedTextField(_("why the return was refused"), blank=True)

    class Meta:
        verbose_name = _("handover")
        verbose_name_plural = _("handovers")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["departing"],
                condition=~Q(state__in=["completed", "cancelled"]),
                name="one_open_handover_per_person",
            ),
            models.CheckConstraint(
                condition=~Q(receiver=models.F("departing"))
                & ~Q(supervisor=models.F("departing"))
                & ~Q(witness=models.F("departing"))
                & ~Q(manager=models.F("departing"))
                & ~Q(receiver=models.F("supervisor"))
                & ~Q(receiver=models.F("manager")),
                name="handover_parties_independent",
            ),
            models.CheckConstraint(
                condition=Q(last_working_day__gte=models.F("notice_date")), name="handover_last_day_after_notice"
            ),
            models.CheckConstraint(
                condition=Q(returns_on__isnull=True) | Q(returns_on__gt=models.F("last_working_day")),
                name="handover_returns_after_last_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.departing}"

    # --- derived facts the conditions and pages read -----------------------------------

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_completed(self) -> bool:
        return self.state == State.COMPLETED

    @property
    def path(self) -> list[State]:
        """The open states this handover passes, in order (flow.path of its parts)."""
        return path(self.parts)

    def goes_through(self, part: str) -> bool:
        return part in self.parts

    @property
    def is_cover(self) -> bool:
        return self.reason in COVER_REASONS

    @property
    def cover_status(self) -> str:
        """Empty (not a cover), or a CoverStatus: pending until completion, active until it ends or is refused."""
        if not self.is_cover:
            return ""
        if self.cover_ended_at is not None:
            return CoverStatus.ENDED
        if self.cover_refused_at is not None:
            return CoverStatus.REFUSED
        if self.is_completed:
            return CoverStatus.ACTIVE
        if self.state == State.CANCELLED:
            return CoverStatus.CANCELLED
        return CoverStatus.PENDING

    def get_cover_status_display(self) -> str:
        status = self.cover_status
        return str(CoverStatus(status).label) if status else ""

    def plan_gaps(self) -> list["HandoverClient"]:
        return rules.plan_gaps(self.clients.all(), visits=self.goes_through(Part.VISITS))

    def visit_gaps(self) -> list["HandoverClient"]:
        covered = set(
            Visit.objects.filter(handover_client__handover=self)
            .filter(rules.VISIT_COVERS)
            .values_list("handover_client_id", flat=True)
        )
        return [hc for hc in self.clients.all() if hc.pk not in covered]

    def spot_check_outcome(self) -> tuple[list["HandoverClient"], list["HandoverClient"]]:
        """(sampled clients still to call, sampled clients who said they were unaware).

        Kept for the handover's version: the two spot-check transitions both ask, and every change
        to the calls bumps the version."""
        cached = self.__dict__.get("_spot_check_outcome")
        if cached is not None and cached[0] == self.version:
            return cached[1]
        sampled = self.clients.filter(in_sample=True).prefetch_related("phone_checks")
        pending, unaware = rules.call_outcome((hc, hc.phone_checks.all()) for hc in sampled)
        self.__dict__["_spot_check_outcome"] = (self.version, (pending, unaware))
        return pending, unaware

    # --- the flowchart -----------------------------------------------------------------

    @transition(
        state, source=State.PLAN, target=State.PLAN_REVIEW, permission=is_departing, conditions=[plan_is_complete]
    )
    def submit_plan(self):
        self.last_return_reason = ""

    @transition(
        state,
        source=State.PLAN_REVIEW,
        target=State.PLAN_APPROVAL,
        permission=is_supervisor,
        conditions=[approver_signed],
    )
    def approve_plan_review(self):
        pass

    @transition(state, source=State.PLAN_REVIEW, target=State.PLAN, permission=is_supervisor)
    def return_plan_review(self, reason: str = ""):
        self.last_return_reason = reason

    @transition(
        state,
        source=State.PLAN_APPROVAL,
        target=_onward(State.MATERIALS, State.VISITS, State.REPORT, State.REPORT_APPROVAL),
        permission=is_manager,
        conditions=[approver_signed],
    )
    def approve_plan(self):
        pass

    @transition(state, source=State.PLAN_APPROVAL, target=State.PLAN, permission=is_manager)
    def return_plan(self, reason: str = ""):
        self.last_return_reason = reason

    @transition(
        state,
        source=State.MATERIALS,
        target=State.MATERIALS_REVIEW,
        permission=is_departing,
        conditions=[every_item_confirmed, receipts_signed],
    )
    def submit_materials(self):
        self.last_return_reason = ""

    @transition(
        state,
        source=State.MATERIALS_REVIEW,
        target=_onward(State.VISITS, State.REPORT, State.REPORT_APPROVAL),
        permission=is_supervisor,
        conditions=[approver_signed],
    )
    def approve_materials(self):
        pass

    @transition(state, source=State.MATERIALS_REVIEW, target=State.MATERIALS, permission=is_supervisor)
    def return_materials(self, reason: str = ""):
        self.last_return_reason = reason

    @transition(
        state,
        source=State.VISITS,
        target=State.VISITS_REVIEW,
        permission=is_departing,
        conditions=[every_client_visited, visits_signed],
    )
    def submit_visits(self):
        self.last_return_reason = ""

    @transition(
        state,
        source=State.VISITS_REVIEW,
        target=_onward(State.SPOT_CHECK, State.REPORT, State.REPORT_APPROVAL),
        permission=is_supervisor,
        conditions=[approver_signed],
    )
    def approve_visits(self):
        pass

    @transition(state, source=State.VISITS_REVIEW, target=State.VISITS, permission=is_supervisor)
    def return_visits(self, reason: str = ""):
        self.last_return_reason = reason

    @transition(
        state,
        source=State.SPOT_CHECK,
        target=_onward(State.REPORT, State.REPORT_APPROVAL),
        permission=is_witness,
        conditions=[spot_check_done_and_clean],
    )
    def finish_spot_check(self):
        self.last_return_reason = ""

    @transition(
        state,
        source=State.SPOT_CHECK,
        target=State.VISITS,
        permission=is_witness,
        conditions=[spot_check_found_unaware],
    )
    def return_spot_check(self, reason: str = ""):
        self.last_return_reason = reason

    @transition(
        state, source=State.REPORT, target=State.REPORT_REVIEW, permission=is_departing, conditions=[report_is_written]
    )
    def submit_report(self):
        self.last_return_reason = ""

    @transition(
        state,
        source=State.REPORT_REVIEW,
        target=State.REPORT_APPROVAL,
        permission=is_supervisor,
        conditions=[approver_signed],
    )
    def approve_report_review(self):
        pass

    @transition(state, source=State.REPORT_REVIEW, target=State.REPORT, permission=is_supervisor)
    def return_report_review(self, reason: str = ""):
        self.last_return_reason = reason

    # The manager's signature is the last one: completion then archives the signed confirmation.
    @transition(
        state,
        source=State.REPORT_APPROVAL,
        target=State.COMPLETED,
        permission=is_manager,
        conditions=[checklist_signed, approver_signed],
    )
    def approve_report(self):
        self.completed_at = timezone.now()

    @transition(
        state,
        source=State.REPORT_APPROVAL,
        target=GET_STATE(_back, states=[State.REPORT, State.MATERIALS, State.VISITS, State.PLAN]),
        permission=is_manager,
    )
    def return_report(self, reason: str = ""):
        self.last_return_reason = reason

    @transition(state, source=OPEN_STATES, target=State.CANCELLED, permission=may_cancel)
    def cancel(self, reason: str = ""):
        self.cancel_reason = reason


# Every transition by name, in the spec's order: the UI, the API and the tests walk this.
TRANSITIONS = TRANSITION_NAMES
# The approval signed at each state: the approval leaving it carries it (flow spec's `signature`).
APPROVAL_PURPOSE_AT = {
    source: APPROVAL_SIGNATURES[name]
    for name in APPROVAL_SIGNATURES
    for source in getattr(Handover, name)._django_fsm.transitions
}


class StageDeadline(models.Model):
    handover = models.ForeignKey(
        Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="deadlines"
    )
    state = models.CharField(_("state"), max_length=20, choices=State.choices)
    due_on = models.DateField(_("due on"))

    class Meta:
        verbose_name = _("stage deadline")
        verbose_name_plural = _("stage deadlines")
        ordering = ["due_on"]
        constraints = [models.UniqueConstraint(fields=["handover", "state"], name="one_deadline_per_state")]

    def __str__(self) -> str:
        return f"{self.get_state_display()} {self.due_on}"


class HandoverClient(models.Model):
    """One client of the departing person's book in this handover: its plan and its receiver."""

    handover = models.ForeignKey(Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="clients")
    client = models.ForeignKey(
        "clients.Client", verbose_name=_("client"), on_delete=models.PROTECT, related_name="handover_entries"
    )
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("receiver"), on_delete=models.PROTECT, related_name="+"
    )
    # Grade at the start: the visit rule and the sample must not change if someone edits the client midway.
    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices)
    current_status = LimitedTextField(_("current status"), blank=True)
    risks = LimitedTextField(_("risks"), blank=True)
    next_steps = LimitedTextField(_("next steps"), blank=True)
    planned_visit_on = models.DateField(_("planned visit date"), null=True, blank=True)
    in_sample = models.BooleanField(_("in the spot-check sample"), default=False)
    # The client's relationship risk when the sample was drawn (selectors/risk.py): a high one is always
    # drawn, and the draw is redone from the stored seed and these, whatever the risk is today.
    sample_risk = models.CharField(_("risk level at the draw"), max_length=10, choices=RiskLevel.choices, blank=True)
    # The row's own version: every change to this client's plan, receiver, visits and calls bumps
    # it, so two people working on different clients never conflict (the handover's version still
    # guards stage transitions and signatures).
    row_version = models.PositiveIntegerField(_("row version"), default=1)
    # Plan fields filled in from the client book and not yet confirmed by the departing person.
    prefilled = models.JSONField(_("prefilled fields"), default=list, blank=True)
    # The client's receivables as they stood when the handover completed, written in the completing
    # transaction (services.completion.snapshot_receivables): what was outstanding, and what had been
    # received so far, so that the outcome can tell what was collected since (receivables carry no
    # payment dates). Empty for handovers completed before these were kept.
    outstanding_at_completion = models.DecimalField(
        _("outstanding at completion"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    received_at_completion = models.DecimalField(
        _("received by completion"), max_digits=14, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("client in handover")
        verbose_name_plural = _("clients in handover")
        ordering = ["grade", "client__name", "id"]
        constraints = [models.UniqueConstraint(fields=["handover", "client"], name="client_once_per_handover")]

    def __str__(self) -> str:
        return str(self.client)

    def latest_phone_check(self):
        return rules.latest_call(self.phone_checks.all())


class ItemKind(models.TextChoices):
    CLIENT = "client", _("Client")
    CONTRACT = "contract", _("Contract")
    RECEIVABLE = "receivable", _("Receivable")
    OPPORTUNITY = "opportunity", _("Open deal")
    PAPER = "paper", _("Paper material")
    ELECTRONIC = "electronic", _("Electronic material")
    PROPERTY = "property", _("Company property")
    ACCOUNT = "account", _("System account")
    COMMITMENT = "commitment", _("Open commitment")


STANDARD_KINDS = [ItemKind.PAPER, ItemKind.ELECTRONIC, ItemKind.PROPERTY, ItemKind.ACCOUNT, ItemKind.COMMITMENT]


class ChecklistTemplateItem(models.Model):
    """The company's standard items, added to every new handover's checklist."""

    kind = models.CharField(_("kind"), max_length=20, choices=[(k.value, k.label) for k in STANDARD_KINDS])
    title = PlainCharField(_("title"), max_length=200)
    description = LimitedTextField(_("description"), blank=True)
    storage_location = PlainCharField(_("storage place"), max_length=200, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("standard checklist item")
        verbose_name_plural = _("standard checklist items (plan template)")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.title


class ChecklistItem(models.Model):
    handover = models.ForeignKey(Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="items")
    handover_client = models.ForeignKey(
        HandoverClient,
        verbose_name=_("client in handover"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="items",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ItemKind.choices)
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    receivable = models.ForeignKey(
        "clients.Receivable",
        verbose_name=_("receivable"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    opportunity = models.ForeignKey(
        "clients.Opportunity",
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    title = models.CharField(_("title"), max_length=255)
    description = LimitedTextField(_("description"), blank=True)
    storage_location = models.CharField(_("storage place"), max_length=200, blank=True)
    # Kept equal to the client's receiver for client items; standard items have their own.
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("receiver"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("status"), max_length=20, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    dispute_reason = LimitedTextField(_("reason for the dispute"), blank=True)
    # The departing person's answer to the dispute, given as they hand the item over again; the
    # receiver reads it next to the reason. Cleared with the reason (confirmed, disputed anew).
    dispute_reply = LimitedTextField(_("reply to the dispute"), blank=True)
    handed_over_at = models.DateTimeField(_("handed over at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.title


class Visit(models.Model):
    handover_client = models.ForeignKey(
        HandoverClient, verbose_name=_("client in handover"), on_delete=models.CASCADE, related_name="visits"
    )
    visited_on = models.DateField(_("visit date"))
    mode = models.CharField(_("mode"), max_length=20, choices=VisitMode.choices, default=VisitMode.IN_PERSON)
    contact_met = PlainCharField(_("client contact met"), max_length=100)
    outcome = LimitedTextField(_("outcome"))
    concerns = LimitedTextField(_("client's concerns"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    departing_confirmed_at = models.DateTimeField(_("confirmed by the departing person at"), null=True, blank=True)
    receiver_confirmed_at = models.DateTimeField(_("confirmed by the receiver at"), null=True, blank=True)
    # Set when a spot-check call shows the client did not know: the visit must be done again.
    superseded = models.BooleanField(_("superseded"), default=False)

    class Meta:
        verbose_name = _("joint visit")
        verbose_name_plural = _("joint visits")
        ordering = ["visited_on", "id"]

    def __str__(self) -> str:
        return f"{self.handover_client} {self.visited_on}"

    @property
    def is_confirmed(self) -> bool:
        return bool(self.departing_confirmed_at and self.receiver_confirmed_at)


class PhoneCheck(models.Model):
    handover_client = models.ForeignKey(
        HandoverClient, verbose_name=_("client in handover"), on_delete=models.CASCADE, related_name="phone_checks"
    )
    called_at = models.DateTimeField(_("called at"), default=timezone.now)
    result = models.CharField(_("result"), max_length=20, choices=CallResult.choices)
    note = LimitedTextField(_("note"), blank=True)
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("witness"), on_delete=models.PROTECT, related_name="+"
    )
    # Set when the client was sent back to visits: the call is kept but the witness must call again.
    superseded = models.BooleanField(_("superseded"), default=False)

    class Meta:
        verbose_name = _("phone spot-check")
        verbose_name_plural = _("phone spot-checks")
        ordering = ["called_at", "id"]

    def __str__(self) -> str:
        return f"{self.handover_client} {self.get_result_display()}"


class Report(models.Model):
    handover = models.OneToOneField(
        Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="report"
    )
    summary = LimitedTextField(_("summary"), blank=True, max_length=LONG_TEXT_MAX_LENGTH)
    open_risks = LimitedTextField(_("open risks"), blank=True, max_length=LONG_TEXT_MAX_LENGTH)
    advice = LimitedTextField(_("advice to the receiver"), blank=True, max_length=LONG_TEXT_MAX_LENGTH)
    # The figures as they stood when the report was submitted; recomputed on every submit.
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("handover report")
        verbose_name_plural = _("handover reports")

    def __str__(self) -> str:
        return str(self.handover)


class DocumentTemplate(models.Model):
    """The company's templates for the plan and the report (客户交接计划模板、交接总结模板)."""

    class Kind(models.TextChoices):
        PLAN = "plan", _("Plan template")
        REPORT = "report", _("Report template")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, unique=True)
    body = LimitedTextField(_("text"), max_length=LONG_TEXT_MAX_LENGTH)

    class Meta:
        verbose_name = _("document template")
        verbose_name_plural = _("document templates")

    def __str__(self) -> str:
        return self.get_kind_display()


class Event(models.Model):
    """The timeline: every transition, confirmation, dispute, visit, call, return and reassignment."""

    handover = models.ForeignKey(Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=40)
    from_state = models.CharField(_("from state"), max_length=20, blank=True)
    to_state = models.CharField(_("to state"), max_length=20, blank=True)
    comment = LimitedTextField(_("comment"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"


def add_working_days(start: datetime.date, days: int) -> datetime.date:
    current = start
    while days > 0:
        current += datetime.timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


# ---------------------------------------------------------------------------------------
# Deadlines, duties after completion, reminders and notices


# The parts a kind of handover goes through when the company has not said otherwise: a departure
# every part; a cover (the person comes back) the plan, the materials and the final approval.
COVER_PARTS = (Part.PLAN, Part.MATERIALS, Part.APPROVAL)


def default_parts(reason: str) -> list[str]:
    return list(COVER_PARTS) if reason in COVER_REASONS else list(ALL_PARTS)


class ProcedureVariant(models.Model):
    """Which parts of the procedure one kind of handover goes through, and the days of its states.

    The plan and the final approval are always gone through (flow.REQUIRED_PARTS); each optional
    part is a switch named after it. The days a state may take are the variant's own StageDuration
    rows where it has them, else the company's.
    """

    reason = models.CharField(_("kind of handover"), max_length=20, choices=Reason.choices, unique=True)
    materials = models.BooleanField(_("materials"), default=True, help_text=_("Hand over and sign for the materials."))
    visits = models.BooleanField(_("joint visits"), default=True, help_text=_("Visit each client together."))
    spot_check = models.BooleanField(
        _("phone spot-check"), default=True, help_text=_("The witness phones a sample; needs the joint visits.")
    )
    report = models.BooleanField(
        _("report"), default=True, help_text=_("The departing person writes the report; the supervisor reviews it.")
    )

    class Meta:
        verbose_name = _("procedure variant")
        verbose_name_plural = _("procedure variants")
        ordering = ["id"]
        constraints = [
            # flow.PART_NEEDS: the spot-check phones clients visited jointly. The admin's form checks it
            # (Django validates constraints) and tells the company why.
            models.CheckConstraint(
                condition=~Q(spot_check=True, visits=False),
                name="spot_check_needs_visits",
                violation_error_message=PART_NEEDS[Part.SPOT_CHECK][1],
            ),
        ]

    def __str__(self) -> str:
        return self.get_reason_display()

    @property
    def parts(self) -> list[str]:
        return [p for p in ALL_PARTS if p not in OPTIONAL_PARTS or getattr(self, p)]

    @classmethod
    def for_reason(cls, reason: str) -> "ProcedureVariant":
        """The company's variant for this kind, or (none saved) the default one, unsaved."""
        variant = cls.objects.filter(reason=reason).first()
        if variant is None:
            variant = cls(reason=reason, **{p: p in default_parts(reason) for p in OPTIONAL_PARTS})
        return variant


class StageDuration(models.Model):
    """How many working days a state may take; deadlines are computed from these.

    Without a variant: the company's days for every kind of handover; with one: that kind's own.
    """

    variant = models.ForeignKey(
        ProcedureVariant,
        verbose_name=_("procedure variant"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="durations",
    )
    state = models.CharField(
        _("state"), max_length=20, choices=[(s.value, s.label) for s in State if s in DEFAULT_STATE_DAYS]
    )
    working_days = models.PositiveSmallIntegerField(_("working days"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("stage duration")
        verbose_name_plural = _("stage durations")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["state"], condition=Q(variant=None), name="one_company_duration_per_state"),
            models.UniqueConstraint(fields=["variant", "state"], name="one_variant_duration_per_state"),
        ]

    def __str__(self) -> str:
        return f"{self.get_state_display()}: {self.working_days}"


class ReminderPolicy(models.Model):
    """The company's reminder rules; one row, edited in the admin."""

    remind_days_before = models.PositiveSmallIntegerField(_("remind this many days before the due date"), default=1)
    escalate_to_supervisor_after = models.PositiveSmallIntegerField(
        _("escalate to the supervisor after this many days overdue"), default=2
    )
    escalate_to_manager_after = models.PositiveSmallIntegerField(
        _("escalate to the manager after this many days overdue"), default=5
    )
    contact_within_days = models.PositiveSmallIntegerField(
        _("receiver contacts every client within (days after the last working day)"), default=7
    )
    visit_within_days = models.PositiveSmallIntegerField(
        _("receiver visits every client within (days after the last working day)"), default=30
    )
    revoke_within_working_days = models.PositiveSmallIntegerField(
        _("HR revokes system accounts within (working days after the last working day)"), default=1
    )
    webhook_url = models.URLField(
        _("group robot webhook (DingTalk / WeCom)"), blank=True, help_text=_("Leave empty to send no webhook.")
    )

    class Meta:
        verbose_name = _("reminder policy")
        verbose_name_plural = _("reminder policy")

    def __str__(self) -> str:
        return str(_("Reminder policy"))

    @classmethod
    def current(cls) -> "ReminderPolicy":
        policy = cls.objects.order_by("pk").first()
        return policy or cls()


class CoverAccess(models.TextChoices):
    NONE = "none", _("Nothing: the covered clients are hidden from them")
    READ = "read", _("Read only: the client list and pages, no edits")


class CoverPolicy(models.Model):
    """What the absent person may see of their covered clients during a cover; one row, edited in the admin."""

    absent_access = models.CharField(
        _("what the absent person sees of the covered clients"),
        max_length=10,
        choices=CoverAccess.choices,
        default=CoverAccess.NONE,
    )

    class Meta:
        verbose_name = _("cover policy")
        verbose_name_plural = _("cover policy")

    def __str__(self) -> str:
        return str(_("Cover policy"))

    @classmethod
    def current(cls) -> "CoverPolicy":
        policy = cls.objects.order_by("pk").first()
        return policy or cls()


class DutyKind(models.TextChoices):
    CONTACT_CLIENT = "contact_client", _("Contact the client")
    VISIT_CLIENT = "visit_client", _("Visit the client")
    REVOKE_ACCOUNTS = "revoke_accounts", _("Revoke the departing person's system accounts")
    # The supervisor's evaluation of the handover (交接评估), due EVALUATE_AFTER_DAYS after completion.
    EVALUATE_HANDOVER = "evaluate_handover", _("Evaluate the handover")


# The supervisor evaluates the handover this many days after its completion (they may from completion on).
EVALUATE_AFTER_DAYS = 30


# The one rule of which follow-up kinds prove which client duty: any contact proves the contact,
# only a visit proves the visit. Read by the periodic scan and by recording a follow-up alike.
DUTY_PROOF: dict[str, tuple[str, ...]] = {
    DutyKind.CONTACT_CLIENT: (FollowUpKind.VISIT, FollowUpKind.PHONE, FollowUpKind.WECHAT, FollowUpKind.EMAIL),
    DutyKind.VISIT_CLIENT: (FollowUpKind.VISIT,),
}


class Duty(models.Model):
    """What the procedure still asks after completion, per client; closed by the record that proves it."""

    handover = models.ForeignKey(Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="duties")
    kind = models.CharField(_("kind"), max_length=20, choices=DutyKind.choices)
    client = models.ForeignKey(
        "clients.Client", verbose_name=_("client"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Empty for HR duties: anyone holding the HR role may close them.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duties",
    )
    due_on = models.DateField(_("due on"), db_index=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("done by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("duty after handover")
        verbose_name_plural = _("duties after handover")
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["handover", "kind", "client"], name="one_duty_per_kind_and_client"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.client or ''} {self.due_on}"


class ReminderKind(models.TextChoices):
    BEFORE = "before", _("Due soon")
    DUE = "due", _("Due today")
    OVERDUE = "overdue", _("Overdue")
    ESCALATION = "escalation", _("Escalation")


class Reminder(models.Model):
    """One reminder owed to one person; the unique key makes "exactly once a day" hold across workers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="reminders"
    )
    handover = models.ForeignKey(
        Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="reminders"
    )
    # A state of the handover, or a duty kind after completion.
    stage = models.CharField(_("stage"), max_length=20)
    kind = models.CharField(_("kind"), max_length=20, choices=ReminderKind.choices)
    day = models.DateField(_("day"))
    due_on = models.DateField(_("due on"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-day", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "handover", "stage", "kind", "day"], name="reminder_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.stage} {self.kind} {self.day}"


# ---------------------------------------------------------------------------------------
# Signatures and the archived, sealed confirmation


class SignatureMethod(models.TextChoices):
    DRAWN = "drawn", _("Drawn")
    TYPED = "typed", _("Typed")


class Signature(models.Model):
    """One person's signature on one stage: what they vouched for is pinned by content_sha256.

    The hash is of a canonical JSON of the data signed (handover/signing.py). A signature whose
    data has changed since no longer counts; the person signs again, and the old one is kept
    with superseded_at set.
    """

    handover = models.ForeignKey(
        Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="signatures"
    )
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("signer"), on_delete=models.PROTECT, related_name="+"
    )
    purpose = models.CharField(_("purpose"), max_length=20, choices=SignaturePurpose.choices)
    method = models.CharField(_("method"), max_length=10, choices=SignatureMethod.choices)
    typed_name = models.CharField(_("typed name"), max_length=100, blank=True)
    # The drawn signature as a PNG, re-encoded by the server; empty for a typed one.
    image = models.BinaryField(_("image"), blank=True, editable=False)
    content_sha256 = models.CharField(_("SHA-256 of the content signed"), max_length=64)
    handover_state = models.CharField(_("state when signed"), max_length=20, choices=State.choices)
    handover_version = models.PositiveIntegerField(_("version when signed"))
    signed_at = models.DateTimeField(_("signed at"), default=timezone.now)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["signed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["handover", "signer", "purpose"],
                condition=Q(superseded_at__isnull=True),
                name="one_current_signature_per_purpose",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.signer} {self.signed_at:%Y-%m-%d %H:%M}"


def _archive_storage():
    return archive_storage()


def _verification_code() -> str:
    return new_verification_code()


class ArchivedDocument(models.Model):
    """The final signed confirmation as printed: stored once, with its hash, never replaced."""

    handover = models.OneToOneField(
        Handover, verbose_name=_("handover"), on_delete=models.PROTECT, related_name="archive"
    )
    file = models.FileField(_("file"), upload_to="archive/", storage=_archive_storage, max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    size = models.PositiveIntegerField(_("size in bytes"))
    verification_code = models.CharField(_("verification code"), max_length=14, unique=True, default=_verification_code)
    sealed = models.BooleanField(_("sealed with the company certificate"), default=False)
    seal_signer = models.CharField(_("seal certificate subject"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("archived at"), default=timezone.now)

    IMMUTABLE = ("handover_id", "file", "sha256", "size", "verification_code", "sealed", "seal_signer", "created_at")

    class Meta:
        verbose_name = _("archived confirmation")
        verbose_name_plural = _("archived confirmations")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.handover.number} {self.sha256[:12]}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            stored = type(self).objects.filter(pk=self.pk).values(*self.IMMUTABLE).first()
            if stored is not None:
                current = {f: getattr(self, f) for f in self.IMMUTABLE}
                current["file"] = self.file.name
                if any(stored[f] != current[f] for f in self.IMMUTABLE):
                    raise ValueError("An archived document is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("An archived document is never deleted.")


class ArchiveJobState(models.TextChoices):
    PENDING = "pending", _("waiting")
    RUNNING = "running", _("being made")
    FAILED = "failed", _("failed")
    DONE = "done", _("done")


class ArchiveJob(models.Model):
    """The making of a completed handover's archived confirmation, written in the completion's own
    transaction: a broker that is down cannot lose it, and the pages show how far it has got."""

    handover = models.OneToOneField(
        # The job is only about making the archive; the archive itself (ArchivedDocument) is protected.
        Handover,
        verbose_name=_("handover"),
        on_delete=models.CASCADE,
        related_name="archive_job",
    )
    state = models.CharField(
        _("state"), max_length=10, choices=ArchiveJobState.choices, default=ArchiveJobState.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.CharField(_("last error"), max_length=500, blank=True)
    # The address the approver reached the site at, for the printed verification link when
    # SITE_URL is not set (the job runs with no request).
    site_url = models.CharField(_("site address"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("archive job")
        verbose_name_plural = _("archive jobs")

    def __str__(self) -> str:
        return f"{self.handover_id} {self.state}"


class ConfirmationAnnex(models.Model):
    """The confirmation's annex printed ahead, once the three parties have signed the checklist
    (handover/pdf.py render_confirmation_annex): the archive joins it to the cover it prints at the
    approval if the annex it would print then is the same (the SHA-256 of its HTML), so the final
    approval is archived within seconds even for hundreds of clients. A stale one is printed again."""

    handover = models.OneToOneField(
        Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="confirmation_annex"
    )
    html_sha256 = models.CharField(_("SHA-256 of the printed HTML"), max_length=64)
    pdf = models.BinaryField(_("PDF"))
    pages = models.PositiveIntegerField(_("pages"), default=0)
    printed_at = models.DateTimeField(_("printed at"), default=timezone.now)

    class Meta:
        verbose_name = _("confirmation annex printed ahead")
        verbose_name_plural = _("confirmation annexes printed ahead")

    def __str__(self) -> str:
        return f"{self.handover_id} {self.html_sha256[:12]}"


class IdempotencyKey(models.Model):
    """An API write's Idempotency-Key and the answer it got, so that a repeat acts no more.

    Written in the same transaction as the write itself (handover/idempotency.py).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("idempotency key"), max_length=255)
    # What was asked: a repeat must be the same request (method, path and body).
    endpoint = models.CharField(_("method and path"), max_length=200)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"), default=0)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    body = models.TextField(_("response body"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("API idempotency key")
        verbose_name_plural = _("API idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.key}"


# ---------------------------------------------------------------------------------------
# The client notice (客户告知函): what each client is told, by which channel, and their answer


# The placeholders the wording of the notice may use (ClientNoticeTemplate); filled in per client.
NOTICE_PLACEHOLDERS = (
    "company",
    "client",
    "receiver",
    "receiver_phone",
    "receiver_email",
    "effective_date",
    "departing",
    "link",
)
# SMS and WeChat take at most this many characters, the link included.
SHORT_TEXT_MAX = 200


def _in_company_language(text, placeholders) -> str:
    """A default wording, in the company's language, its %(name)s placeholders as {name} (the
    translated defaults keep their placeholders so; str.format_map fills them in)."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text) % {name: "{" + name + "}" for name in placeholders}


def placeholder_errors(obj, fields, known) -> dict:
    """The wording fields of a template whose {placeholders} are malformed or unknown."""
    errors = {}
    for name in fields:
        try:
            used = {f for _t, f, _s, _c in string.Formatter().parse(getattr(obj, name) or "") if f is not None}
        except ValueError:
            errors[name] = _("Unbalanced braces: write a placeholder as {client}.")
            continue
        unknown = sorted(used - set(known))
        if unknown:
            errors[name] = _("Unknown placeholder %(names)s; use: %(known)s.") % {
                "names": ", ".join(unknown),
                "known": ", ".join("{" + n + "}" for n in known),
            }
    return errors


class LinkWording(models.Model):
    """The company's wording of a client's link (the notice, the survey): one row, edited in the
    admin; its email subject, letter and short text may use the use's PLACEHOLDERS."""

    PLACEHOLDERS: tuple[str, ...] = ()
    WORDING = ("email_subject", "letter", "short_text")

    class Meta:
        abstract = True

    def clean(self):
        errors = placeholder_errors(self, self.WORDING, self.PLACEHOLDERS)
        errors.update(self.setting_errors())
        if errors:
            raise ValidationError(errors)

    def setting_errors(self) -> dict:
        """The errors of the use's other settings, with the wording's."""
        return {}

    @classmethod
    def current(cls) -> Self:
        return cls.objects.order_by("pk").first() or cls()


def default_notice_subject() -> str:
    return _in_company_language(_("%(company)s: your new contact from %(effective_date)s"), NOTICE_PLACEHOLDERS)


def default_notice_letter() -> str:
    return _in_company_language(
        _(
            "Dear %(client)s,\n\nFrom %(effective_date)s your contact at %(company)s is %(receiver)s "
            "(phone %(receiver_phone)s, email %(receiver_email)s), who takes over from %(departing)s.\n\n"
            "%(departing)s thanks you warmly for your trust and cooperation. %(receiver)s knows your "
            "business and will serve you as before.\n\nPlease tell us that you have received this "
            "notice, or whether you would like another contact: %(link)s"
        ),
        NOTICE_PLACEHOLDERS,
    )


def default_notice_short() -> str:
    return _in_company_language(
        _(
            "%(company)s: from %(effective_date)s your contact is %(receiver)s, %(receiver_phone)s, "
            "taking over from %(departing)s, who thanks you. Please confirm: %(link)s"
        ),
        NOTICE_PLACEHOLDERS,
    )


class ClientNoticeTemplate(LinkWording):
    """The company's wording of the client notice and when it is prepared; one row, edited in the admin."""

    PLACEHOLDERS = NOTICE_PLACEHOLDERS

    prepare_at = models.CharField(
        _("prepared once the handover reaches"),
        max_length=20,
        choices=[(s.value, s.label) for s in State if s in OPEN_STATES],
        default=State.MATERIALS,
        help_text=_("Default: materials, i.e. once the manager has approved the plan."),
    )
    answer_days = models.PositiveSmallIntegerField(
        _("days the client's link stays open"), default=7, help_text=_("Counted from the first time it is sent.")
    )
    email_subject = PlainCharField(_("email subject"), max_length=200, default=default_notice_subject)
    letter = LimitedTextField(
        _("letter and email text"), max_length=LONG_TEXT_MAX_LENGTH, default=default_notice_letter
    )
    short_text = LimitedTextField(
        _("SMS and WeChat text"),
        max_length=SHORT_TEXT_MAX,
        default=default_notice_short,
        help_text=_("At most 200 characters once filled in; a longer text is cut before the link."),
    )

    class Meta:
        verbose_name = _("client notice template")
        verbose_name_plural = _("client notice template")

    def __str__(self) -> str:
        return str(_("Client notice template"))


class NoticeAnswer(models.TextChoices):
    CONFIRMED = "confirmed", _("Knows their new contact")
    OTHER_CONTACT = "other_contact", _("Asks for a different contact")
    CONCERN = "concern", _("States a concern")


class NoticeStatus(models.TextChoices):
    NOT_SENT = "not_sent", _("Not sent")
    SENT = "sent", _("Sent")
    CONFIRMED = "confirmed", _("Confirmed")
    OBJECTED = "objected", _("Objected")
    NO_ANSWER = "no_answer", _("No answer")
    # Sent (or answered) naming a receiver the client no longer has: to be sent again.
    OUTDATED = "outdated", _("Receiver changed: to be told again")


class ClientLink(models.Model):
    """A client's personal link with no login (the notice, the satisfaction survey): one mechanism.

    The link's token is not stored: it is an HMAC of `nonce` under the site's secret key
    (handover/selectors/links.py), and only its SHA-256 is kept, to find the row.
    """

    nonce = models.CharField(_("nonce"), max_length=64, editable=False)
    token_sha256 = models.CharField(_("SHA-256 of the link's token"), max_length=64, unique=True, editable=False)
    prepared_at = models.DateTimeField(_("prepared at"), default=timezone.now)
    first_sent_at = models.DateTimeField(_("first sent at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("link expires at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        abstract = True


class ClientNotice(ClientLink):
    """One client's notice of a handover: its personal link (ClientLink), and the client's answer."""

    handover_client = models.OneToOneField(
        HandoverClient, verbose_name=_("client in handover"), on_delete=models.CASCADE, related_name="notice"
    )
    answer = models.CharField(_("answer"), max_length=20, choices=NoticeAnswer.choices, blank=True)
    answer_text = LimitedTextField(_("the client's words"), blank=True)
    # The receiver the client was last told of: named in the notice as last sent, or shown on
    # their page when they answered. Another receiver since: the notice is outdated.
    told_receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("receiver the client was told of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # 1 at the first sending, one more at each sending after the receiver changed. Within a round
    # a channel reaches each recipient once (services/client_notices.py).
    round = models.PositiveSmallIntegerField(_("sending round"), default=0)

    class Meta:
        verbose_name = _("client notice")
        verbose_name_plural = _("client notices")
        ordering = ["id"]

    def __str__(self) -> str:
        return str(self.handover_client)

    def outdated(self) -> bool:
        """Sent, but the client was told of a receiver they no longer have."""
        return self.first_sent_at is not None and self.told_receiver_id != self.handover_client.receiver_id

    def status(self, now=None) -> str:
        if self.outdated():
            return NoticeStatus.OUTDATED
        if self.answer:
            return NoticeStatus.CONFIRMED if self.answer == NoticeAnswer.CONFIRMED else NoticeStatus.OBJECTED
        if self.first_sent_at is None:
            return NoticeStatus.NOT_SENT
        if self.expires_at and (now or timezone.now()) >= self.expires_at:
            return NoticeStatus.NO_ANSWER
        return NoticeStatus.SENT


class NoticeChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    PHONE = "phone", _("Phone call")
    PAPER = "paper", _("Letter on paper")


# Sent by the app (a task after the commit) rather than marked by hand; tried at most this often.
SENT_BY_APP = (NoticeChannel.EMAIL, NoticeChannel.SMS)
NOTICE_SEND_ATTEMPTS = 5


class LinkDelivery(models.Model):
    """Who sent a client's link (notice, survey) by which channel, to whom and when.

    Email and SMS rows are written in the transaction that decides the sending and sent by a task
    after the commit (sent_at stays empty until then); the other channels are marked sent by hand.
    """

    channel = models.CharField(_("channel"), max_length=10, choices=NoticeChannel.choices)
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    contact = models.ForeignKey(
        "clients.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    note = LimitedTextField(_("note"), blank=True)
    # The address the sender reached the site at, for the link when SITE_URL is not set.
    site_url = models.CharField(_("site address"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sent by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        abstract = True


class NoticeDelivery(LinkDelivery):
    """A client notice's sending (LinkDelivery)."""

    notice = models.ForeignKey(
        ClientNotice, verbose_name=_("client notice"), on_delete=models.CASCADE, related_name="deliveries"
    )
    # The receiver this sending named, and the notice's round it belongs to (ClientNotice.round).
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("receiver named"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    round = models.PositiveSmallIntegerField(_("sending round"), default=0)

    class Meta:
        verbose_name = _("client notice delivery")
        verbose_name_plural = _("client notice deliveries")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.notice} {self.channel} {self.recipient}"


class InvitationKind(models.TextChoices):
    PLANNED = "planned", _("Planned joint visit")
    RECORDED = "recorded", _("Recorded joint visit")


class InvitationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    CANCELLED = "cancelled", _("Cancelled")


class InvitationMethod(models.TextChoices):
    REQUEST = "REQUEST", _("Invitation or update")
    CANCEL = "CANCEL", _("Cancellation")


class VisitInvitation(models.Model):
    """A joint visit in both salespeople's calendars: one event (one UID) per client's planned visit
    and per recorded visit. SEQUENCE goes up with every change sent; `day` and `receiver` are what
    was last sent, so a save that changes neither sends nothing (services/invitations.py).

    The event outlives its client's row (a client taken out of the handover is cancelled first),
    so it keeps the client's name and address as sent.
    """

    handover = models.ForeignKey(
        Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="visit_invitations"
    )
    handover_client = models.ForeignKey(
        HandoverClient,
        verbose_name=_("client in handover"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
    )
    visit = models.OneToOneField(
        Visit,
        verbose_name=_("joint visit"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitation",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=InvitationKind.choices)
    uid = models.CharField(_("calendar UID"), max_length=200, unique=True)
    sequence = models.PositiveIntegerField(_("sequence"), default=0)
    day = models.DateField(_("date last sent"))
    status = models.CharField(
        _("status"), max_length=20, choices=InvitationStatus.choices, default=InvitationStatus.ACTIVE
    )
    client_name = models.CharField(_("client"), max_length=200)
    location = models.CharField(_("address"), max_length=255, blank=True)
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("receiver last invited"), on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("visit invitation")
        verbose_name_plural = _("visit invitations")
        ordering = ["day", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["handover_client"],
                condition=Q(kind="planned"),
                name="one_planned_visit_invitation_per_client",
            )
        ]

    def __str__(self) -> str:
        return f"{self.client_name} {self.day}"


class InvitationDelivery(models.Model):
    """One invitation message to one person: written with the change, sent once by a task.

    The calendar text is rendered when the change is made, so a cancellation to a receiver who
    was replaced still names them, whatever happens to the rows afterwards.
    """

    invitation = models.ForeignKey(
        VisitInvitation, verbose_name=_("visit invitation"), on_delete=models.CASCADE, related_name="deliveries"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.PROTECT, related_name="+"
    )
    sequence = models.PositiveIntegerField(_("sequence"))
    method = models.CharField(_("calendar method"), max_length=10, choices=InvitationMethod.choices)
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("text"), blank=True)
    ics = models.TextField(_("calendar file"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("email attempts"), default=0)

    class Meta:
        verbose_name = _("visit invitation email")
        verbose_name_plural = _("visit invitation emails")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invitation", "recipient", "sequence"], name="invitation_delivery_once_per_sequence"
            )
        ]
        indexes = [models.Index(fields=["sent_at", "attempts"], name="invitation_delivery_owed_idx")]

    def __str__(self) -> str:
        return self.subject


# The handover's evaluation (交接评估, issue 14)


class HandoverEvaluation(models.Model):
    """The supervisor's evaluation of a completed handover, once: the materials' completeness, the
    clients' feedback and the receiver's adaptation, 1 to 5 each, with a comment
    (services.evaluation.handover_evaluate says who and when)."""

    handover = models.OneToOneField(
        Handover, verbose_name=_("handover"), on_delete=models.CASCADE, related_name="evaluation"
    )
    materials_score = models.PositiveSmallIntegerField(
        _("completeness of the materials"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    feedback_score = models.PositiveSmallIntegerField(
        _("the clients' feedback"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    adaptation_score = models.PositiveSmallIntegerField(
        _("the receiver's adaptation"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = LimitedTextField(_("comment"))
    evaluated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("evaluated by"), on_delete=models.PROTECT, related_name="+"
    )
    evaluated_at = models.DateTimeField(_("evaluated at"), default=timezone.now)

    SCORES = ("materials_score", "feedback_score", "adaptation_score")

    class Meta:
        verbose_name = _("handover evaluation")
        verbose_name_plural = _("handover evaluations")
        ordering = ["-evaluated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(materials_score__gte=1, materials_score__lte=5)
                & Q(feedback_score__gte=1, feedback_score__lte=5)
                & Q(adaptation_score__gte=1, adaptation_score__lte=5),
                name="evaluation_scores_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.handover} {self.materials_score}/{self.feedback_score}/{self.adaptation_score}"


# ---------------------------------------------------------------------------------------
# The client's satisfaction survey (客户满意度回访): the notice's link mechanism, a second use

SURVEY_PLACEHOLDERS = ("company", "client", "receiver", "receiver_phone", "departing", "link", "until")


def default_survey_subject() -> str:
    return _in_company_language(_("%(company)s: how was the handover of your account?"), SURVEY_PLACEHOLDERS)


def default_survey_letter() -> str:
    return _in_company_language(
        _(
            "Dear %(client)s,\n\nA month ago %(receiver)s took over your account from %(departing)s. "
            "Please tell us in one minute how the handover went and whether you will keep working with us: "
            "%(link)s\n\nThe link is open until %(until)s. Thank you for your trust."
        ),
        SURVEY_PLACEHOLDERS,
    )


def default_survey_short() -> str:
    return _in_company_language(
        _("%(company)s: how did the handover to %(receiver)s go? One minute, until %(until)s: %(link)s"),
        SURVEY_PLACEHOLDERS,
    )


class ClientSurveyTemplate(LinkWording):
    """When the satisfaction survey goes out after completion, how long its link is open, its wording."""

    PLACEHOLDERS = SURVEY_PLACEHOLDERS

    send_after_days = models.PositiveSmallIntegerField(
        _("days after completion"), default=30, help_text=_("The survey is sent this many days after completion.")
    )
    answer_days = models.PositiveSmallIntegerField(
        _("days the client's link stays open"), default=14, help_text=_("Counted from the sending.")
    )
    email_subject = PlainCharField(_("email subject"), max_length=200, default=default_survey_subject)
    letter = LimitedTextField(_("email text"), max_length=LONG_TEXT_MAX_LENGTH, default=default_survey_letter)
    short_text = LimitedTextField(
        _("SMS text"),
        max_length=SHORT_TEXT_MAX,
        default=default_survey_short,
        help_text=_("At most 200 characters once filled in; a longer text is cut before the link."),
    )

    class Meta:
        verbose_name = _("client survey template")
        verbose_name_plural = _("client survey template")

    def __str__(self) -> str:
        return str(_("Client survey template"))

    def setting_errors(self) -> dict:
        if self.answer_days is not None and self.answer_days < 1:
            return {"answer_days": _("At least one day.")}
        return {}


class SurveyContinue(models.TextChoices):
    YES = "yes", _("Yes")
    UNSURE = "unsure", _("Not sure")
    NO = "no", _("No")


class SurveyStatus(models.TextChoices):
    NOT_SENT = "not_sent", _("Not sent")
    SENT = "sent", _("Sent")
    ANSWERED = "answered", _("Answered")
    EXPIRED = "expired", _("Expired")


# A rating at or below this (or "no" to continuing) tells the receiver and the supervisor; the
# client must then say why.
SURVEY_LOW_RATING = 2


class ClientSurvey(ClientLink):
    """One handed-over client's satisfaction survey: its personal link (ClientLink), and the answer."""

    handover_client = models.OneToOneField(
        HandoverClient, verbose_name=_("client in handover"), on_delete=models.CASCADE, related_name="survey"
    )
    rating = models.PositiveSmallIntegerField(_("rating of the handover (1-5)"), null=True, blank=True)
    will_continue = models.CharField(
        _("will continue working with us"), max_length=10, choices=SurveyContinue.choices, blank=True
    )
    comment = LimitedTextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("client survey")
        verbose_name_plural = _("client surveys")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="survey_rating_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return str(self.handover_client)

    def status(self, now=None) -> str:
        if self.answered_at:
            return SurveyStatus.ANSWERED
        if self.first_sent_at is None:
            return SurveyStatus.NOT_SENT
        if self.expires_at and (now or timezone.now()) >= self.expires_at:
            return SurveyStatus.EXPIRED
        return SurveyStatus.SENT

    @property
    def is_low(self) -> bool:
        return (self.rating is not None and self.rating <= SURVEY_LOW_RATING) or self.will_continue == SurveyContinue.NO


class SurveyDelivery(LinkDelivery):
    """A survey's sending (LinkDelivery): written by the periodic scan, so no one's in particular."""

    survey = models.ForeignKey(
        ClientSurvey, verbose_name=_("client survey"), on_delete=models.CASCADE, related_name="deliveries"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("client survey delivery")
        verbose_name_plural = _("client survey deliveries")
        ordering = ["created_at", "id"]
        constraints = [
            # A second run of the scan writes nothing twice.
            models.UniqueConstraint(fields=["survey", "channel", "recipient"], name="survey_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.survey} {self.channel} {self.recipient}"


class HrDeparture(models.Model):
    """A departure the HR system registered (POST /api/hr/departures/), and the handover it started.

    Keyed by the HR system's own id, so that a departure sent twice (a retry, a queue delivering
    again) starts one handover: the second sending is answered with the first one's handover.
    """

    external_id = models.CharField(_("HR system id"), max_length=64, unique=True)
    employee_no = models.CharField(_("employee number"), max_length=20)
    kind = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    notice_date = models.DateField(_("notice date"))
    last_working_day = models.DateField(_("last working day"))
    returns_on = models.DateField(_("return date"), null=True, blank=True)
    # The receivers' employee numbers as the HR system sent them (empty: the department's default).
    receiver_employee_nos = models.JSONField(_("receivers' employee numbers"), default=list, blank=True)
    handover = models.OneToOneField(
        Handover, verbose_name=_("handover"), on_delete=models.PROTECT, related_name="hr_departure"
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("registered by"), on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)

    class Meta:
        verbose_name = _("departure from the HR system")
        verbose_name_plural = _("departures from the HR system")
        ordering = ["-registered_at", "-id"]

    def __str__(self) -> str:
        return f"{self.external_id} {self.employee_no}"

    def same_request(
        self, *, employee_no, kind, notice_date, last_working_day, receiver_employee_nos, returns_on=None
    ) -> bool:
        return (
            self.employee_no == employee_no
            and self.kind == kind
            and self.notice_date == notice_date
            and self.last_working_day == last_working_day
            and self.returns_on == returns_on
            and list(self.receiver_employee_nos) == list(receiver_employee_nos)
        )
