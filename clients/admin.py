from django import forms
from django.contrib import admin
from django.utils.translation import gettext

from .models import Client, Contact, Contract, FollowUp, Opportunity, OwnershipChange, Payment, Receivable
from .ownership import owner_change_refusal, ownership_changes_record


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


class ClientAdminForm(forms.ModelForm):
    """Giving a client a new owner here asks clients.ownership, like the import does."""

    class Meta:
        model = Client
        # Every field, as the admin shows without a form of its own (a list here would narrow the page).
        fields = "__all__"  # noqa: DJ007

    def clean(self):
        cleaned = super().clean()
        owner = cleaned.get("owner")
        stored = Client.objects.filter(pk=self.instance.pk).values_list("owner_id", flat=True).first()
        self.previous_owner_id = stored
        if owner is not None and owner.pk != stored:
            for message in owner_change_refusal(client_id=self.instance.pk, new_owner_id=owner.pk):
                self.add_error("owner", message)
        return cleaned


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientAdminForm
    list_display = ["name", "credit_code", "grade", "industry", "region", "owner", "status"]
    list_filter = ["grade", "status", "industry", "region"]
    search_fields = ["name", "credit_code", "contacts__phone"]
    autocomplete_fields = ["owner"]
    inlines = [ContactInline]
    list_select_related = ["owner"]

    def get_changelist_form(self, request, **kwargs):
        # Should the owner ever become editable in the list, the same check applies there.
        return super().get_changelist_form(request, form=ClientAdminForm, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        previous = getattr(form, "previous_owner_id", None)
        if obj.owner_id != previous:
            # As with the import and completion: every change of hands leaves its row.
            ownership_changes_record(
                [
                    OwnershipChange(
                        client=obj,
                        from_owner_id=previous,
                        to_owner_id=obj.owner_id,
                        reason=gettext("Changed in the admin"),
                        changed_by=request.user,
                    )
                ]
            )


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "client", "position", "phone", "is_key_decision_maker"]
    search_fields = ["name", "phone", "client__name"]
    autocomplete_fields = ["client"]
    list_select_related = ["client"]


class ReceivableInline(admin.TabularInline):
    model = Receivable
    extra = 0


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "client", "signed_on", "amount", "amount_paid", "status"]
    list_filter = ["status"]
    search_fields = ["number", "name", "client__name"]
    autocomplete_fields = ["client"]
    inlines = [ReceivableInline]
    list_select_related = ["client"]


class PaymentInline(admin.TabularInline):
    """The receivable's dated payments: written by the app whenever the amount received changes
    (Receivable.save), so shown here and never edited."""

    model = Payment
    extra = 0
    fields = readonly_fields = ["date", "amount", "recorded_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Receivable)
class ReceivableAdmin(admin.ModelAdmin):
    list_display = ["contract", "amount_due", "amount_received", "due_date"]
    search_fields = ["contract__number", "contract__client__name"]
    autocomplete_fields = ["contract"]
    list_select_related = ["contract"]
    inlines = [PaymentInline]


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ["name", "client", "stage", "expected_amount", "expected_close_date"]
    list_filter = ["stage"]
    search_fields = ["name", "client__name"]
    autocomplete_fields = ["client"]
    list_select_related = ["client"]


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["client", "date", "kind", "contact", "created_by"]
    list_filter = ["kind"]
    search_fields = ["client__name", "content"]
    autocomplete_fields = ["client", "contact"]
    list_select_related = ["client", "contact", "created_by"]


@admin.register(OwnershipChange)
class OwnershipChangeAdmin(admin.ModelAdmin):
    """Read only, even for superusers: the history of who owned a client is written by the change
    of owner itself, never by hand."""

    list_display = ["client", "from_owner", "to_owner", "changed_at", "reason"]
    search_fields = ["client__name"]
    autocomplete_fields = ["client", "from_owner", "to_owner", "changed_by"]
    list_select_related = ["client", "from_owner", "to_owner"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
