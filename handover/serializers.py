"""The API's shapes: what a handover and its parts look like as JSON, and what a write may carry.

Input serializers only parse (ids, dates, choices); every rule about who may do what, and when,
stays in handover/services/, so the pages and the API refuse the same things with the same words.
"""

from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from clients.models import Client, FollowUp, FollowUpKind, Grade, LostReason

from . import split
from .choices import RiskLevel
from .flow import Part
from .models import (
    SIGNED_AT,
    TRANSITIONS,
    CallResult,
    ChecklistItem,
    CoverStatus,
    Duty,
    Event,
    Handover,
    HandoverClient,
    HandoverEvaluation,
    NoticeAnswer,
    NoticeChannel,
    NoticeStatus,
    PhoneCheck,
    Reason,
    Report,
    Signature,
    SignatureMethod,
    SignaturePurpose,
    StageDeadline,
    State,
    SurveyContinue,
    SurveyStatus,
    Visit,
    VisitMode,
)
from .selectors.risk import FACTORS as RISK_FACTORS

# ---------------------------------------------------------------------------------------
# Errors (documentation only: handover.api.exception_handler writes them)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A message for a person.")
    code = serializers.CharField(
        help_text="For programs: invalid (400), not_authenticated (401), not_allowed (403), not_found (404), "
        "wrong_state or conflict (409); rarer ones such as method_not_allowed (405) as DRF names them."
    )
    field = serializers.CharField(required=False, help_text="The input field the message is about, if any.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors by field (400 only). A batch of rows (a grid, an uploaded sheet) names "
        "each row's field as rows.<id>.<field>, <id> the handover client's id; rows.<id>.__all__ is about the row.",
    )
    rows = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField()),
        required=False,
        help_text="A write of several rows refused as a whole: {handover client id: {field: message}}; "
        '"__all__" is about the row as a whole. Nothing was written.',
    )
    conflicts = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="The rows someone else changed since you read them (409 when these are all the refused rows).",
    )
    cells = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="An uploaded sheet's problems (400 only), each {sheet, row, column, message}: the row and "
        "column of the sheet as the person sees it in Excel.",
    )


# ---------------------------------------------------------------------------------------
# Read shapes


class PersonSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "name"]


class ReceiverChoiceSerializer(PersonSerializer):
    department = serializers.CharField(source="department.name", read_only=True, allow_null=True, default=None)

    class Meta(PersonSerializer.Meta):
        fields = ["id", "name", "department"]


class ClientRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    credit_code = serializers.CharField(read_only=True)


class RiskFactorSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=RISK_FACTORS, read_only=True)
    reason = serializers.CharField(read_only=True, help_text="Why, in the company's language.")


class ClientRiskSerializer(serializers.Serializer):
    """A client's relationship risk (handover/selectors/risk.py)."""

    level = serializers.ChoiceField(choices=RiskLevel.choices, read_only=True)
    level_display = serializers.CharField(read_only=True)
    factors = RiskFactorSerializer(many=True, read_only=True)


class HandoverClientSerializer(serializers.ModelSerializer):
    client = ClientRefSerializer(read_only=True)
    receiver = PersonSerializer(read_only=True)
    risk = serializers.SerializerMethodField(
        help_text="The client's relationship risk now: its level and each factor with its reason "
        "(the rule: GET /api/handovers/{id}/risks/)."
    )
    sample_risk = serializers.ChoiceField(
        choices=RiskLevel.choices,
        read_only=True,
        allow_blank=True,
        help_text="The risk level stored with the spot-check draw (blank before the draw); a high one is always drawn.",
    )

    class Meta:
        model = HandoverClient
        fields = [
            "id",
            "client",
            "grade",
            "receiver",
            "current_status",
            "risks",
            "next_steps",
            "planned_visit_on",
            "in_sample",
            "row_version",
            "prefilled",
            "risk",
            "sample_risk",
        ]
        read_only_fields = fields

    @extend_schema_field(ClientRiskSerializer(allow_null=True))
    def get_risk(self, obj) -> dict | None:
        # The view computes the risks of the whole handover at once (context["risks"], by id).
        risk = self.context.get("risks", {}).get(obj.pk)
        return ClientRiskSerializer(risk).data if risk else None


class HandoverRiskRowSerializer(serializers.Serializer):
    handover_client = serializers.IntegerField(read_only=True)
    client = ClientRefSerializer(read_only=True)
    grade = serializers.CharField(read_only=True)
    receiver = PersonSerializer(read_only=True)
    in_sample = serializers.BooleanField(read_only=True)
    sample_risk = serializers.CharField(read_only=True)
    risk = ClientRiskSerializer(read_only=True)


class HandoverRisksSerializer(serializers.Serializer):
    rule = serializers.CharField(read_only=True, help_text="How the factors make the level.")
    factors = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="Each factor's code and its name."
    )
    clients = HandoverRiskRowSerializer(many=True, read_only=True)


class DeadlineSerializer(serializers.ModelSerializer):
    state_display = serializers.CharField(source="get_state_display", read_only=True)

    class Meta:
        model = StageDeadline
        fields = ["state", "state_display", "due_on"]
        read_only_fields = fields


