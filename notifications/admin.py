from django.contrib import admin

from .models import Notification


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
