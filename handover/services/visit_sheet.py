"""The visit record as an Excel sheet: downloaded prefilled, filled in offline, uploaded back.

The upload goes through visits_save_rows, so the sheet has the grid's rules and its
all-or-nothing: every error comes back by row and column, and nothing is saved unless every row
passes. The file is read with the client-book importer's bounded reading (size, package and XML
limits, IMPORT_MAX_ROWS) and its cell parsers; its errors are the importer's ImportRowError.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import openpyxl
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation

# The importer's reading pieces: bounded reading of an untrusted workbook, one cell into a value.
from clients.importer.cells import EMPTY, CellError, Choices, _as_text, _parse_date, is_blank
from clients.importer.reading import BookError, read_sheet
from clients.importer.results import ImportRowError
from clients.importer.spec import Column, SheetSpec, norm_header

from .. import policy
from ..models import Handover, HandoverClient, Visit, VisitMode
from .errors import NotAllowed, RowErrors, SheetErrors
from .visits import VisitRow, visits_save_rows

SHEET_TITLE = gettext_lazy("Joint visits")


@dataclass(frozen=True)
class SheetColumn:
    key: str
    header: object  # lazy text: the header in the language of the download
    width: int = 14
    hidden: bool = False


COLUMNS = (
    SheetColumn("client", gettext_lazy("client"), 28),
    SheetColumn("grade", gettext_lazy("grade"), 6),
    SheetColumn("receiver", gettext_lazy("receiver"), 10),
    SheetColumn("planned_visit_on", gettext_lazy("planned visit date"), 14),
    SheetColumn("visited_on", gettext_lazy("visit date"), 14),
    SheetColumn("mode", gettext_lazy("mode"), 12),
    SheetColumn("contact_met", gettext_lazy("client contact met"), 16),
    SheetColumn("outcome", gettext_lazy("outcome"), 40),
    SheetColumn("concerns", gettext_lazy("client's concerns"), 30),
    # Which row of the handover, and the version it was downloaded at: hidden, read back on upload.
    SheetColumn("id", "id", 8, hidden=True),
    SheetColumn("row_version", "row_version", 8, hidden=True),
)
INPUTS = ("visited_on", "mode", "contact_met", "outcome", "concerns")
REQUIRED = ("id", "visited_on", "mode", "contact_met", "outcome")


# ---------------------------------------------------------------------------------------
# Download


def _sheet_clients(h: Handover, user) -> list[HandoverClient]:
    hcs = list(h.clients.select_related("client", "receiver").order_by("grade", "client__name", "pk"))
    return [hc for hc in hcs if policy.may_record_visit(h, hc, user)]


def visit_sheet_download(*, handover: Handover, user) -> bytes:
    """The visit record of a receiver's clients, one row per client prefilled with its latest visit
    that still counts, as an .xlsx. Client data is never exported by the departing person (they
    record the visits in the grid, and may upload a sheet a receiver filled in)."""
    if policy.is_departing(handover, user):
        raise NotAllowed(_("Client data is not exported by the departing salesperson; record the visits in the grid."))
    hcs = _sheet_clients(handover, user)
    if not hcs:
        raise NotAllowed(_("Only the departing salesperson and this client's receiver record the visit."))
    latest: dict[int, Visit] = {}
    for v in Visit.objects.filter(handover_client__in=hcs, superseded=False).order_by("visited_on", "pk"):
        latest[v.handover_client_id] = v
    modes = dict(VisitMode.choices)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = str(SHEET_TITLE)
    sheet.append([str(c.header) for c in COLUMNS])
    for hc in hcs:
        v = latest.get(hc.pk)
        sheet.append(
            [
                hc.client.name,
                hc.grade,
                hc.receiver.display_name,
                hc.planned_visit_on,
                v.visited_on if v else None,
                str(modes[v.mode] if v else modes[VisitMode.IN_PERSON]),
                v.contact_met if v else "",
                v.outcome if v else "",
                v.concerns if v else "",
                hc.pk,
                hc.row_version,
            ]
        )
    bold = Font(bold=True)
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = bold
        dimension = sheet.column_dimensions[cell.column_letter]
        dimension.width = column.width
        dimension.hidden = column.hidden
        if column.key in ("planned_visit_on", "visited_on"):
            for row in range(2, len(hcs) + 2):
                sheet.cell(row=row, column=index).number_format = "yyyy-mm-dd"
    mode_col = openpyxl.utils.get_column_letter(1 + [c.key for c in COLUMNS].index("mode"))
    choice = DataValidation(type="list", formula1='"' + ",".join(str(label) for label in modes.values()) + '"')
    choice.add(f"{mode_col}2:{mode_col}{len(hcs) + 1}")
    sheet.add_data_validation(choice)
    sheet.freeze_panes = "B2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def visit_sheet_filename(h: Handover) -> str:
    return f"{h.number}-{_('joint visits')}.xlsx"


# ---------------------------------------------------------------------------------------
# Upload


def _header_keys() -> dict[str, str]:
    """Every spelling of every header (in Chinese and English) to its column's key."""
    keys: dict[str, str] = {}
    for column in COLUMNS:
        for language in ("zh-hans", "en"):
            with translation.override(language):
                keys.setdefault(norm_header(str(column.header)), column.key)
    return keys