class HandoverListSerializer(serializers.ModelSerializer):
    departing = PersonSerializer(read_only=True)
    receiver = PersonSerializer(read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    reason_display = serializers.CharField(source="get_reason_display", read_only=True)

    class Meta:
        model = Handover
        fields = [
            "id",
            "number",
            "departing",
            "receiver",
            "reason",
            "reason_display",
            "notice_date",
            "last_working_day",
            "returns_on",
            "started_at",
            "state",
            "state_display",
            "version",
        ]
        read_only_fields = fields


class HandoverDetailSerializer(HandoverListSerializer):
    supervisor = PersonSerializer(read_only=True)
    witness = PersonSerializer(read_only=True)
    manager = PersonSerializer(read_only=True)
    started_by = PersonSerializer(read_only=True)
    available_transitions = serializers.SerializerMethodField(
        help_text="The transitions the requesting user may run now, their conditions met."
    )
    clients = HandoverClientSerializer(many=True, read_only=True)
    deadlines = DeadlineSerializer(many=True, read_only=True)
    parts = serializers.ListField(
        child=serializers.ChoiceField(choices=Part.choices),
        read_only=True,
        help_text="The parts of the procedure it goes through (its kind's procedure variant when it started).",
    )
    path = serializers.ListField(
        child=serializers.ChoiceField(choices=State.choices),
        read_only=True,
        help_text="The states it passes, in order, before completed.",
    )
    cover_status = serializers.ChoiceField(
        choices=CoverStatus.choices,
        allow_blank=True,
        read_only=True,
        help_text="Empty unless a cover (reason long_leave, maternity_leave or temporary_transfer): pending until "
        "completion, active while the cover person holds the clients, ended once they went back to the absent "
        "person, refused if the absent person had left or was leaving by then, cancelled with the handover.",
    )
    cover_status_display = serializers.CharField(source="get_cover_status_display", read_only=True)
    cover_ended_by = PersonSerializer(read_only=True, allow_null=True)

    class Meta(HandoverListSerializer.Meta):
        fields = [
            *HandoverListSerializer.Meta.fields,
            "supervisor",
            "witness",
            "manager",
            "started_by",
            "last_return_reason",
            "cancel_reason",
            "completed_at",
            "parts",
            "path",
            "cover_status",
            "cover_status_display",
            "cover_ended_at",
            "cover_ended_by",
            "cover_refused_at",
            "cover_refusal",
            "available_transitions",
            "clients",
            "deadlines",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=TRANSITIONS)))
    def get_available_transitions(self, obj) -> list[str]:
        return self.context["available_transitions"]


class ChecklistItemSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    receiver = PersonSerializer(read_only=True)

    class Meta:
        model = ChecklistItem
        fields = [
            "id",
            "handover_client",
            "kind",
            "kind_display",
            "title",
            "description",
            "storage_location",
            "receiver",
            "status",
            "status_display",
            "dispute_reason",
            "dispute_reply",
            "handed_over_at",
            "confirmed_at",
        ]
        read_only_fields = fields


class VisitSerializer(serializers.ModelSerializer):
    client_name = serializers.CharField(source="handover_client.client.name", read_only=True)
    mode_display = serializers.CharField(source="get_mode_display", read_only=True)
    recorded_by = PersonSerializer(read_only=True)
    is_confirmed = serializers.BooleanField(read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "handover_client",
            "client_name",
            "visited_on",
            "mode",
            "mode_display",
            "contact_met",
            "outcome",
            "concerns",
            "recorded_by",
            "recorded_at",
            "departing_confirmed_at",
            "receiver_confirmed_at",
            "is_confirmed",
            "superseded",
        ]
        read_only_fields = fields


class PhoneCheckSerializer(serializers.ModelSerializer):
    client_name = serializers.CharField(source="handover_client.client.name", read_only=True)
    result_display = serializers.CharField(source="get_result_display", read_only=True)
    witness = PersonSerializer(read_only=True)

    class Meta:
        model = PhoneCheck
        fields = [
            "id",
            "handover_client",
            "client_name",
            "called_at",
            "result",
            "result_display",
            "note",
            "witness",
            "superseded",
        ]
        read_only_fields = fields


class ReportSerializer(serializers.Serializer):
    summary = serializers.CharField(read_only=True)
    open_risks = serializers.CharField(read_only=True)
    advice = serializers.CharField(read_only=True)
    figures = serializers.JSONField(
        read_only=True, help_text="The figures as they stood when the report was submitted."
    )
    live_figures = serializers.SerializerMethodField(help_text="The figures computed now.")
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_live_figures(self, obj) -> dict:
        return self.context["live_figures"]


class EventSerializer(serializers.ModelSerializer):
    actor = PersonSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Event
        fields = ["id", "at", "actor", "kind", "from_state", "to_state", "comment", "data"]
        read_only_fields = fields


class SignatureSerializer(serializers.ModelSerializer):
    signer = PersonSerializer(read_only=True)
    purpose_display = serializers.CharField(source="get_purpose_display", read_only=True)
    valid = serializers.SerializerMethodField(
        help_text="Whether the data it vouches for is unchanged since; if not, the person must sign again."
    )
    has_image = serializers.SerializerMethodField(help_text="A drawn signature has a PNG image.")
    handover_state = serializers.CharField(read_only=True, help_text="The state of the handover when signed.")

    class Meta:
        model = Signature
        fields = [
            "id",
            "purpose",
            "purpose_display",
            "signer",
            "method",
            "typed_name",
            "has_image",
            "content_sha256",
            "handover_state",
            "signed_at",
            "valid",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_valid(self, obj) -> bool:
        return self.context["valid"][obj.pk]

    @extend_schema_field(serializers.BooleanField())
    def get_has_image(self, obj) -> bool:
        return obj.method == SignatureMethod.DRAWN


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)
    expiry = serializers.DateTimeField(read_only=True, help_text="When the token stops working.")


class ArchiveStatusSerializer(serializers.Serializer):
    """How far the archived confirmation of a completed handover has got."""

    handover_id = serializers.IntegerField(read_only=True)
    number = serializers.CharField(read_only=True)
    progress = serializers.ChoiceField(
        source="state",
        choices=["pending", "ready", "failed"],
        read_only=True,
        help_text="pending: being made (poll again); ready: download_url serves it; failed: see error, POST retry.",
    )
    error = serializers.CharField(read_only=True)
    attempts = serializers.IntegerField(read_only=True)
    download_url = serializers.CharField(
        read_only=True, help_text="Serves the archived file, once ready: GET /api/archive/{id}/download/."
    )
    verification_code = serializers.CharField(read_only=True)
    sha256 = serializers.CharField(read_only=True)


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField(read_only=True)


