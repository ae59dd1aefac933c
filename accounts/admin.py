from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from .auth import ThrottledAdminAuthenticationForm
from .models import AccessLog, Department, User
from .roles import Role

# The admin's login page is throttled like the site's.
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "head"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["head"]


class RoleFilter(admin.SimpleListFilter):
    """Filter by role, named by its label rather than by the group's code."""

    title = _("role")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return Role.choices

    def queryset(self, request, queryset):
        return queryset.filter(groups__name=self.value()) if self.value() else queryset


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "employee_no", "full_name", "department", "supervisor", "roles", "is_active"]
    list_filter = ["department", RoleFilter, "is_active", "is_staff"]
    search_fields = ["username", "employee_no", "full_name", "phone"]
    autocomplete_fields = ["department", "supervisor"]
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("Company"), {"fields": ("employee_no", "full_name", "phone", "department", "supervisor")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, obj):
        # The role labels, not the group names (which are the role codes).
        codes = {group.name for group in obj.groups.all()}
        return pgettext("list separator", ", ").join(str(label) for code, label in Role.choices if code in codes)


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    """Read-only: the trail is written by the pages, never by hand (HR and administrators read it)."""

    list_display = ["at", "user", "action", "client", "refused", "detail", "ip"]
    list_filter = ["action", "refused", "at"]
    search_fields = ["user__username", "user__full_name", "client__name", "client__credit_code", "detail"]
    list_select_related = ["user", "client"]
    date_hierarchy = "at"
    raw_id_fields = ["user", "client"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
