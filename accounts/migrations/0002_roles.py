"""Create the role groups and give each its permissions."""

from django.db import migrations

# Frozen copy: later changes to the roles come in later migrations.
ROLE_PERMISSIONS = {'admin': [('clients', 'view_client'),
           ('clients', 'view_all_clients'),
           ('clients', 'change_client'),
           ('clients', 'export_client'),
           ('clients', 'import_client'),
           ('accounts', 'view_user'),
           ('accounts', 'add_user'),
           ('accounts', 'change_user')],
 'hr': [('clients', 'view_client'),
        ('clients', 'view_all_clients'),
        ('accounts', 'view_user'),
        ('accounts', 'change_user')],
 'manager': [('clients', 'view_client'),
             ('clients', 'view_all_clients'),
             ('clients', 'export_client'),
             ('clients', 'import_client')],
 'sales': [('clients', 'view_client'), ('clients', 'change_client'), ('clients', 'export_client')],
 'supervisor': [('clients', 'view_client'),
                ('clients', 'change_client'),
                ('clients', 'export_client'),
                ('clients', 'import_client')],
 'witness': [('clients', 'view_client')]}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=str(role))
        wanted = [Permission.objects.get(content_type__app_label=app, codename=code) for app, code in perms]
        group.permissions.set(wanted)


def remove_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=[str(r) for r in ROLE_PERMISSIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("clients", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