# ---------------------------------------------------------------------------------------
# Write shapes. `version` is the handover version the client last saw: a stale one is a 409.


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The handover version you last read; if someone changed the handover since, you get 409.",
    )


def _people():
    return User.objects.all()


def model_text(model: type[models.Model], name: str, **kwargs) -> serializers.CharField:
    """A text input with the model field's limit and checks, as the page form has them."""
    field = model._meta.get_field(name)
    checks = [v for v in field.validators if not isinstance(v, MaxLengthValidator)]
    return serializers.CharField(max_length=field.max_length, validators=checks, **kwargs)


class HandoverCreateSerializer(serializers.Serializer):
    departing = serializers.PrimaryKeyRelatedField(queryset=_people())
    receiver = serializers.PrimaryKeyRelatedField(
        queryset=_people(),
        required=False,
        allow_null=True,
        help_text="The default receiver (the standard items go to them). Defaults to the first of `receivers`.",
    )
    receivers = serializers.PrimaryKeyRelatedField(
        queryset=_people(),
        many=True,
        required=False,
        help_text="Other receivers: the clients are split automatically among the default receiver and these, "
        "balanced by number of clients, A clients and outstanding receivables (the same split as "
        "receivers/split-preview).",
    )
    witness = serializers.PrimaryKeyRelatedField(queryset=_people())
    manager = serializers.PrimaryKeyRelatedField(queryset=_people())
    supervisor = serializers.PrimaryKeyRelatedField(
        queryset=_people(), required=False, allow_null=True, help_text="Defaults to the departing person's supervisor."
    )
    reason = serializers.ChoiceField(choices=Reason.choices)
    notice_date = serializers.DateField()
    last_working_day = serializers.DateField()
    returns_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="The return date of a cover (reason long_leave, maternity_leave or temporary_transfer): "
        "required for those, after the last working day and at most two years after it; refused for the others.",
    )

    def validate(self, attrs):
        if not attrs.get("receiver") and not attrs.get("receivers"):
            raise serializers.ValidationError({"receiver": [_("Choose the receiver of the clients.")]})
        return attrs


class SignatureInputSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=SignatureMethod.choices)
    typed_name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100, help_text="For method=typed: your full name."
    )
    image = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=300_000,
        trim_whitespace=False,
        help_text="For method=drawn: a PNG as a data URL (data:image/png;base64,...), at most 200 KB.",
    )
    password = serializers.CharField(
        allow_blank=True, max_length=200, trim_whitespace=False, help_text="Your password, to confirm it is you."
    )


class SignatureCreateSerializer(VersionSerializer, SignatureInputSerializer):
    purpose = serializers.ChoiceField(
        choices=[(p, SignaturePurpose(p).label) for p in SIGNED_AT],
        help_text="materials_receipt (a receiver, at materials), visits (a receiver, at visits), checklist "
        "(the departing person, each receiver and the witness, at report_approval). Approvals are signed "
        "with the approval itself: see the transition endpoint.",
    )


class TransitionSerializer(VersionSerializer):
    comment = model_text(
        Handover,
        "last_return_reason",
        required=False,
        allow_blank=True,
        default="",
        help_text="Required for return_* and cancel: the person who must act next reads it.",
    )
    signature = SignatureInputSerializer(
        required=False,
        help_text="Required for the approvals (approve_*): the approver signs the stage in the same request.",
    )


class HandOverSerializer(VersionSerializer):
    note = model_text(Event, "comment", required=False, allow_blank=True, default="")


class DisputeSerializer(VersionSerializer):
    # Blank is let through so the service gives its own message.
    reason = model_text(ChecklistItem, "dispute_reason", allow_blank=True)


class DisputeAnswerSerializer(VersionSerializer):
    # Blank is let through so the service gives its own message.
    reply = model_text(
        ChecklistItem,
        "dispute_reply",
        allow_blank=True,
        help_text="Your answer to the receiver's dispute; the item is handed over to them again with it.",
    )


class ItemsConfirmSerializer(VersionSerializer):
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=True,
        max_length=5000,
        help_text="The ids of the items to confirm: every one handed over to you and waiting, or none is confirmed.",
    )


class HandoverClientDropSerializer(VersionSerializer):
    # Blank is let through so the service gives its own message.
    reason = model_text(
        Event, "comment", allow_blank=True, help_text="Why the client leaves the handover; it stays on the timeline."
    )


class HandoverClientUpdateSerializer(VersionSerializer):
    current_status = model_text(HandoverClient, "current_status", required=False, allow_blank=True)
    risks = model_text(HandoverClient, "risks", required=False, allow_blank=True)
    next_steps = model_text(HandoverClient, "next_steps", required=False, allow_blank=True)
    planned_visit_on = serializers.DateField(required=False, allow_null=True)
    receiver = serializers.PrimaryKeyRelatedField(queryset=_people(), required=False)

    PLAN_FIELDS = ("current_status", "risks", "next_steps", "planned_visit_on")

    def validate(self, attrs):
        if not any(f in attrs for f in (*self.PLAN_FIELDS, "receiver")):
            raise serializers.ValidationError(_("Give at least one plan field or a receiver to change."))
        return attrs


class PlanRowSerializer(serializers.Serializer):
    handover_client = serializers.IntegerField(help_text="The id of a client of this handover.")
    current_status = model_text(HandoverClient, "current_status", required=False, allow_blank=True)
    risks = model_text(HandoverClient, "risks", required=False, allow_blank=True)
    next_steps = model_text(HandoverClient, "next_steps", required=False, allow_blank=True)
    planned_visit_on = serializers.DateField(required=False, allow_null=True, help_text="null clears the date.")
    receiver = serializers.PrimaryKeyRelatedField(queryset=_people(), required=False)
    row_version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The row_version you read; if the row changed since, that row is a conflict and nothing is saved.",
    )


