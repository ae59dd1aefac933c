"""The roles of the procedure, stored as auth Groups.

Group names are stable codes used in code and data migrations; people see the labels.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    SALES = "sales", _("Salesperson")
    SUPERVISOR = "supervisor", _("Supervisor")
    WITNESS = "witness", _("Witness")
    MANAGER = "manager", _("Manager in charge")
    HR = "hr", _("HR")
    ADMIN = "admin", _("Administrator")


# Permissions each role's group holds: (app_label, codename).
# The pages use only view_all_clients, export_client and import_client. The model permissions
# (view_/change_<model>) open the admin, which lists every row unscoped and unlogged, so they go
# only to roles whose work is there: HR keeps accounts (and needs departments to pick them),
# administrators also fix the client book. Privileges and passwords are for superusers only
# (accounts/admin.py).
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    Role.SALES: [
        ("clients", "export_client"),
    ],
    Role.SUPERVISOR: [
        ("clients", "export_client"),
        ("clients", "import_client"),
    ],
    Role.WITNESS: [],
    Role.MANAGER: [
        ("clients", "view_all_clients"),
        ("clients", "export_client"),
        ("clients", "import_client"),
    ],
    Role.HR: [
        ("clients", "view_all_clients"),
        ("accounts", "view_user"),
        ("accounts", "change_user"),
        ("accounts", "view_department"),
        ("accounts", "view_accesslog"),
    ],
    Role.ADMIN: [
        ("clients", "view_client"),
        ("clients", "view_all_clients"),
        ("clients", "change_client"),
        ("clients", "export_client"),
        ("clients", "import_client"),
        ("accounts", "view_user"),
        ("accounts", "change_user"),
        ("accounts", "view_department"),
        ("accounts", "view_accesslog"),
    ],
}
