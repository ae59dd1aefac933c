from django.contrib import admin

from .models import Client, Contact, Contract, FollowUp, Opportunity, OwnershipChange, Receivable


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "credit_code", "grade", "industry", "region", "owner", "status"]
    list_filter = ["grade", "status", "industry", "region"]
    search_fields = ["name", "credit_code", "contacts__phone"]
    autocomplete_fields = ["owner"]
    inlines = [ContactInline]
    list_select_related = ["owner"]


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


@admin.register(Receivable)
class ReceivableAdmin(admin.ModelAdmin):
    list_display = ["contract", "amount_due", "amount_received", "due_date"]
    search_fields = ["contract__number", "contract__client__name"]
    autocomplete_fields = ["contract"]
    list_select_related = ["contract"]


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
