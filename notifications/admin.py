from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Notification, WebhookDelivery, WebhookSubscription


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    # A record of what was sent: read only, like the handover's own record.
    list_display = ["created_at", "user", "title", "read_at", "emailed_at", "webhooked_at"]
    search_fields = ["title", "user__full_name", "user__username"]
    list_select_related = ["user"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """Which other systems hear of what: set up by the administrator."""

    list_display = ["name", "url", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: each event to each subscription, its attempts and the last answer. Read only."""

    list_display = ["id", "event_type", "subscription", "delivered_at", "attempts", "last_status", "next_attempt_at"]
    list_filter = ["subscription", "event__type"]
    search_fields = ["event__event_id", "last_error"]
    list_select_related = ["event", "subscription"]

    @admin.display(description=_("event"), ordering="event__type")
    def event_type(self, obj) -> str:
        return obj.event.get_type_display()

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
