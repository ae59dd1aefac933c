"""The API's shapes of what the pages show outside one handover: people, clients, the archive, the
inbox and notifications (handover/api_directory.py). Output only, but for the few small inputs."""

from django.utils.translation import gettext as _
from rest_framework import serializers

from accounts.models import Department, User
from accounts.roles import Role
from clients.models import Client, Contact, Contract, LostReason, Opportunity, OwnershipChange
from notifications.models import Notification

from .serializers import FollowUpSerializer, PersonSerializer

MONEY = {"max_digits": 14, "decimal_places": 2}

# ---------------------------------------------------------------------------------------
# People


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "code", "name"]
        read_only_fields = fields


class PersonEntrySerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)
    department = DepartmentSerializer(read_only=True, allow_null=True)
    roles = serializers.SerializerMethodField(help_text="Role codes: " + ", ".join(Role.values) + ".")

    class Meta:
        model = User
        fields = ["id", "name", "employee_no", "department", "roles"]
        read_only_fields = fields

    def get_roles(self, person) -> list[str]:
        # From the prefetched groups: no query per person.
        return sorted(g.name for g in person.groups.all() if g.name in Role.values)


class PeopleFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Part of the name, login or employee number."
    )
    role = serializers.ChoiceField(choices=Role.choices, required=False, allow_blank=True)
    department = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1, help_text="A department id."
    )


# ---------------------------------------------------------------------------------------
# Clients


class ClientListEntrySerializer(serializers.ModelSerializer):
    owner = PersonSerializer(read_only=True)
    grade_display = serializers.CharField(source="get_grade_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    contract_amount = serializers.DecimalField(**MONEY, read_only=True)
    outstanding = serializers.DecimalField(**MONEY, read_only=True)
    has_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Client
        fields = [
            "id",
            "name",
            "credit_code",
            "grade",
            "grade_display",
            "industry",
            "region",
            "status",
            "status_display",
            "owner",
            "contract_amount",
            "outstanding",
            "has_overdue",
        ]
        read_only_fields = fields


class ContactSerializer(serializers.ModelSerializer):
    # Optional in the book: "" when unknown, which an email format would not allow.
    email = serializers.CharField(read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "name", "position", "phone", "email", "wechat", "is_key_decision_maker"]
        read_only_fields = fields


class ContractSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    payment_progress = serializers.IntegerField(read_only=True, help_text="Percent of the amount paid.")

    class Meta:
        model = Contract
        fields = [
            "id",
            "number",
            "name",
            "signed_on",
            "start_date",
            "end_date",
            "renewal_date",
            "amount",
            "amount_paid",
            "performance_progress",
            "payment_progress",
            "status",
            "status_display",
            "original_location",
        ]
        read_only_fields = fields


class ReceivableRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="receivable.pk")
    contract = serializers.IntegerField(source="contract.pk")
    contract_number = serializers.CharField(source="contract.number")
    description = serializers.CharField(source="receivable.description")
    amount_due = serializers.DecimalField(source="receivable.amount_due", **MONEY)
    amount_received = serializers.DecimalField(source="receivable.amount_received", **MONEY)
    outstanding = serializers.DecimalField(**MONEY)
    due_date = serializers.DateField(source="receivable.due_date")
    overdue_days = serializers.IntegerField()
    aging_bucket = serializers.CharField()
    aging_label = serializers.CharField()


class DealSerializer(serializers.ModelSerializer):
    stage_display = serializers.CharField(source="get_stage_display", read_only=True)

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "name",
            "stage",
            "stage_display",
            "expected_amount",
            "expected_close_date",
            "main_objections",
            "next_step",
        ]
        read_only_fields = fields


class ClientFollowUpSerializer(FollowUpSerializer):
    """The follow-up endpoint's shape, within its client (so without the client's id)."""

    class Meta(FollowUpSerializer.Meta):
        fields = [f for f in FollowUpSerializer.Meta.fields if f != "client"]
        read_only_fields = fields


class OwnershipChangeSerializer(serializers.ModelSerializer):
    from_owner = PersonSerializer(read_only=True, allow_null=True)
    to_owner = PersonSerializer(read_only=True)
    changed_by = PersonSerializer(read_only=True, allow_null=True)

    class Meta:
        model = OwnershipChange
        fields = ["id", "from_owner", "to_owner", "changed_at", "reason", "changed_by"]
        read_only_fields = fields