class PlanRowsSerializer(serializers.Serializer):
    rows = PlanRowSerializer(many=True, allow_empty=False, max_length=1000)


class PlanRowsResultSerializer(serializers.Serializer):
    saved = serializers.ListField(child=serializers.IntegerField(), help_text="The rows that changed.")
    clients = HandoverClientSerializer(many=True)


class RowRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="A client of this handover (its handover client id).")
    row_version = serializers.IntegerField(
        required=False, min_value=1, help_text="The row version you read; if the row changed since, it conflicts."
    )


class RowPickSerializer(serializers.Serializer):
    """Which clients: the rows given, or (none given) the current rows matching the filter."""

    handover_clients = RowRefSerializer(
        many=True,
        required=False,
        allow_empty=False,
        help_text="These clients. Left out: the clients matching grade, industry and region (all of them "
        "when those are left out too).",
    )
    grade = serializers.ChoiceField(choices=Grade.choices, required=False, allow_blank=True, default="")
    industry = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    region = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)

    def pick(self, data: dict):
        from .services import RowPick

        rows = data.get("handover_clients")
        if rows is not None:
            return RowPick(
                ids=[r["id"] for r in rows],
                row_versions={r["id"]: r["row_version"] for r in rows if r.get("row_version") is not None},
            )
        return RowPick(grade=data["grade"], industry=data["industry"].strip(), region=data["region"].strip())


class ReceiversSetSerializer(VersionSerializer, RowPickSerializer):
    receiver = serializers.PrimaryKeyRelatedField(queryset=_people(), help_text="Who receives them all.")


class SplitPreviewRequestSerializer(RowPickSerializer):
    receivers = serializers.PrimaryKeyRelatedField(
        queryset=_people(),
        many=True,
        required=False,
        default=list,
        help_text="The receivers to split the clients among (at least one for an even split; for a split by "
        "fit, none means every possible receiver of the handover).",
    )
    mode = serializers.ChoiceField(
        choices=split.MODE_CHOICES,
        required=False,
        default="even",
        help_text="even: balanced by clients, A clients and receivables. fit (按匹配度分配): each client to its "
        "best-fit candidate with room under their client cap (see receivers/suggestions).",
    )


class AssignmentSerializer(serializers.Serializer):
    handover_client = serializers.IntegerField()
    receiver = serializers.IntegerField()
    row_version = serializers.IntegerField(min_value=1)


class SplitApplySerializer(VersionSerializer):
    assignment = AssignmentSerializer(
        many=True,
        allow_empty=False,
        help_text="The preview's assignment, exactly as it came (each row's receiver and row version).",
    )
    digest = serializers.CharField(max_length=128, help_text="The preview's digest.")


class ReceiversChangedSerializer(serializers.Serializer):
    changed = serializers.ListField(
        child=serializers.IntegerField(), read_only=True, help_text="The handover clients whose receiver changed."
    )
    count = serializers.IntegerField(read_only=True)


class ReceiverLoadSerializer(serializers.Serializer):
    receiver = PersonSerializer(read_only=True)
    clients = serializers.IntegerField(read_only=True, help_text="Clients of this handover they receive after it.")
    new_clients = serializers.IntegerField(read_only=True, help_text="Of which from this split.")
    a_clients = serializers.IntegerField(read_only=True)
    receivable = serializers.DecimalField(
        max_digits=20, decimal_places=2, read_only=True, help_text="Outstanding receivables of those clients."
    )
    book_size = serializers.IntegerField(read_only=True, help_text="Clients they own now.")
    held = serializers.IntegerField(
        read_only=True,
        help_text="All the clients they would hold: their book (lost clients aside) and what they are to receive "
        "in open handovers, this split applied.",
    )
    cap = serializers.IntegerField(read_only=True, allow_null=True, help_text="Their client cap (null: none).")
    over = serializers.BooleanField(read_only=True, help_text="Beyond the cap: applying this split is refused.")


class AssignedRowSerializer(serializers.Serializer):
    handover_client = serializers.IntegerField(source="handover_client.pk", read_only=True)
    client = ClientRefSerializer(source="handover_client.client", read_only=True)
    grade = serializers.CharField(source="handover_client.grade", read_only=True)
    receivable = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    receiver_now = PersonSerializer(source="handover_client.receiver", read_only=True)
    receiver = PersonSerializer(read_only=True)
    row_version = serializers.IntegerField(read_only=True)


class SplitPreviewSerializer(serializers.Serializer):
    mode = serializers.CharField(read_only=True)
    receivers = ReceiverLoadSerializer(many=True, read_only=True)
    assignment = AssignedRowSerializer(source="rows", many=True, read_only=True)
    digest = serializers.CharField(read_only=True, help_text="Send it back with the assignment to apply it.")
    changed = serializers.IntegerField(read_only=True, help_text="How many clients would change receiver.")


class FitLoadSerializer(serializers.Serializer):
    clients = serializers.IntegerField(
        read_only=True, help_text="Clients held: their book (lost clients aside) and what they are to receive."
    )
    a_clients = serializers.IntegerField(read_only=True)
    receivable = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    open_deals = serializers.IntegerField(read_only=True)
    cap = serializers.IntegerField(read_only=True, allow_null=True, help_text="Their client cap (null: none).")


class FitFactsSerializer(serializers.Serializer):
    same_industry = serializers.IntegerField(read_only=True, help_text="Clients of their book in its industry.")
    industry_lost = serializers.IntegerField(read_only=True, help_text="Of its industry, clients marked lost.")
    same_region = serializers.IntegerField(read_only=True)
    received = serializers.IntegerField(
        read_only=True, help_text="Clients of its industry they received in completed handovers."
    )
    received_kept = serializers.IntegerField(read_only=True, help_text="Of those, not marked lost.")
    former_owner = serializers.BooleanField(read_only=True)
    follow_ups = serializers.IntegerField(read_only=True, help_text="Follow-ups of this client they recorded.")
    contacts_met = serializers.IntegerField(read_only=True)


