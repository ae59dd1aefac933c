# The Notification model, taken over from the handover app with its table (handover_notification):
# this changes Django's state only; no table is created and no row moves.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def content_type_follows(apps, schema_editor):
    # The admin log and any permission granted on notifications keep pointing at the model.
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label="notifications", model="notification").exists():
        ContentType.objects.using(db).filter(app_label="handover", model="notification").update(
            app_label="notifications"
        )


def content_type_returns(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label="handover", model="notification").exists():
        ContentType.objects.using(db).filter(app_label="notifications", model="notification").update(
            app_label="handover"
        )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("handover", "0008_notification_moves_to_notifications"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        ("source", models.CharField(max_length=80, verbose_name="source")),
                        ("title", models.CharField(max_length=200, verbose_name="title")),
                        ("body", models.TextField(blank=True, verbose_name="text")),
                        ("url", models.CharField(blank=True, max_length=200, verbose_name="link")),
                        (
                            "created_at",
                            models.DateTimeField(
                                db_index=True, default=django.utils.timezone.now, verbose_name="created at"
                            ),
                        ),
                        ("read_at", models.DateTimeField(blank=True, null=True, verbose_name="read at")),
                        ("emailed_at", models.DateTimeField(blank=True, null=True, verbose_name="emailed at")),
                        ("email_attempts", models.PositiveSmallIntegerField(default=0, verbose_name="email attempts")),
                        (
                            "webhooked_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="sent to the group robot at"),
                        ),
                        (
                            "webhook_attempts",
                            models.PositiveSmallIntegerField(default=0, verbose_name="group robot attempts"),
                        ),
                        (
                            "handover",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="handover.handover",
                                verbose_name="handover",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="user",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "notification",
                        "verbose_name_plural": "notifications",
                        "db_table": "handover_notification",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [models.Index(fields=["user", "read_at"], name="handover_no_user_id_9628e4_idx")],
                        "constraints": [
                            models.UniqueConstraint(fields=("user", "source"), name="notification_once_per_source")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_follows, content_type_returns, elidable=True),
    ]
