"""Make the company seal: a self-signed company CA and a seal certificate issued by it.

    python manage.py seal_setup            # into SEAL_DIR (default var/seal/), if not there yet
    python manage.py seal_setup --dir DIR  # somewhere else
    python manage.py seal_setup --force    # replace them (archives sealed before stay verifiable by hash)

Idempotent: when a certificate and key are already where the settings point (SEAL_CERT_PATH
and SEAL_KEY_PATH, or SEAL_DIR), it does nothing. The key is encrypted with
SEAL_KEY_PASSPHRASE when that is set. Keep the directory out of version control and backed up.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from handover import seal


class Command(BaseCommand):
    help = "Generate the company CA and seal certificate used to seal archived confirmations."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default="", help="Write here instead of SEAL_DIR.")
        parser.add_argument("--force", action="store_true", help="Replace an existing certificate and key.")

    def handle(self, *args, dir="", force=False, **options):
        directory = Path(dir) if dir else Path(settings.SEAL_DIR)
        if not dir:
            paths = seal.seal_paths()
            if paths.cert.is_file() and paths.key.is_file() and not force:
                self.stdout.write(f"Seal certificate already in place: {paths.cert}")
                return
        elif (directory / seal.CERT_FILE).is_file() and not force:
            self.stdout.write(f"Seal certificate already in place: {directory / seal.CERT_FILE}")
            return
        passphrase = settings.SEAL_KEY_PASSPHRASE.encode() if settings.SEAL_KEY_PASSPHRASE else None
        paths = seal.generate(directory, company=settings.COMPANY_NAME, passphrase=passphrase)
        self.stdout.write(f"Company CA: {paths.ca}\nSeal certificate: {paths.cert}\nSeal key: {paths.key}")