def _read(data: bytes, filename: str):
    """The table of the upload's visit-record sheet (else its first), read by the client-book
    importer under its limits (size, package and XML bounds, IMPORT_MAX_ROWS)."""
    return read_sheet(data, filename, SheetSpec(code="visits", title=str(SHEET_TITLE), model=Visit, columns=()))


def _int_cell(value) -> int | None:
    text = _as_text(value)
    return int(text) if text.isdigit() else None


def visit_sheet_upload(*, handover: Handover, user, data: bytes, filename: str) -> list[Visit]:
    """Record the visits of an uploaded visit record: all or nothing, every error by row and column.

    A row left as downloaded (its values are those of a visit already recorded) and a row with
    nothing typed are skipped; every other row adds a visit, as in the grid."""
    try:
        table = _read(data, filename)
    except BookError as exc:
        raise SheetErrors([ImportRowError(exc.sheet or "", exc.row, exc.column, exc.message)]) from exc
    sheet_title = table.title
    keys = _header_keys()
    position: dict[str, int] = {}
    for index, header in enumerate(table.headers):
        key = keys.get(norm_header(header))
        if key and key not in position:
            position[key] = index
    headers = {c.key: str(c.header) for c in COLUMNS}
    missing = [headers[k] for k in REQUIRED if k not in position]
    if missing:
        raise SheetErrors(
            [
                ImportRowError(
                    sheet_title,
                    table.header_row,
                    "",
                    _("The sheet lacks the columns %(names)s; download the visit record again and fill it in.")
                    % {"names": "、".join(missing)},
                )
            ]
        )
    modes = Choices(Visit, "mode")
    errors: list[ImportRowError] = []
    rows: list[VisitRow] = []
    row_of: dict[int, int] = {}  # handover client -> sheet row

    def cell(values, key):
        i = position.get(key)
        return values[i] if i is not None and i < len(values) else None

    for number, values in table.rows:
        if all(is_blank(cell(values, k)) for k in ("visited_on", "contact_met", "outcome", "concerns")):
            continue
        hc_id = _int_cell(cell(values, "id"))
        if hc_id is None:
            errors.append(
                ImportRowError(
                    sheet_title,
                    number,
                    headers["id"],
                    _("This row has no client id; copy rows only from the download."),
                )
            )
            continue
        if hc_id in row_of:
            errors.append(
                ImportRowError(
                    sheet_title,
                    number,
                    headers["client"],
                    _("This client's row appears twice (also row %(row)d); keep one.") % {"row": row_of[hc_id]},
                )
            )
            continue
        row_of[hc_id] = number
        row = VisitRow(hc_id, row_version=_int_cell(cell(values, "row_version")))
        try:
            day = _parse_date(cell(values, "visited_on"), Column(headers["visited_on"], "visited_on", "date"))
            row.visited_on = None if day is EMPTY else day
        except CellError as exc:
            errors.append(ImportRowError(sheet_title, number, headers["visited_on"], exc.message))
        mode_text = _as_text(cell(values, "mode"))
        if mode_text:
            try:
                row.mode = modes.parse(mode_text, Column(headers["mode"], "mode", "choice"))
            except CellError as exc:
                errors.append(ImportRowError(sheet_title, number, headers["mode"], exc.message))
        row.contact_met = _as_text(cell(values, "contact_met"))
        row.outcome = _as_text(cell(values, "outcome"))
        row.concerns = _as_text(cell(values, "concerns"))
        rows.append(row)
    if errors:
        raise SheetErrors(errors)
    rows = _without_recorded(rows)
    try:
        return visits_save_rows(handover=handover, user=user, rows=rows)
    except RowErrors as exc:
        found = []
        for hc_id, fields in exc.rows.items():
            for name, message in fields.items():
                column = headers.get(name, "") if name != "__all__" else headers["client"]
                found.append(ImportRowError(sheet_title, row_of.get(hc_id), column, message))
        found.sort(key=lambda e: (e.row or 0, e.column))
        raise SheetErrors(found, conflict=bool(exc.conflicts) and len(exc.conflicts) == len(exc.rows)) from exc


def _without_recorded(rows: list[VisitRow]) -> list[VisitRow]:
    """The rows that say something new: a row as downloaded repeats a visit already recorded."""
    recorded: set[tuple] = set()
    for v in Visit.objects.filter(handover_client_id__in=[r.handover_client_id for r in rows], superseded=False):
        recorded.add((v.handover_client_id, v.visited_on, v.mode, v.contact_met, v.outcome, v.concerns))
    return [
        r
        for r in rows
        if (r.handover_client_id, r.visited_on, r.mode, r.contact_met.strip(), r.outcome.strip(), r.concerns.strip())
        not in recorded
    ]


def sheet_error_lines(exc: SheetErrors, limit: int = 50) -> list[str]:
    lines = [str(e) for e in exc.errors[:limit]]
    if len(exc.errors) > limit:
        lines.append(_("… and %(n)d more.") % {"n": len(exc.errors) - limit})
    return lines
