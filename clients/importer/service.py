"""The import service: read the file, check every row, then write all of it or nothing."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User

from .reading import BookError, read_book
from .results import ImportResult, ImportRowError, SheetCounts
from .spec import SHEETS
from .validation import BookChecker, ErrorLog, RowParser
from .writing import BookWriter


@transaction.atomic
def client_book_import(*, data: bytes, filename: str, user: User | None, dry_run: bool = False) -> ImportResult:
    """Import a client book. user None is the command line: no department limits, no one to blame.

    Returns the counts per sheet, or every error found; with errors nothing is written.
    """
    if user is not None and not (user.is_active and user.has_perm("clients.import_client")):
        raise PermissionDenied(_("You may not import the client book."))
    result = ImportResult(dry_run=dry_run, counts={spec.code: SheetCounts() for spec in SHEETS})
    try:
        tables = read_book(data, filename)
    except BookError as exc:
        result.errors.append(ImportRowError(sheet=exc.sheet, row=exc.row, column=exc.column, message=exc.message))
        return result

    errors = ErrorLog(result)
    book = RowParser(errors=errors).parse(tables)
    # Checked even after errors in cells: the user should see every problem at once.
    existing = BookChecker(user=user, book=book, errors=errors).check()
    if result.errors:
        result.errors.sort(key=lambda e: e.order)
        return result
    writer = BookWriter(user=user, book=book, existing=existing, errors=errors, result=result)
    writer.plan()
    if result.errors:
        result.errors.sort(key=lambda e: e.order)
        result.counts = {spec.code: SheetCounts() for spec in SHEETS}
        return result
    if dry_run:
        return result
    writer.write()
    return result
