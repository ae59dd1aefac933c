from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from demo.company import DEMO_LOGINS, DEMO_PASSWORD, demo_seed
from demo.handovers import demo_handovers
from demo.history import demo_history
from demo.walk import passwords_checked_once


class Command(BaseCommand):
    help = (
        "Load the demo company: 3 departments, every role, 204 clients with contacts, contracts, "
        "receivables, deals and follow-ups; handovers at several stages, and three completed 3 to 12 "
        "months ago with what followed them. Deterministic; creates only what is missing."
    )

    def handle(self, *args, **options):
        counts = demo_seed(stdout=self.stdout if options["verbosity"] > 1 else None)
        # One transaction for the handovers now and past: what their commits start in threads (the
        # archives, the deliveries) starts once, after the last write, and (on SQLite) finds the
        # database free. Inside the same override as theirs, so the demo's notices email nobody.
        with (
            override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
            passwords_checked_once(),
            transaction.atomic(),
        ):
            counts["handovers"] = demo_handovers()
            counts["past_handovers"] = demo_history()
        if any(counts.values()):
            made = ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in counts.items() if value)
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {made}."))
        else:
            self.stdout.write(self.style.SUCCESS("Demo data already present; nothing to add."))
        if options["verbosity"] < 1:
            return
        self.stdout.write(f"\nDemo logins (every password: {DEMO_PASSWORD}):")
        width = max(len(username) for username in DEMO_LOGINS)
        for username, login in DEMO_LOGINS.items():
            self.stdout.write(f"  {username.ljust(width)}  {login['name']}  {login['title']}")
            self.stdout.write(f"  {' ' * width}  {login['try']}")
