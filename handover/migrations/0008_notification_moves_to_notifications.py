# The Notification model moves to the notifications app (the bell, which accounts shows without
# importing handover). Only Django's idea of the model moves: the table handover_notification and
# its rows stay where they are, and notifications/0001 takes the model over under that table name.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("handover", "0007_idempotency_key"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Notification")],
            database_operations=[],
        ),
    ]