class SuggestionSerializer(serializers.Serializer):
    receiver = ReceiverChoiceSerializer(read_only=True)
    score = serializers.IntegerField(read_only=True)
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True)
    reasons_text = serializers.CharField(read_only=True)
    full = serializers.BooleanField(read_only=True, help_text="Their cap leaves no room for this client.")
    facts = FitFactsSerializer(read_only=True)
    load = FitLoadSerializer(read_only=True)


class ClientSuggestionsSerializer(serializers.Serializer):
    handover_client = serializers.IntegerField(source="handover_client.pk", read_only=True)
    client = ClientRefSerializer(source="handover_client.client", read_only=True)
    grade = serializers.CharField(source="handover_client.grade", read_only=True)
    receiver_now = PersonSerializer(source="handover_client.receiver", read_only=True)
    receivable = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    open_deals = serializers.IntegerField(read_only=True)
    suggestions = SuggestionSerializer(many=True, read_only=True, help_text="Best first.")


class VisitCreateSerializer(VersionSerializer):
    handover_client = serializers.PrimaryKeyRelatedField(
        queryset=HandoverClient.objects.none(), help_text="A client of this handover."
    )
    visited_on = serializers.DateField()
    mode = serializers.ChoiceField(choices=VisitMode.choices)
    contact_met = model_text(Visit, "contact_met", allow_blank=True)
    outcome = model_text(Visit, "outcome", allow_blank=True)
    concerns = model_text(Visit, "concerns", required=False, allow_blank=True, default="")

    def __init__(self, *args, handover: Handover | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if handover is not None:
            self.fields["handover_client"].queryset = HandoverClient.objects.filter(handover=handover)


class PhoneCheckCreateSerializer(VersionSerializer):
    handover_client = serializers.PrimaryKeyRelatedField(
        queryset=HandoverClient.objects.none(), help_text="A sampled client of this handover."
    )
    result = serializers.ChoiceField(choices=CallResult.choices)
    note = model_text(PhoneCheck, "note", required=False, allow_blank=True, default="")

    def __init__(self, *args, handover: Handover | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if handover is not None:
            self.fields["handover_client"].queryset = HandoverClient.objects.filter(handover=handover)


# The grids' batch writes: every row is checked by the service, its refusals come back by row
# (the error's "rows", keyed by handover client), so the row fields here only bound the input.
_ROW_TEXT = {"required": False, "allow_blank": True, "default": "", "max_length": 20_000}


class VisitRowSerializer(serializers.Serializer):
    handover_client = serializers.IntegerField(help_text="A client of this handover (its id in the handover).")
    visited_on = serializers.DateField(required=False, allow_null=True, default=None)
    mode = serializers.CharField(required=False, allow_blank=True, default="", help_text="in_person or joint_call.")
    contact_met = serializers.CharField(**_ROW_TEXT)
    outcome = serializers.CharField(**_ROW_TEXT)
    concerns = serializers.CharField(**_ROW_TEXT)
    row_version = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The client's row_version you last read; if someone changed the row since, the row conflicts.",
    )


class VisitRowsSerializer(serializers.Serializer):
    rows = VisitRowSerializer(
        many=True,
        max_length=10_000,
        help_text="One new visit per row; rows with nothing typed are skipped. All rows are saved, or none.",
    )


class VisitRowsResultSerializer(serializers.Serializer):
    count = serializers.IntegerField(read_only=True)
    visits = VisitSerializer(many=True, read_only=True)


class RowVersionSerializer(serializers.Serializer):
    handover_client = serializers.IntegerField()
    row_version = serializers.IntegerField()


class VisitsConfirmSerializer(serializers.Serializer):
    visits = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        allow_null=True,
        default=None,
        max_length=10_000,
        help_text="The visits to confirm; left out, every visit waiting for your confirmation.",
    )
    rows = RowVersionSerializer(
        many=True,
        required=False,
        default=list,
        max_length=10_000,
        help_text="The row versions you last read, for the rows of these visits (optional).",
    )


class PhoneCheckRowSerializer(serializers.Serializer):
    handover_client = serializers.IntegerField(help_text="A sampled client of this handover.")
    result = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="confirmed, unaware or unreachable."
    )
    note = serializers.CharField(**_ROW_TEXT)
    row_version = serializers.IntegerField(required=False, allow_null=True, default=None)


class PhoneCheckRowsSerializer(serializers.Serializer):
    rows = PhoneCheckRowSerializer(
        many=True, max_length=10_000, help_text="One call per row; rows with nothing chosen are skipped."
    )


class PhoneCheckRowsResultSerializer(serializers.Serializer):
    count = serializers.IntegerField(read_only=True)
    calls = PhoneCheckSerializer(many=True, read_only=True)


class SheetUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The visit record as downloaded (.xlsx), filled in.")


class ReportUpdateSerializer(VersionSerializer):
    summary = model_text(Report, "summary", allow_blank=True)
    open_risks = model_text(Report, "open_risks", required=False, allow_blank=True, default="")
    advice = model_text(Report, "advice", required=False, allow_blank=True, default="")


class StateFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=State.choices, required=False)


# ---------------------------------------------------------------------------------------
# Follow-ups on a client, and the duties after completion they close


class FollowUpSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    contact_name = serializers.CharField(source="contact.name", read_only=True, default="")
    created_by = PersonSerializer(read_only=True)

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "client",
            "date",
            "kind",
            "kind_display",
            "contact",
            "contact_name",
            "content",
            "objections",
            "commitments",
            "next_plan",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class FollowUpCreateSerializer(serializers.Serializer):
    """Documentation of the body: the page's form (clients.followups.FollowUpForm) checks it, with its words."""

    date = serializers.DateField(help_text="Not in the future.")
    kind = serializers.ChoiceField(choices=FollowUpKind.choices)
    contact = serializers.IntegerField(required=False, allow_null=True, help_text="One of this client's contacts.")
    content = serializers.CharField()
    objections = serializers.CharField(required=False, allow_blank=True)
    commitments = serializers.CharField(required=False, allow_blank=True)
    next_plan = serializers.CharField(required=False, allow_blank=True)


