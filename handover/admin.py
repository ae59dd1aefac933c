"""The admin: the company edits its templates and rules here; the handovers themselves are read only.

A handover changes only through handover/services/ (which checks who acts, bumps the
version and writes the timeline), so the admin shows handover rows without letting anyone
edit them behind the procedure's back.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .flow import OPTIONAL_PARTS
from .models import (
    ArchivedDocument,
    ArchiveJob,
    ChecklistItem,
    ChecklistTemplateItem,
    ClientNotice,
    ClientNoticeTemplate,
    ClientSurvey,
    ClientSurveyTemplate,
    ConfirmationAnnex,
    CoverPolicy,
    DocumentTemplate,
    Duty,
    Event,
    Handover,
    HandoverClient,
    HandoverEvaluation,
    HrDeparture,
    IdempotencyKey,
    InvitationDelivery,
    NoticeDelivery,
    PhoneCheck,
    ProcedureVariant,
    Reminder,
    ReminderPolicy,
    Report,
    Signature,
    StageDeadline,
    StageDuration,
    SurveyDelivery,
    Visit,
    VisitInvitation,
)

# ---------------------------------------------------------------------------------------
# The company's templates and rules: editable


@admin.register(ChecklistTemplateItem)
class ChecklistTemplateItemAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "storage_location", "order", "active"]
    list_editable = ["order", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["title", "description"]


@admin.register(DocumentTemplate)
class DocumentTemplateAdmin(admin.ModelAdmin):
    list_display = ["kind"]


@admin.register(StageDuration)
class StageDurationAdmin(admin.ModelAdmin):
    """The company's days per state, for every kind of handover; a variant's own are on its page."""

    list_display = ["state", "working_days"]
    list_editable = ["working_days"]
    exclude = ["variant"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(variant=None)


class VariantDurationInline(admin.TabularInline):
    model = StageDuration
    extra = 0
    verbose_name = _("working days of a state, for this kind only")
    verbose_name_plural = _("working days of the states, for this kind only (others: the company's)")


@admin.register(ProcedureVariant)
class ProcedureVariantAdmin(admin.ModelAdmin):
    """Which parts of the procedure each kind of handover goes through, read by the flow spec when
    a handover starts; the plan and the final approval are always gone through."""

    list_display = ["reason", *OPTIONAL_PARTS]
    list_editable = list(OPTIONAL_PARTS)
    inlines = [VariantDurationInline]
    fieldsets = [
        (
            None,
            {
                "fields": ["reason", *OPTIONAL_PARTS],
                "description": _(
                    "Every kind of handover goes through the plan and the final approval (with the three-party "
                    "checklist). A change here applies to handovers started afterwards."
                ),
            },
        )
    ]


@admin.register(ReminderPolicy)
class ReminderPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "remind_days_before",
        "escalate_to_supervisor_after",
        "escalate_to_manager_after",
    ]


@admin.register(CoverPolicy)
class CoverPolicyAdmin(admin.ModelAdmin):
    """What the absent person may read of their covered clients during a cover (代管); one row."""

    list_display = ["__str__", "absent_access"]


# ---------------------------------------------------------------------------------------
# The handovers and their record: read only


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class StageDeadlineInline(admin.TabularInline):
    model = StageDeadline
    extra = 0
    can_delete = False
    readonly_fields = ["state", "due_on"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Handover)
class HandoverAdmin(ReadOnlyAdmin):
    list_display = ["number", "departing", "receiver", "supervisor", "state", "last_working_day", "started_at"]
    list_filter = ["state", "reason", "departing__department"]
    search_fields = ["number", "departing__full_name", "departing__username", "receiver__full_name"]
    list_select_related = ["departing", "receiver", "supervisor"]
    date_hierarchy = "started_at"
    inlines = [StageDeadlineInline]


@admin.register(StageDeadline)
class StageDeadlineAdmin(ReadOnlyAdmin):
    list_display = ["handover", "state", "due_on"]
    list_filter = ["state"]
    search_fields = ["handover__number"]
    list_select_related = ["handover__departing"]


@admin.register(HandoverClient)
class HandoverClientAdmin(ReadOnlyAdmin):
    list_display = ["client", "handover", "grade", "receiver", "planned_visit_on", "in_sample"]
    list_filter = ["grade", "in_sample"]
    search_fields = ["client__name", "handover__number"]
    list_select_related = ["client", "handover__departing", "receiver"]


@admin.register(ChecklistItem)
class ChecklistItemAdmin(ReadOnlyAdmin):
    list_display = ["title", "handover", "kind", "receiver", "status", "handed_over_at", "confirmed_at"]
    list_filter = ["kind", "status"]
    search_fields = ["title", "handover__number"]
    list_select_related = ["handover__departing", "receiver"]


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ["handover_client", "visited_on", "mode", "contact_met", "recorded_by", "superseded"]
    list_filter = ["mode", "superseded"]
    search_fields = ["handover_client__client__name", "handover_client__handover__number"]
    list_select_related = ["handover_client__client", "recorded_by"]


@admin.register(PhoneCheck)
class PhoneCheckAdmin(ReadOnlyAdmin):
    list_display = ["handover_client", "called_at", "result", "witness", "superseded"]
    list_filter = ["result", "superseded"]
    search_fields = ["handover_client__client__name", "handover_client__handover__number"]
    list_select_related = ["handover_client__client", "witness"]


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["handover", "updated_at"]
    search_fields = ["handover__number"]
    list_select_related = ["handover__departing"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["at", "handover", "actor", "kind", "from_state", "to_state"]
    list_filter = ["kind"]
    search_fields = ["handover__number", "comment"]
    list_select_related = ["handover__departing", "actor"]
    date_hierarchy = "at"


@admin.register(Duty)
class DutyAdmin(ReadOnlyAdmin):
    list_display = ["handover", "kind", "client", "assignee", "due_on", "done_at"]
    list_filter = ["kind"]
    search_fields = ["handover__number", "client__name"]
    list_select_related = ["handover__departing", "client", "assignee"]


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ["day", "user", "handover", "stage", "kind", "due_on"]
    list_filter = ["kind", "stage"]
    search_fields = ["handover__number", "user__full_name"]
    list_select_related = ["handover__departing", "user"]


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ["signed_at", "handover", "purpose", "signer", "method", "superseded_at"]
    list_filter = ["purpose", "method"]
    search_fields = ["handover__number", "signer__full_name", "content_sha256"]
    list_select_related = ["handover__departing", "signer"]
    exclude = ["image"]


@admin.register(ArchiveJob)
class ArchiveJobAdmin(ReadOnlyAdmin):
    """How far the making of each signed confirmation has got (retried from the archive page)."""

    list_display = ["handover", "state", "attempts", "updated_at", "error"]
    list_filter = ["state"]
    search_fields = ["handover__number"]
    list_select_related = ["handover"]


@admin.register(ConfirmationAnnex)
class ConfirmationAnnexAdmin(ReadOnlyAdmin):
    """The annexes printed ahead of an approval, joined into the archive then (and deleted)."""

    list_display = ["handover", "pages", "printed_at", "html_sha256"]
    search_fields = ["handover__number"]
    list_select_related = ["handover"]
    exclude = ["pdf"]


@admin.register(ArchivedDocument)
class ArchivedDocumentAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "handover", "verification_code", "sha256", "sealed", "size"]
    search_fields = ["handover__number", "verification_code", "sha256"]
    list_select_related = ["handover__departing"]
    # The file field would link to a media URL, which nothing serves: the file is had only
    # through the checked and logged download.
    exclude = ["file"]
    readonly_fields = ["download"]

    @admin.display(description=_("file"))
    def download(self, obj):
        url = reverse("handover:archive_download", args=[obj.handover_id])
        return format_html('<a href="{}">{}</a>', url, _("Download (checked and logged)"))


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    # Which API writes came with a key, for support; the stored answers (client data) stay out.
    list_display = ["created_at", "user", "endpoint", "status_code"]
    search_fields = ["user__username", "key", "endpoint"]
    list_select_related = ["user"]
    exclude = ["body", "fingerprint"]


# ---------------------------------------------------------------------------------------
# The client notice: its wording is the company's; the notices and their sending are the record


@admin.register(ClientNoticeTemplate)
class ClientNoticeTemplateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "prepare_at", "answer_days"]
    fieldsets = [
        (None, {"fields": ["prepare_at", "answer_days"]}),
        (
            _("Wording"),
            {
                "fields": ["email_subject", "letter", "short_text"],
                "description": _(
                    "Placeholders: {company} {client} {receiver} {receiver_phone} {receiver_email} "
                    "{effective_date} {departing} {link}"
                ),
            },
        ),
    ]


class NoticeDeliveryInline(admin.TabularInline):
    model = NoticeDelivery
    extra = 0
    can_delete = False
    fields = ["channel", "recipient", "created_by", "created_at", "sent_at", "attempts", "error"]


class InvitationDeliveryInline(admin.TabularInline):
    model = InvitationDelivery
    extra = 0
    can_delete = False
    fields = ["recipient", "sequence", "method", "created_at", "sent_at", "attempts"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ClientNotice)
class ClientNoticeAdmin(ReadOnlyAdmin):
    list_display = ["handover_client", "first_sent_at", "expires_at", "answer", "answered_at"]
    list_filter = ["answer"]
    exclude = ["nonce", "token_sha256"]
    inlines = [NoticeDeliveryInline]


@admin.register(NoticeDelivery)
class NoticeDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["notice", "channel", "recipient", "created_by", "created_at", "sent_at", "attempts"]
    list_filter = ["channel"]


@admin.register(VisitInvitation)
class VisitInvitationAdmin(ReadOnlyAdmin):
    """Each joint visit's calendar event: what was last sent (date, receiver, SEQUENCE) and to whom."""

    list_display = ["client_name", "handover", "kind", "day", "status", "sequence", "receiver", "updated_at"]
    list_filter = ["kind", "status"]
    search_fields = ["handover__number", "client_name", "uid"]
    list_select_related = ["handover", "receiver"]
    inlines = [InvitationDeliveryInline]


