"""Beat's stand-in when no broker is configured: run the periodic scan every few minutes."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from handover.tasks import scan_reminders


class Command(BaseCommand):
    help = (
        "Run the periodic scan (reminders, missing archives) now, "
        "and with --loop every REMINDER_SCAN_MINUTES (default 15)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep running")
        parser.add_argument("--minutes", type=float, default=settings.REMINDER_SCAN_MINUTES)

    def handle(self, *args, loop: bool, minutes: float, **options):
        while True:
            try:
                # The task's body, run here: without a broker the archives it queues run here too.
                result = scan_reminders()
                self.stdout.write(f"reminder scan: {result}")
            except Exception as exc:  # noqa: BLE001 - a failed run must not stop the loop
                self.stderr.write(f"reminder scan failed: {exc}")
                if not loop:
                    raise
            if not loop:
                return
            time.sleep(minutes * 60)