class FollowUpRecordedSerializer(serializers.Serializer):
    follow_up = FollowUpSerializer()
    duties_closed = serializers.IntegerField(help_text="Duties after a handover this follow-up proved and closed.")


class DutySerializer(serializers.ModelSerializer):
    handover_number = serializers.CharField(source="handover.number", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    client_name = serializers.CharField(source="client.name", read_only=True, default="")
    assignee = PersonSerializer(read_only=True)
    done_by = PersonSerializer(read_only=True)
    is_done = serializers.SerializerMethodField()
    is_late = serializers.SerializerMethodField()

    class Meta:
        model = Duty
        fields = [
            "id",
            "handover",
            "handover_number",
            "kind",
            "kind_display",
            "client",
            "client_name",
            "assignee",
            "due_on",
            "is_done",
            "is_late",
            "done_at",
            "done_by",
        ]
        read_only_fields = fields

    def get_is_done(self, duty) -> bool:
        return duty.done_at is not None

    def get_is_late(self, duty) -> bool:
        return duty.done_at is None and duty.due_on < self.context["today"]


class DutyFilterSerializer(serializers.Serializer):
    done = serializers.BooleanField(required=False, allow_null=True, default=None)
    late = serializers.BooleanField(required=False, allow_null=True, default=None)


# The client notice (客户告知函)


class NoticeDeliverySerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=NoticeChannel.choices, read_only=True)
    recipient = serializers.CharField(read_only=True)
    by = serializers.CharField(read_only=True, help_text="Who sent it (or marked it sent).")
    at = serializers.DateTimeField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Empty while it is being sent.")
    error = serializers.CharField(read_only=True)
    note = serializers.CharField(read_only=True)
    receiver = serializers.CharField(
        read_only=True, help_text="The receiver this sending named (empty for sendings recorded before it was kept)."
    )


class NoticeRowSerializer(serializers.Serializer):
    handover_client = serializers.IntegerField(source="pk", read_only=True)
    client = serializers.CharField(read_only=True)
    grade = serializers.CharField(read_only=True)
    receiver = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(
        choices=NoticeStatus.choices,
        read_only=True,
        help_text="outdated: sent (or answered) naming a receiver the client no longer has; send it again.",
    )
    told_receiver = serializers.CharField(
        read_only=True, help_text="The receiver the client was last told of (empty until it is sent)."
    )
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    answer_text = serializers.CharField(read_only=True)
    answered_at = serializers.DateTimeField(read_only=True, allow_null=True)
    emails = serializers.IntegerField(read_only=True, help_text="The client's contacts with an email address.")
    phones = serializers.IntegerField(read_only=True, help_text="The client's contacts with a phone number.")
    short_text = serializers.CharField(
        read_only=True, help_text="The SMS / WeChat text (at most 200 characters); empty unless you may send."
    )
    may_send = serializers.BooleanField(read_only=True)
    deliveries = NoticeDeliverySerializer(many=True, read_only=True)


class NoticesSerializer(serializers.Serializer):
    reached = serializers.BooleanField(read_only=True, help_text="The handover reached the stage of the notices.")
    stage_label = serializers.CharField(read_only=True)
    answer_days = serializers.IntegerField(read_only=True)
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    rows = NoticeRowSerializer(many=True, read_only=True)


class NoticesSendSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=[NoticeChannel.EMAIL.value, NoticeChannel.SMS.value])
    handover_clients = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, help_text="Leave out for every client."
    )
    version = serializers.IntegerField(required=False)


class NoticeMarkSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=[NoticeChannel.WECHAT.value, NoticeChannel.PHONE.value, NoticeChannel.PAPER.value]
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    version = serializers.IntegerField(required=False)


class NoticeQueuedSerializer(serializers.Serializer):
    queued = serializers.IntegerField(read_only=True, help_text="Messages written, sent by a worker after this answer.")
    clients = serializers.IntegerField(read_only=True)


class ClientAnswerSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=100)
    answer = serializers.ChoiceField(choices=NoticeAnswer.choices)
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class ClientAnswerResultSerializer(serializers.Serializer):
    answer = serializers.ChoiceField(choices=NoticeAnswer.choices, read_only=True)
    answered_at = serializers.DateTimeField(read_only=True)


# ---------------------------------------------------------------------------------------
# A client marked lost or active again (clients.status), and the outcomes after a handover (issue 14)


class ClientStatusChangeSerializer(serializers.Serializer):
    """Documentation of the body: clients.status.ClientLostForm checks it, with the page's words."""

    status = serializers.ChoiceField(choices=[("lost", "lost"), ("active", "active")])
    lost_reason = serializers.ChoiceField(
        choices=LostReason.choices, required=False, help_text="Required when status is lost."
    )
    lost_note = serializers.CharField(required=False, allow_blank=True)


class ClientStatusSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    lost_reason_display = serializers.CharField(source="get_lost_reason_display", read_only=True)

    class Meta:
        model = Client
        fields = [
            "id",
            "name",
            "status",
            "status_display",
            "lost_reason",
            "lost_reason_display",
            "lost_note",
            "lost_at",
        ]
        read_only_fields = fields


class WindowCountsSerializer(serializers.Serializer):
    d30 = serializers.IntegerField()
    d90 = serializers.IntegerField()
    d180 = serializers.IntegerField()


class WindowRetainedSerializer(serializers.Serializer):
    d30 = serializers.BooleanField(allow_null=True)
    d90 = serializers.BooleanField(allow_null=True)
    d180 = serializers.BooleanField(allow_null=True)