class ClientTotalsSerializer(serializers.Serializer):
    contract_amount = serializers.DecimalField(**MONEY)
    paid = serializers.DecimalField(**MONEY)
    outstanding = serializers.DecimalField(**MONEY)
    overdue = serializers.DecimalField(**MONEY)
    open_deal_amount = serializers.DecimalField(**MONEY)


class ClientDetailSerializer(serializers.ModelSerializer):
    """The client page as JSON: the book's fields, who owns it and who owned it before, its business."""

    owner = PersonSerializer(read_only=True)
    grade_display = serializers.CharField(source="get_grade_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    lost_reason = serializers.CharField(
        read_only=True, help_text="Set when lost: " + ", ".join(LostReason.values) + "; else empty."
    )
    lost_reason_display = serializers.CharField(source="get_lost_reason_display", read_only=True)
    contacts = ContactSerializer(many=True, read_only=True)
    contracts = ContractSerializer(many=True, read_only=True)
    receivables = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    open_deals = DealSerializer(many=True, read_only=True, help_text="Deals not yet won or lost.")
    follow_ups = ClientFollowUpSerializer(many=True, read_only=True, help_text="Newest first.")
    ownership_history = OwnershipChangeSerializer(
        source="ownership_changes", many=True, read_only=True, help_text="Each change of owner, with its reason."
    )

    class Meta:
        model = Client
        fields = [
            "id",
            "name",
            "credit_code",
            "grade",
            "grade_display",
            "industry",
            "region",
            "address",
            "source_channel",
            "owner",
            "status",
            "status_display",
            "lost_reason",
            "lost_reason_display",
            "lost_note",
            "lost_at",
            "current_situation",
            "decision_chain",
            "preferences",
            "cooperation_history",
            "potential_needs",
            "created_at",
            "updated_at",
            "contacts",
            "contracts",
            "receivables",
            "totals",
            "open_deals",
            "follow_ups",
            "ownership_history",
        ]
        read_only_fields = fields

    def get_receivables(self, client) -> ReceivableRowSerializer(many=True):
        return ReceivableRowSerializer(self.context["receivables"], many=True).data

    def get_totals(self, client) -> ClientTotalsSerializer:
        return ClientTotalsSerializer(self.context["totals"]).data


# ---------------------------------------------------------------------------------------
# The archive


class ArchiveEntrySerializer(serializers.Serializer):
    handover = serializers.IntegerField(source="pk")
    number = serializers.CharField()
    departing = PersonSerializer()
    department = serializers.CharField(source="departing.department.name", default=None, allow_null=True)
    completed_at = serializers.DateTimeField()
    archived = serializers.SerializerMethodField(help_text="false while the confirmation is being made.")
    archived_at = serializers.SerializerMethodField()
    verification_code = serializers.SerializerMethodField()
    sha256 = serializers.SerializerMethodField()

    def _doc(self, h):
        return getattr(h, "archive", None)

    def get_archived(self, h) -> bool:
        return self._doc(h) is not None

    def get_archived_at(self, h) -> str | None:
        doc = self._doc(h)
        return serializers.DateTimeField().to_representation(doc.created_at) if doc else None

    def get_verification_code(self, h) -> str:
        doc = self._doc(h)
        return doc.verification_code if doc else ""

    def get_sha256(self, h) -> str:
        doc = self._doc(h)
        return doc.sha256 if doc else ""


class VerifyRequestSerializer(serializers.Serializer):
    code = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text="XXXX-XXXX-XXXX")


class SealCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Present, intact, trusted and covering the whole file.")
    present = serializers.BooleanField()
    intact = serializers.BooleanField()
    trusted = serializers.BooleanField()
    untouched = serializers.BooleanField()
    changed_after_sealing = serializers.BooleanField()
    signer = serializers.CharField()
    signed_at = serializers.DateTimeField(allow_null=True)


