"""The book of business: what a salesperson holds and a handover must carry."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .validators import (
    TEXT_MAX_LENGTH,
    normalize_credit_code,
    normalize_text,
    validate_book_date,
    validate_credit_code,
    validate_plain_text,
)

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class PlainCharField(models.CharField):
    """A name or a code: stored in NFC, and refused with invisible or control characters in it
    (clients.validators.validate_plain_text), in the admin, the import and the API alike."""

    default_validators = [validate_plain_text]

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_text(value) if isinstance(value, str) else value

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if isinstance(value, str):
            value = normalize_text(value)
            setattr(model_instance, self.attname, value)
        return value


class LimitedTextField(models.TextField):
    """Free text whose limit holds in model validation too (the admin, the import).

    Django's TextField.max_length only reaches the form widget; the pages and the API read
    the limit from the field, so every path refuses the same length.
    """

    def __init__(self, *args, max_length: int = TEXT_MAX_LENGTH, **kwargs):
        super().__init__(*args, max_length=max_length, **kwargs)
        self.validators.append(MaxLengthValidator(self.max_length))


def _both_set(a, b, kind: type) -> bool:
    # clean() runs even when clean_fields() failed, so values may be missing or raw input.
    return isinstance(a, kind) and isinstance(b, kind)


class Grade(models.TextChoices):
    A = "A", _("A - high value")
    B = "B", _("B - potential")
    C = "C", _("C - to nurture")


class ClientStatus(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    ACTIVE = "active", _("Active cooperation")
    PAUSED = "paused", _("Paused")
    LOST = "lost", pgettext_lazy("client status", "Lost")


class LostReason(models.TextChoices):
    """Why a client was lost: a client marked lost always says which (issue 14)."""

    COMPETITOR = "competitor", _("Went to a competitor")
    PRICE = "price", _("Price")
    SERVICE = "service", _("Service")
    RELATIONSHIP = "relationship", _("Relationship")
    CLOSED = "closed", _("Business closed")
    OTHER = "other", _("Other")


class Client(models.Model):
    name = PlainCharField(_("company name"), max_length=200)
    credit_code = models.CharField(
        _("unified social credit code"), max_length=18, unique=True, validators=[validate_credit_code]
    )
    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices, default=Grade.B, db_index=True)
    industry = PlainCharField(_("industry"), max_length=50, blank=True)
    region = PlainCharField(_("region"), max_length=50, blank=True)
    address = PlainCharField(_("address"), max_length=255, blank=True)
    source_channel = PlainCharField(_("source channel"), max_length=50, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="owned_clients",
    )
    status = models.CharField(_("status"), max_length=20, choices=ClientStatus.choices, default=ClientStatus.ACTIVE)
    # Set together with status LOST (clients.status.client_mark_lost), cleared when reactivated.
    lost_reason = models.CharField(_("reason lost"), max_length=20, choices=LostReason.choices, blank=True)
    lost_note = LimitedTextField(_("note on the loss"), blank=True)
    lost_at = models.DateTimeField(_("marked lost at"), null=True, blank=True)
    current_situation = LimitedTextField(
        _("current situation"), blank=True, help_text=_("Orders in progress, after-sales needs.")
    )
    decision_chain = LimitedTextField(_("decision chain and key influencers"), blank=True)
    preferences = LimitedTextField(_("preferences and taboos"), blank=True)
    cooperation_history = LimitedTextField(_("cooperation history"), blank=True)
    potential_needs = LimitedTextField(_("potential needs"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["name", "id"]
        # The list's default order: a page of a million-client book walks this index, not a sort.
        indexes = [
            models.Index(fields=["name", "id"], name="client_name_id"),
            # The industry filter, and the industries of a department's book (clients.selectors.industries_of).
            models.Index(fields=["industry", "owner"], name="client_industry_owner"),
        ]
        permissions = [
            ("view_all_clients", _("Can view every client")),
            ("export_client", _("Can export clients")),
            ("import_client", _("Can import the client book")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(grade__in=["A", "B", "C"]), name="client_grade_valid"),
            models.CheckConstraint(
                condition=Q(credit_code__regex=r"^[0-9A-HJ-NPQRTUWXY]{18}$"), name="client_credit_code_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.credit_code = normalize_credit_code(self.credit_code)
        if self.status == ClientStatus.LOST and self.lost_at is None:
            self.lost_at = timezone.now()
        elif self.status != ClientStatus.LOST:
            self.lost_reason, self.lost_note, self.lost_at = "", "", None
        super().save(*args, **kwargs)

    def clean(self):
        # A lost client says why: the page, the API, the admin and the import alike.
        if self.status == ClientStatus.LOST and not self.lost_reason:
            raise ValidationError({"lost_reason": _("Choose why the client was lost.")})


class Contact(models.Model):
    client = models.ForeignKey(Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="contacts")
    name = PlainCharField(pgettext_lazy("contact", "name"), max_length=50)
    position = PlainCharField(_("position"), max_length=50, blank=True)
    phone = PlainCharField(_("phone"), max_length=30, blank=True, db_index=True)
    email = models.EmailField(_("email"), blank=True, validators=[validate_plain_text])
    wechat = PlainCharField(_("WeChat"), max_length=50, blank=True)
    is_key_decision_maker = models.BooleanField(_("key decision maker"), default=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_key_decision_maker", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "name", "phone"], name="contact_unique_per_client"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.position}）" if self.position else self.name


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("In performance")
    COMPLETED = "completed", _("Completed")
    TERMINATED = "terminated", _("Terminated")


class Contract(models.Model):
    client = models.ForeignKey(Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="contracts")
    number = PlainCharField(_("contract number"), max_length=50, unique=True)
    name = PlainCharField(_("contract name"), max_length=200)
    signed_on = models.DateField(_("signed on"), validators=[validate_book_date])
    start_date = models.DateField(_("start date"), validators=[validate_book_date])
    end_date = models.DateField(_("end date"), validators=[validate_book_date])
    renewal_date = models.DateField(_("renewal date"), null=True, blank=True, validators=[validate_book_date])
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(ZERO)])
    performance_progress = models.PositiveSmallIntegerField(
        _("performance progress (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    amount_paid = models.DecimalField(_("amount paid"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)])
    status = models.CharField(_("status"), max_length=20, choices=ContractStatus.choices, default=ContractStatus.ACTIVE)
    original_location = PlainCharField(_("where the original is kept"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-signed_on", "number"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="contract_amount_non_negative"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="contract_paid_non_negative"),
            models.CheckConstraint(condition=Q(amount_paid__lte=F("amount")), name="contract_paid_within_amount"),
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="contract_end_after_start"),
            models.CheckConstraint(condition=Q(performance_progress__lte=100), name="contract_progress_max_100"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def clean(self):
        # The check constraints say the same; this names the field, so a form or an
        # import row shows the error next to it instead of as "constraint violated".
        errors = {}
        if _both_set(self.amount_paid, self.amount, Decimal) and self.amount_paid > self.amount:
            errors["amount_paid"] = _("The amount paid cannot exceed the contract amount.")
        if _both_set(self.end_date, self.start_date, datetime.date) and self.end_date < self.start_date:
            errors["end_date"] = _("The end date cannot be before the start date.")
        if errors:
            raise ValidationError(errors)

    @property
    def payment_progress(self) -> int:
        if not self.amount:
            return 0
        return int(self.amount_paid * 100 / self.amount)


class AgingBucket(models.TextChoices):
    NOT_DUE = "not_due", _("Not yet due")
    D0_30 = "0-30", _("0-30 days")
    D31_90 = "31-90", _("31-90 days")
    D91_180 = "91-180", _("91-180 days")
    D180_PLUS = "180+", _("Over 180 days")


def aging_bucket_for(overdue_days: int) -> str:
    if overdue_days <= 0:
        return AgingBucket.NOT_DUE
    if overdue_days <= 30:
        return AgingBucket.D0_30
    if overdue_days <= 90:
        return AgingBucket.D31_90
    if overdue_days <= 180:
        return AgingBucket.D91_180
    return AgingBucket.D180_PLUS


class ReceivableQuerySet(models.QuerySet):
    def outstanding(self):
        return self.filter(amount_received__lt=F("amount_due"))

    def overdue(self, today: datetime.date | None = None):
        return self.outstanding().filter(due_date__lt=today or timezone.localdate())


class Receivable(models.Model):
    contract = models.ForeignKey(
        Contract, verbose_name=_("contract"), on_delete=models.CASCADE, related_name="receivables"
    )
    description = PlainCharField(_("description"), max_length=200, blank=True)
    amount_due = models.DecimalField(_("amount due"), **MONEY, validators=[MinValueValidator(ZERO)])
    amount_received = models.DecimalField(
        _("amount received"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    due_date = models.DateField(_("due date"), validators=[validate_book_date])

    objects = ReceivableQuerySet.as_manager()

    class Meta:
        verbose_name = _("receivable")
        verbose_name_plural = _("receivables")
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_due__gte=0), name="receivable_due_non_negative"),
            models.CheckConstraint(condition=Q(amount_received__gte=0), name="receivable_received_non_negative"),
            models.CheckConstraint(
                condition=Q(amount_received__lte=F("amount_due")), name="receivable_received_within_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract.number} {self.due_date:%Y-%m-%d} {self.amount_due}"

    def save(self, *args, received_on: datetime.date | None = None, **kwargs):
        """Saved with a Payment for any change of amount_received, dated received_on (default today):
        the payments of a receivable add up to its amount received (see Payment)."""
        fields = kwargs.get("update_fields")
        tracked = fields is None or "amount_received" in fields
        before = ZERO
        if tracked and not self._state.adding and self.pk is not None:
            before = type(self).objects.filter(pk=self.pk).values_list("amount_received", flat=True).first() or ZERO
        super().save(*args, **kwargs)
        if tracked:
            payments_record([(self, before)], on=received_on)

    def clean(self):
        # Named field error for the receivable_received_within_due constraint; see Contract.clean.
        if _both_set(self.amount_received, self.amount_due, Decimal) and self.amount_received > self.amount_due:
            raise ValidationError({"amount_received": _("The amount received cannot exceed the amount due.")})

    @property
    def outstanding(self) -> Decimal:
        return self.amount_due - self.amount_received

    def overdue_days(self, today: datetime.date | None = None) -> int:
        if self.outstanding <= 0:
            return 0
        return max(0, ((today or timezone.localdate()) - self.due_date).days)

    def aging_bucket(self, today: datetime.date | None = None) -> str:
        return aging_bucket_for(self.overdue_days(today))

    def get_aging_bucket_display(self) -> str:
        return str(AgingBucket(self.aging_bucket()).label)


class Payment(models.Model):
    """Money received on a receivable, dated: one row each time its amount received changes (a
    correction that lowers it is a negative row), so a receivable's payments add up to its amount
    received. Written by Receivable.save and, for bulk writes (the import, the demo), by
    payments_record. Amounts received before payments were kept have one row with no date."""

    receivable = models.ForeignKey(
        Receivable, verbose_name=_("receivable"), on_delete=models.CASCADE, related_name="payments"
    )
    date = models.DateField(_("date received"), null=True, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["receivable", "date", "id"]

    def __str__(self) -> str:
        return f"{self.receivable} {self.date or '—'} {self.amount}"


def payments_record(changes, *, on: datetime.date | None = None) -> list[Payment]:
    """A Payment for each (receivable, amount received before) whose amount received changed, dated
    on (default today); receivables just created have 0 before. One insert for them all."""
    on = on or timezone.localdate()
    rows = [
        Payment(receivable=r, date=on, amount=r.amount_received - (before or ZERO))
        for r, before in changes
        if r.amount_received != (before or ZERO)
    ]
    return Payment.objects.bulk_create(rows)


class OpportunityStage(models.TextChoices):
    LEAD = "lead", _("Initial contact")
    NEEDS = "needs", _("Needs confirmed")
    PROPOSAL = "proposal", _("Proposal and quotation")
    NEGOTIATION = "negotiation", _("Negotiation")
    WON = "won", _("Won")
    LOST = "lost", pgettext_lazy("deal stage", "Lost")


OPEN_STAGES = [OpportunityStage.LEAD, OpportunityStage.NEEDS, OpportunityStage.PROPOSAL, OpportunityStage.NEGOTIATION]


class Opportunity(models.Model):
    client = models.ForeignKey(Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="opportunities")
    name = PlainCharField(pgettext_lazy("deal", "name"), max_length=200)
    stage = models.CharField(_("stage"), max_length=20, choices=OpportunityStage.choices, default=OpportunityStage.LEAD)
    expected_amount = models.DecimalField(
        _("expected amount"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    expected_close_date = models.DateField(
        _("expected close date"), null=True, blank=True, validators=[validate_book_date]
    )
    main_objections = LimitedTextField(_("main objections"), blank=True)
    next_step = LimitedTextField(_("next step"), blank=True)
    # The day the deal was won or lost: set by save() when its stage first closes, cleared if it
    # reopens. Deals closed before this field existed have none (the outcomes fall back to the
    # expected close date, handover.selectors.outcomes). Bulk updates bypass save() and set it themselves.
    closed_on = models.DateField(_("closed on"), null=True, blank=True)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["expected_close_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(expected_amount__gte=0), name="opportunity_amount_non_negative"),
            models.UniqueConstraint(fields=["client", "name"], name="opportunity_unique_name_per_client"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.stage in OPEN_STAGES:
            self.closed_on = None
        elif self.closed_on is None:
            self.closed_on = timezone.localdate()
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES


class FollowUpKind(models.TextChoices):
    VISIT = "visit", _("Visit")
    PHONE = "phone", _("Phone call")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("Email")


class FollowUp(models.Model):
    client = models.ForeignKey(Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="follow_ups")
    date = models.DateField(_("date"), validators=[validate_book_date])
    kind = models.CharField(_("kind"), max_length=10, choices=FollowUpKind.choices)
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content = LimitedTextField(_("content"))
    objections = LimitedTextField(_("objections"), blank=True)
    commitments = LimitedTextField(_("commitments made to the client"), blank=True)
    next_plan = LimitedTextField(_("next plan"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("follow-up record")
        verbose_name_plural = _("follow-up records")
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"


class OwnershipChange(models.Model):
    """One row each time a client changes hands; consecutive rows give who owned it from when to when."""

    client = models.ForeignKey(
        Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="ownership_changes"
    )
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("previous owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("new owner"), on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=200)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("ownership change")
        verbose_name_plural = _("ownership changes")
        ordering = ["client", "changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.client}: {self.from_owner} → {self.to_owner}"
