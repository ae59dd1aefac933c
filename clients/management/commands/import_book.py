from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.models import User
from clients.importer import client_book_import, error_count_message


class Command(BaseCommand):
    help = (
        "Import a client book (.xlsx with the sheets 客户, 联系人, 合同, 应收款, 商机, or a .csv of clients). "
        "Nothing is imported if any row has an error."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the .xlsx or .csv file.")
        parser.add_argument(
            "--user",
            help="Import as this user (username), with their permission and department limits. "
            "Without it the import runs unrestricted.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the file only; write nothing.")

    def handle(self, *args, file: str, user: str | None, dry_run: bool, **options):
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(_("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc.strerror}) from exc
        importer = None
        if user:
            importer = User.objects.filter(username=user).first()
            if importer is None:
                raise CommandError(_("No user is called %(name)s.") % {"name": user})
        try:
            result = client_book_import(data=data, filename=path.name, user=importer, dry_run=dry_run)
        except PermissionDenied as exc:
            raise CommandError(_("%(name)s may not import the client book.") % {"name": user}) from exc
        if result.errors:
            for error in result.errors:
                self.stderr.write(str(error))
            raise CommandError(error_count_message(result))
        self.stdout.write(self.style.SUCCESS(result.summary()))
