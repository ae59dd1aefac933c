"""The admin opens only to the roles whose work is there (see accounts/roles.py).

view_client and change_client opened the admin's unscoped client book to every role though no
page uses them; HR needs to see departments to set them; adding a user sets a password, which
only superusers do.
"""

from django.db import migrations

# Frozen: (role, app_label, codename).
GRANT = [
    ("hr", "accounts", "view_department"),
    ("admin", "accounts", "view_department"),
]
REVOKE = [
    ("sales", "clients", "view_client"),
    ("sales", "clients", "change_client"),
    ("supervisor", "clients", "view_client"),
    ("supervisor", "clients", "change_client"),
    ("witness", "clients", "view_client"),
    ("manager", "clients", "view_client"),
    ("hr", "clients", "view_client"),
    ("admin", "accounts", "add_user"),
]


def _change(apps, *, add, remove):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; the groups need them now.
    for label in ("accounts", "clients"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for rows, method in ((add, "add"), (remove, "remove")):
        for role, app_label, codename in rows:
            group = Group.objects.filter(name=role).first()
            if group is not None:
                permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
                getattr(group.permissions, method)(permission)


def forward(apps, schema_editor):
    _change(apps, add=GRANT, remove=REVOKE)


def backward(apps, schema_editor):
    _change(apps, add=REVOKE, remove=GRANT)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_accesslog_permission"),
        ("clients", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