@admin.register(InvitationDelivery)
class InvitationDeliveryAdmin(ReadOnlyAdmin):
    """Each invitation email: sent once by a task, retried while it fails."""

    list_display = ["created_at", "recipient", "method", "sequence", "subject", "sent_at", "attempts"]
    list_filter = ["method"]
    search_fields = ["invitation__handover__number", "invitation__uid", "recipient__username", "subject"]
    list_select_related = ["recipient", "invitation"]


@admin.register(HandoverEvaluation)
class HandoverEvaluationAdmin(ReadOnlyAdmin):
    list_display = ["handover", "materials_score", "feedback_score", "adaptation_score", "evaluated_by", "evaluated_at"]
    search_fields = ["handover__number"]
    list_select_related = ["handover__departing", "evaluated_by"]


@admin.register(HrDeparture)
class HrDepartureAdmin(ReadOnlyAdmin):
    """What the HR system registered, and the handover each started: a record, written by the API."""

    list_display = ["external_id", "employee_no", "kind", "last_working_day", "handover", "registered_at"]
    search_fields = ["external_id", "employee_no", "handover__number"]
    list_select_related = ["handover"]


# ---------------------------------------------------------------------------------------
# The client's satisfaction survey: its timing and wording are the company's; the rest is the record


@admin.register(ClientSurveyTemplate)
class ClientSurveyTemplateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "send_after_days", "answer_days"]
    fieldsets = [
        (None, {"fields": ["send_after_days", "answer_days"]}),
        (
            _("Wording"),
            {
                "fields": ["email_subject", "letter", "short_text"],
                "description": _(
                    "Placeholders: {company} {client} {receiver} {receiver_phone} {departing} {link} {until}"
                ),
            },
        ),
    ]


class SurveyDeliveryInline(admin.TabularInline):
    model = SurveyDelivery
    extra = 0
    can_delete = False
    fields = ["channel", "recipient", "created_at", "sent_at", "attempts", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ClientSurvey)
class ClientSurveyAdmin(ReadOnlyAdmin):
    list_display = ["handover_client", "first_sent_at", "expires_at", "rating", "will_continue", "answered_at"]
    list_filter = ["rating", "will_continue"]
    exclude = ["nonce", "token_sha256"]
    inlines = [SurveyDeliveryInline]


@admin.register(SurveyDelivery)
class SurveyDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["survey", "channel", "recipient", "created_at", "sent_at", "attempts"]
    list_filter = ["channel"]