def _by_window(values: dict) -> dict:
    return {f"d{n}": value for n, value in values.items()}


class OutcomeSerializer(serializers.Serializer):
    """One handed-over client's outcome, computed from the book (handover.selectors.outcomes says how)."""

    handover = serializers.IntegerField(source="handover_id")
    handover_number = serializers.CharField()
    client = serializers.IntegerField(source="client_id")
    client_name = serializers.CharField()
    receiver = serializers.IntegerField(source="receiver_id")
    receiver_name = serializers.CharField()
    completed_on = serializers.DateField()
    days_to_first_contact = serializers.IntegerField(allow_null=True, help_text="null: no contact recorded yet.")
    days_to_first_visit = serializers.IntegerField(allow_null=True, help_text="null: no visit recorded yet.")
    follow_ups = serializers.SerializerMethodField(help_text="Follow-ups dated within 30 / 90 / 180 days.")
    outstanding_at_handover = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text="null: completed before this was kept."
    )
    collected_since = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text="The payments dated from the completion day on (corrections included, never below 0).",
    )
    outstanding_now = serializers.DecimalField(max_digits=14, decimal_places=2)
    contracts_signed_since = serializers.IntegerField()
    contracts_renewed_since = serializers.IntegerField()
    deals_won_since = serializers.IntegerField()
    deals_lost_since = serializers.IntegerField()
    value_12m_before = serializers.DecimalField(max_digits=14, decimal_places=2)
    value_12m_after = serializers.DecimalField(max_digits=14, decimal_places=2)
    value_12m_complete = serializers.BooleanField(help_text="The 12 months after are over.")
    value_change_percent = serializers.DecimalField(max_digits=10, decimal_places=1, allow_null=True)
    lost = serializers.BooleanField()
    lost_reason = serializers.CharField(allow_blank=True)
    lost_on = serializers.DateField(allow_null=True)
    retained = serializers.BooleanField(help_text="Active since completion and not marked lost.")
    retained_at = serializers.SerializerMethodField(help_text="null: the window is still running, nothing yet.")
    last_activity = serializers.DateField(allow_null=True)

    @extend_schema_field(WindowCountsSerializer)
    def get_follow_ups(self, o) -> dict:
        return _by_window(o.follow_ups)

    @extend_schema_field(WindowRetainedSerializer)
    def get_retained_at(self, o) -> dict:
        return _by_window(o.retained_at)


class HandoverOutcomesSerializer(serializers.Serializer):
    completed = serializers.BooleanField(help_text="Outcomes exist only once the handover is completed.")
    clients = serializers.IntegerField()
    retained = serializers.IntegerField()
    lost = serializers.IntegerField()
    outcomes = OutcomeSerializer(many=True)


class EvaluationSerializer(serializers.ModelSerializer):
    evaluated_by = PersonSerializer(read_only=True)

    class Meta:
        model = HandoverEvaluation
        fields = ["materials_score", "feedback_score", "adaptation_score", "comment", "evaluated_by", "evaluated_at"]
        read_only_fields = fields


class EvaluationCreateSerializer(serializers.Serializer):
    """Documentation of the body: handover.forms.EvaluationForm and services.handover_evaluate check it."""

    materials_score = serializers.IntegerField(min_value=1, max_value=5, help_text="Completeness of the materials.")
    feedback_score = serializers.IntegerField(min_value=1, max_value=5, help_text="The clients' feedback.")
    adaptation_score = serializers.IntegerField(min_value=1, max_value=5, help_text="The receiver's adaptation.")
    comment = serializers.CharField()


class EvaluationStateSerializer(serializers.Serializer):
    evaluation = EvaluationSerializer(allow_null=True, help_text="null: not evaluated yet.")
    may_evaluate = serializers.BooleanField(help_text="You may evaluate it now (its supervisor, once completed).")
    due_on = serializers.DateField(allow_null=True, help_text="Completion + 30 days; null before completion.")


# The client's satisfaction survey


class SurveyResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=SurveyStatus.choices, read_only=True)
    rating = serializers.IntegerField(read_only=True, allow_null=True, min_value=1, max_value=5)
    will_continue = serializers.CharField(read_only=True, help_text="yes, unsure or no; empty until answered.")
    comment = serializers.CharField(read_only=True)
    low = serializers.BooleanField(read_only=True, help_text="A rating of 2 or less, or no.")
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    answered_at = serializers.DateTimeField(read_only=True, allow_null=True)


class SurveyRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk", read_only=True, help_text="The client in the handover.")
    client = serializers.CharField(read_only=True)
    client_id = serializers.IntegerField(read_only=True)
    grade = serializers.CharField(read_only=True)
    receiver = serializers.CharField(read_only=True)
    result = SurveyResultSerializer(read_only=True)


class SurveysSerializer(serializers.Serializer):
    completed = serializers.BooleanField(read_only=True, help_text="Surveys exist only for a completed handover.")
    send_after_days = serializers.IntegerField(read_only=True)
    answer_days = serializers.IntegerField(read_only=True)
    due_on = serializers.DateField(read_only=True, allow_null=True, help_text="The day the surveys go out.")
    average = serializers.FloatField(read_only=True, allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    rows = SurveyRowSerializer(many=True, read_only=True)


class ClientSurveyAnswerSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=100)
    rating = serializers.IntegerField(min_value=1, max_value=5)
    will_continue = serializers.ChoiceField(choices=SurveyContinue.choices)
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4000, help_text="Required with a rating of 2 or less."
    )


class ClientSurveyResultSerializer(serializers.Serializer):
    rating = serializers.IntegerField(read_only=True)
    will_continue = serializers.ChoiceField(choices=SurveyContinue.choices, read_only=True)
    answered_at = serializers.DateTimeField(read_only=True)


# The dashboard (issue 14, item 4)


class DashboardFilterSerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False, default=None, help_text="Handovers started on or after.")
    date_to = serializers.DateField(required=False, default=None, help_text="Handovers started on or before.")
    department = serializers.IntegerField(
        required=False, default=None, help_text="A department id; a supervisor may give only their own."
    )

    def validate(self, attrs):
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and end < start:
            raise serializers.ValidationError({"date_to": _("The end of the period cannot be before its start.")})
        return attrs


class DashboardStateSerializer(serializers.Serializer):
    state = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()


class DashboardDepartmentSerializer(serializers.Serializer):
    department = serializers.IntegerField(allow_null=True, help_text="null: the departing person has no department")
    label = serializers.CharField()
    count = serializers.IntegerField()
    open = serializers.IntegerField()
    completed = serializers.IntegerField()


class DashboardStageDaysSerializer(serializers.Serializer):
    state = serializers.CharField()
    label = serializers.CharField()
    handovers = serializers.IntegerField(help_text="Handovers that left this state at least once.")
    average_days = serializers.FloatField(help_text="Calendar days spent in the state, averaged over those handovers.")


class DashboardReceivablesSerializer(serializers.Serializer):
    department = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()
    clients = serializers.IntegerField()
    outstanding = serializers.DecimalField(max_digits=16, decimal_places=2)


class DashboardRetentionSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    handed_over = serializers.IntegerField(
        help_text="Handed-over clients whose N days after completion are over (the windows compared)."
    )
    handed_over_retained = serializers.IntegerField(
        help_text="Of them, not marked lost by the window's end, with a follow-up or a contract in it."
    )
    handed_over_rate = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True, help_text="Percent.")
    others = serializers.IntegerField(
        help_text="The same departments' clients never handed over, not lost before the window began: "
        "how many, averaged over the handed-over clients' windows."
    )
    others_active = serializers.IntegerField(
        help_text="Of them, active in the same calendar windows (a follow-up or a contract, not lost by the "
        "end), averaged the same way."
    )
    others_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=1,
        allow_null=True,
        help_text="Percent of the other clients active over the same windows, each window weighted by its "
        "handed-over clients.",
    )


class DashboardCollectedSerializer(serializers.Serializer):
    clients = serializers.IntegerField(help_text="Clients with the receivables kept at completion.")
    unknown = serializers.IntegerField(help_text="Clients of handovers completed before that was kept.")
    outstanding_at_handover = serializers.DecimalField(max_digits=16, decimal_places=2)
    collected_since = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Of every client, the payments dated from its completion day on."
    )
    outstanding_now = serializers.DecimalField(max_digits=16, decimal_places=2)


class DashboardValueSerializer(serializers.Serializer):
    clients = serializers.IntegerField(help_text="Clients whose 12 months after completion are over.")
    value_12m_before = serializers.DecimalField(max_digits=16, decimal_places=2)
    value_12m_after = serializers.DecimalField(max_digits=16, decimal_places=2)
    change_percent = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    benchmark_low = serializers.DecimalField(max_digits=5, decimal_places=0)
    benchmark_high = serializers.DecimalField(max_digits=5, decimal_places=0)


class DashboardReceiverSerializer(serializers.Serializer):
    receiver = serializers.IntegerField()
    label = serializers.CharField()
    clients = serializers.IntegerField()
    retained = serializers.IntegerField()
    lost = serializers.IntegerField()
    retained_rate = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    collected_since = serializers.DecimalField(max_digits=16, decimal_places=2)
    surveys_answered = serializers.IntegerField()
    average_rating = serializers.FloatField(allow_null=True)


class DashboardAfterSerializer(serializers.Serializer):
    clients = serializers.IntegerField(help_text="Clients of the completed handovers in the view.")
    retention = DashboardRetentionSerializer(many=True)
    collected = DashboardCollectedSerializer()
    value = DashboardValueSerializer()
    receivers = DashboardReceiverSerializer(many=True)


class DashboardSerializer(serializers.Serializer):
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    department = serializers.IntegerField(allow_null=True)
    total = serializers.IntegerField(help_text="Handovers in the view.")
    by_state = DashboardStateSerializer(many=True)
    by_department = DashboardDepartmentSerializer(many=True)
    overdue = DashboardStateSerializer(many=True, help_text="Open handovers past the deadline of their state.")
    stage_days = DashboardStageDaysSerializer(many=True)
    receivables = DashboardReceivablesSerializer(many=True, help_text="Outstanding in open handovers' clients.")
    receivables_total = serializers.DecimalField(max_digits=16, decimal_places=2)
    after_handover = DashboardAfterSerializer()


# ---------------------------------------------------------------------------------------
# Departures registered by the HR system


class HrDepartureInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=64, help_text="The HR system's own id of the departure: sending it again starts nothing new."
    )
    employee_no = serializers.CharField(max_length=20, help_text="The departing person's employee number.")
    kind = serializers.ChoiceField(choices=Reason.choices)
    notice_date = serializers.DateField()
    last_working_day = serializers.DateField()
    returns_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="The return date of a cover (kind long_leave, maternity_leave or temporary_transfer): "
        "required for those, refused for a resignation or a transfer.",
    )
    receiver_employee_nos = serializers.ListField(
        child=serializers.CharField(max_length=20),
        required=False,
        max_length=50,
        help_text="The receivers' employee numbers; the clients are split among them. "
        "None: the receiver set for the person's department in the administration.",
    )


class HrDepartureSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    employee_no = serializers.CharField()
    kind = serializers.CharField()
    notice_date = serializers.DateField()
    last_working_day = serializers.DateField()
    returns_on = serializers.DateField(allow_null=True)
    receiver_employee_nos = serializers.ListField(child=serializers.CharField())
    handover = serializers.IntegerField(source="handover_id", help_text="The id of the handover it started.")
    handover_number = serializers.CharField(source="handover.number")
    handover_state = serializers.CharField(source="handover.state")
    registered_at = serializers.DateTimeField()