class VerifyResultSerializer(serializers.Serializer):
    matches = serializers.SerializerMethodField(help_text="An archived confirmation has this code or these bytes.")
    code = serializers.CharField(help_text="The code as normalized (a code was sent).")
    sha256 = serializers.CharField(help_text="The SHA-256 of the uploaded file (a file was sent).")
    handover = serializers.SerializerMethodField()
    number = serializers.SerializerMethodField()
    departing = serializers.SerializerMethodField()
    completed_at = serializers.SerializerMethodField()
    archived_at = serializers.SerializerMethodField()
    verification_code = serializers.SerializerMethodField()
    archived_sha256 = serializers.SerializerMethodField()
    seal = SealCheckSerializer(allow_null=True, help_text="The company seal on the uploaded file; null for a code.")

    def get_matches(self, result) -> bool:
        return result.archive is not None

    def get_handover(self, result) -> int | None:
        return result.archive.handover_id if result.archive else None

    def get_number(self, result) -> str:
        return result.archive.handover.number if result.archive else ""

    def get_departing(self, result) -> str:
        return result.archive.handover.departing.display_name if result.archive else ""

    def get_completed_at(self, result) -> str | None:
        at = result.archive.handover.completed_at if result.archive else None
        return serializers.DateTimeField().to_representation(at) if at else None

    def get_archived_at(self, result) -> str | None:
        return serializers.DateTimeField().to_representation(result.archive.created_at) if result.archive else None

    def get_verification_code(self, result) -> str:
        return result.archive.verification_code if result.archive else ""

    def get_archived_sha256(self, result) -> str:
        return result.archive.sha256 if result.archive else ""


# ---------------------------------------------------------------------------------------
# The inbox and notifications


class InboxHandoverSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    number = serializers.CharField()
    state = serializers.CharField()
    state_display = serializers.CharField(source="get_state_display")


class DisputeRowSerializer(serializers.Serializer):
    item = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    client = serializers.CharField()
    receiver = serializers.CharField()
    reason = serializers.CharField()


class InboxEntrySerializer(serializers.Serializer):
    handover = InboxHandoverSerializer()
    action = serializers.CharField(help_text="What you must do now.")
    due_on = serializers.DateField(allow_null=True)
    overdue = serializers.BooleanField()
    return_reason = serializers.CharField(help_text="Why the stage was sent back, if it was.")
    revoke = serializers.BooleanField(help_text="HR's duty to revoke the accounts: POST the handover's revoke-access.")
    disputes = DisputeRowSerializer(many=True, help_text="Disputed items you must answer (items/{id}/answer/).")
    url = serializers.CharField(help_text="The page where it is done.")


class NotificationSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "title", "body", "url", "handover", "created_at", "read", "read_at"]
        read_only_fields = fields

    def get_read(self, notification) -> bool:
        return notification.read_at is not None


class NotificationFilterSerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, allow_null=True, default=None, help_text="true: only unread.")


class MarkedReadSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many were unread and are read now.")


class CoverEndSerializer(serializers.Serializer):
    confirm = serializers.BooleanField(
        help_text="Must be true, as the page's confirmation: the clients go back now, which cannot be undone."
    )

    def validate_confirm(self, value):
        if not value:
            raise serializers.ValidationError(_("Confirm that the cover ends now."))
        return value


class CoverEndedSerializer(serializers.Serializer):
    handover = serializers.IntegerField()
    ended = serializers.BooleanField(
        help_text="true: the clients went back to the absent person. false: the return was refused "
        "(see refusal); nothing moved, the clients stay with the cover person, HR and the absent person's "
        "supervisor were told."
    )
    cover_status = serializers.CharField(help_text="ended or refused.")
    returned = serializers.IntegerField(help_text="How many clients went back.")
    stayed = serializers.ListField(
        child=serializers.CharField(),
        help_text="The clients that stayed where they were (changed hands meanwhile, or in another open handover), "
        "each with the reason.",
    )
    refusal = serializers.CharField(allow_blank=True)


class CoverReturnDateSerializer(serializers.Serializer):
    returns_on = serializers.DateField(
        help_text="The new return date: after the last working day, at most two years after it, not before today."
    )


class CoverReturnDateSetSerializer(serializers.Serializer):
    handover = serializers.IntegerField()
    returns_on = serializers.DateField()
    cover_status = serializers.CharField(help_text="pending or active.")


class AccessRevokedSerializer(serializers.Serializer):
    handover = serializers.IntegerField()
    departing = PersonSerializer()
    active = serializers.BooleanField(help_text="false: the departing person can no longer log in.")
