from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Department, User


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "head"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["head"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "employee_no", "full_name", "department", "supervisor", "is_active"]
    list_filter = ["department", "groups", "is_active", "is_staff"]
    search_fields = ["username", "employee_no", "full_name", "phone"]
    autocomplete_fields = ["department", "supervisor"]
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("Company"), {"fields": ("employee_no", "full_name", "phone", "department", "supervisor")}),
    )
