"""What an import reports back: every problem found, or the counts per sheet."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .spec import SHEETS_BY_CODE


@dataclass(frozen=True)
class ImportRowError:
    """One problem in the file. row and column are empty for problems with the whole file.

    (Not called ImportError: that would shadow the Python builtin.)
    """

    sheet: str
    row: int | None
    column: str
    message: str
    order: tuple[int, int, int] = field(default=(0, 0, 0), compare=False, repr=False)

    def __str__(self) -> str:
        parts = [self.sheet, _("row %(row)d") % {"row": self.row} if self.row else ""]
        if self.column and self.column not in self.message:
            parts.append(self.column)
        where = " ".join(part for part in parts if part)
        return _("%(label)s: %(value)s") % {"label": where, "value": self.message} if where else self.message


@dataclass
class SheetCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ImportResult:
    dry_run: bool = False
    errors: list[ImportRowError] = field(default_factory=list)
    # Keyed by sheet code (clients, contacts, contracts, receivables, deals), in book order.
    counts: dict[str, SheetCounts] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def created(self) -> int:
        return sum(c.created for c in self.counts.values())

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.counts.values())

    @property
    def unchanged(self) -> int:
        return sum(c.unchanged for c in self.counts.values())

    @property
    def sheet_counts(self) -> list[tuple[str, SheetCounts]]:
        """(sheet title, counts) for every sheet, in book order, for display."""
        return [(SHEETS_BY_CODE[code].title, counts) for code, counts in self.counts.items()]

    def summary(self) -> str:
        parts = [
            _("%(sheet)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged")
            % {"sheet": title, "created": c.created, "updated": c.updated, "unchanged": c.unchanged}
            for title, c in self.sheet_counts
            if c.total
        ]
        if self.dry_run:
            head = _("The file is valid; nothing was imported because this was only a check.")
        else:
            head = _("Client book imported.")
        return " ".join([head, "; ".join(parts)]).strip()


def error_count_message(result: ImportResult) -> str:
    n = len(result.errors)
    return ngettext(
        "The file has %(n)d error; nothing was imported. Correct the file and upload it again.",
        "The file has %(n)d errors; nothing was imported. Correct the file and upload it again.",
        n,
    ) % {"n": n}
