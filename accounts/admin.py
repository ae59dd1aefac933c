from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from knox.admin import AuthTokenAdmin as KnoxAuthTokenAdmin
from knox.models import AuthToken

from .auth import ThrottledAdminAuthenticationForm
from .models import AccessLog, Department, User
from .roles import Role

# The admin's login page is throttled like the site's.
admin.site.login_form = ThrottledAdminAuthenticationForm
# The admin speaks the site's language: its header, the browser title and the index's heading
# (Django's own catalogue translates the rest, "Welcome," included).
admin.site.site_header = _("Client handover administration")
admin.site.site_title = _("Client handover administration")
admin.site.index_title = _("Administration")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "head", "client_cap", "default_witness", "default_manager", "default_receiver"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["head", "default_witness", "default_manager", "default_receiver"]


class RoleFilter(admin.SimpleListFilter):
    """Filter by role, named by its label rather than by the group's code."""

    title = _("role")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return Role.choices

    def queryset(self, request, queryset):
        return queryset.filter(groups__name=self.value()) if self.value() else queryset


# What only a superuser touches: whoever sets these can make themselves or anyone else an
# administrator, or log in as someone else. Everyone else's user admin does HR's work.
PRIVILEGE_FIELDS = ("password", "is_superuser", "is_staff", "groups", "user_permissions")
# HR's work on an account; the other fields are shown read only.
COMPANY_FIELDS = ("employee_no", "full_name", "phone", "department", "supervisor", "client_cap")
PERSONNEL_FIELDS = ("is_active", *COMPANY_FIELDS)


def may_grant(user) -> bool:
    """Privileges and passwords are set by superusers only (the administrators)."""
    return user.is_superuser


def is_administrator(user) -> bool:
    return user.is_superuser or user.has_role(Role.ADMIN)


class PersonnelForm(forms.ModelForm):
    """The change form of everyone who may not grant. Not UserChangeForm: a ModelForm keeps its
    declared fields (the password) whatever fields the ModelAdmin asks for."""

    class Meta:
        model = User
        fields = PERSONNEL_FIELDS


def _without(fieldsets, hidden) -> tuple:
    kept = []
    for name, options in fieldsets:
        fields = tuple(f for f in options["fields"] if f not in hidden)
        if fields:
            kept.append((name, {**options, "fields": fields}))
    return tuple(kept)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Superusers see Django's whole user admin. Everyone else who may change users (HR) keeps
    accounts up to date: active or not, employee number, name, phone, department and supervisor;
    never privileges or passwords, never an administrator's account, and adds nobody (a new
    account needs a password, which only an administrator sets)."""

    list_display = ["username", "employee_no", "full_name", "department", "supervisor", "roles", "is_active"]
    list_filter = ["department", RoleFilter, "is_active", "is_staff"]
    search_fields = ["username", "employee_no", "full_name", "phone"]
    autocomplete_fields = ["department", "supervisor"]
    fieldsets = BaseUserAdmin.fieldsets + ((_("Company"), {"fields": COMPANY_FIELDS}),)
    personnel_fieldsets = _without(((None, {"fields": ("username", "roles")}),) + fieldsets[1:], PRIVILEGE_FIELDS)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not may_grant(request.user):
            return self.personnel_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if may_grant(request.user):
            return super().get_readonly_fields(request, obj)
        shown = {f for _name, options in self.personnel_fieldsets for f in options["fields"]}
        return sorted(shown - set(PERSONNEL_FIELDS))

    def get_form(self, request, obj=None, **kwargs):
        if not may_grant(request.user):
            # The form has only HR's fields: a crafted POST of anything else is ignored.
            kwargs["form"] = PersonnelForm
        return super().get_form(request, obj, **kwargs)

    def has_add_permission(self, request):
        # Adding a user sets its password.
        return may_grant(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or may_grant(request.user) or not is_administrator(obj)

    def user_change_password(self, request, id, form_url=""):
        # Whoever sets someone's password can log in as them.
        if not may_grant(request.user):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

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


admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(KnoxAuthTokenAdmin):
    """API tokens are given by POST /api/auth/token/ to the person themselves. Here an
    administrator sees them and ends one (delete); nobody makes one for someone else, or one
    that never expires."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
