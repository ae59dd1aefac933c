"""Opening the uploaded file and reading its sheets into tables of raw cell values, within bounds.

An upload is untrusted: a small .xlsx can unpack to gigabytes or to millions of XML elements,
and what a file says about its own size can be wrong. So the package is measured before
openpyxl parses any of it, and rows and columns are counted while they are read; whatever is
wrong with the file ends in a BookError with the message for the user, never a server error.
"""

from __future__ import annotations

import csv
import io
import posixpath
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any
from xml.etree import ElementTree

import openpyxl
from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl.packaging.relationship import get_rels_path
from openpyxl.xml.constants import (
    ARC_CONTENT_TYPES,
    ARC_CORE,
    ARC_CUSTOM,
    ARC_STYLE,
    ARC_WORKBOOK,
    REL_NS,
    SHARED_STRINGS,
    WORKSHEET_TYPE,
    XLSM,
    XLSX,
    XLTM,
    XLTX,
)

from .cells import is_blank
from .spec import CLIENTS, SHEETS, SheetSpec, norm_header, spec_for_sheet

# An .xlsx is a zip of XML; a small upload can unpack to gigabytes (a "zip bomb").
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
# A workbook is a few dozen parts; thousands only waste time opening them.
MAX_PARTS = 1000
# openpyxl opens every sheet the workbook lists while loading (each a different part: Excel never
# lists one twice); the client book has five.
MAX_SHEETS = 50
# The widest sheet has 14 columns; a header row wider than this is not a client book.
MAX_COLUMNS = 50
# Empty rows read from one file. Cheap (a few bytes of XML can stand for a million of them, so
# they are counted), and not tied to IMPORT_MAX_ROWS: the template alone has about 5,000, the
# formatted rows under each sheet's example.
MAX_EMPTY_ROWS = 50_000
# Reading costs time per XML element, and an empty <c/> costs as much as a filled cell, so bytes
# alone do not bound the work: the elements are counted before anything is parsed. A full client
# row takes about 110 (58 in the sheet with shared strings, up to 14 × 4 in the string table).
# The base is all the rest of the package may hold (styles, relationships, the workbook part,
# the sheets' heads): openpyxl parses those slowest, up to 0.4 ms an element.
XML_TAGS_PER_ROW = 120
XML_TAGS_BASE = 100_000


def _spelled_as_xml(text: str) -> tuple[bytes, ...]:
    """text as it appears in XML in any encoding the parser reads: UTF-8 (single-byte encodings
    must write ASCII as ASCII) and both byte orders of UTF-16."""
    return (text.encode(), text.encode("utf-16-le"), text.encode("utf-16-be"))


# A document type declaration is how XML entities are defined; entities expand into elements the
# count above never saw (and external ones read files). The packaging standard forbids DTDs in
# an .xlsx and Excel never writes one, so any part containing one is refused.
_DTD_MARKERS = _spelled_as_xml("<!DOCTYPE")
_DTD_OVERLAP = max(len(marker) for marker in _DTD_MARKERS) - 1

WORKBOOK_CONTENT_TYPES = {XLSX, XLSM, XLTX, XLTM}


class BookError(Exception):
    """The whole file is unusable; carries the message for the user."""

    def __init__(self, message: str, *, sheet: str = "", column: str = "", row: int | None = None):
        super().__init__(message)
        self.message = message
        self.sheet = sheet
        self.column = column
        self.row = row


@dataclass
class Table:
    spec: SheetSpec
    title: str  # as written in the file
    header_row: int
    headers: list[Any]
    rows: list[tuple[int, tuple]]  # (row number in the sheet, cell values)


@dataclass
class _RowCount:
    """Rows read from the whole file so far, against the limits.

    Counted while reading, because what a file says about its size (an .xlsx sheet's dimension)
    can be missing, wrong or a lie. Empty rows count too (against MAX_EMPTY_ROWS).
    """

    limit: int
    data: int = 0
    blank: int = 0


def _looks_like_clients(headers: Iterable[Any]) -> bool:
    names = {norm_header(h) for h in headers}
    return all(any(norm_header(n) in names for n in (c.header, *c.aliases)) for c in CLIENTS.columns if c.required)


def _check_size(data: bytes) -> None:
    if not data:
        raise BookError(_("The file is empty."))
    limit = settings.IMPORT_MAX_BYTES
    if len(data) > limit:
        raise BookError(
            _("The file is %(size)s; files larger than %(limit)s are refused. Split it into smaller files.")
            % {"size": human_size(len(data)), "limit": human_size(limit)}
        )


def read_book(data: bytes, filename: str) -> list[Table]:
    _check_size(data)
    suffix = PurePath(filename or "").suffix.lower()
    rows = _RowCount(limit=settings.IMPORT_MAX_ROWS)
    if suffix == ".xlsx":
        tables = _read_xlsx(data, rows)
    elif suffix == ".csv":
        tables = _read_csv(data, rows)
    else:
        raise BookError(
            _("Only .xlsx (Excel workbook) and .csv files can be imported; “%(name)s” is neither.")
            % {"name": PurePath(filename or "").name}
        )
    if not any(t.rows for t in tables):
        raise BookError(_("The file has headers but no data rows."))
    return tables


def read_sheet(data: bytes, filename: str, spec: SheetSpec) -> Table:
    """One sheet laid out by spec, from an .xlsx, under the same limits and checks as the client book.

    For other uploads that are one table (the handover's plan): the sheet named as the spec says
    (its title or an alias), else the workbook's first sheet. The header is its first row with
    something in it; rows are (row number in the sheet, values).
    """
    _check_size(data)
    if PurePath(filename or "").suffix.lower() != ".xlsx":
        raise BookError(
            _("Only .xlsx (Excel workbook) files can be uploaded here; “%(name)s” is not one.")
            % {"name": PurePath(filename or "").name}
        )
    rows = _RowCount(limit=settings.IMPORT_MAX_ROWS)
    names = {_norm_title(spec.title), *(_norm_title(a) for a in spec.aliases)}

    def pick(workbook) -> list[Table]:
        sheets = list(workbook.worksheets)
        if not sheets:
            raise _not_a_workbook()
        sheet = next((s for s in sheets if _norm_title(s.title) in names), sheets[0])
        return [_read_sheet(sheet, spec, rows)]

    table = _read_xlsx(data, rows, tables_of=pick)[0]
    if not table.rows:
        raise BookError(_("The file has headers but no data rows."), sheet=table.title)
    return table


def _norm_title(title: str) -> str:
    return "".join((title or "").split()).lower()


def human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


def _not_a_workbook() -> BookError:
    return BookError(
        _(
            "The file is not a valid .xlsx workbook. Open it in Excel or WPS, save it as "
            "“Excel Workbook (*.xlsx)” and upload it again."
        )
    )


def _read_xlsx(data: bytes, rows: _RowCount, *, tables_of=None) -> list[Table]:
    tables_of = tables_of or (lambda workbook: _tables_from_workbook(workbook, rows))
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        raise _not_a_workbook()
    try:
        with zipfile.ZipFile(buffer) as archive:
            _check_package(archive, rows.limit)
    except BookError:
        raise
    except Exception as exc:
        # Broken or encrypted members, unknown compression: the file's fault, never a server error.
        raise _not_a_workbook() from exc
    try:
        workbook = openpyxl.load_workbook(buffer, read_only=True, data_only=True)
    except Exception as exc:
        # Whatever openpyxl trips over, it is the file's fault and never a server error.
        raise _not_a_workbook() from exc
    try:
        return tables_of(workbook)
    except BookError:
        raise
    except Exception as exc:
        # Read-only mode parses lazily, so broken sheet XML surfaces only here.
        raise _not_a_workbook() from exc
    finally:
        workbook.close()


def _check_package(archive: zipfile.ZipFile, row_limit: int) -> None:
    """Refuse a workbook that would take long to parse, before openpyxl parses any of it.

    Every member is unpacked and its "<" counted: in every encoding the XML parser accepts,
    "<" is that byte and starts each element, so the count bounds the elements openpyxl would
    build. zipfile never unpacks a member past its declared size, so the sizes bound the bytes.
    The rows' allowance is for the sheets and the shared-string table; everything else openpyxl
    parses (the index, relationships, the workbook part, styles) costs up to 0.4 ms an element
    and has to fit the small base.
    """
    members = archive.infolist()
    if len(members) > MAX_PARTS or sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        raise BookError(_("The workbook unpacks to more data than allowed; split it into smaller files."))
    too_many_cells = BookError(
        _("The workbook holds more cells than can be imported at once; split it into files of at most %(max)d rows.")
        % {"max": row_limit}
    )
    tags: dict[str, int] = {}  # "<" in each part
    for member in members:
        tags[member.filename] = _count_tags(archive, member)
        if sum(tags.values()) > row_limit * XML_TAGS_PER_ROW + XML_TAGS_BASE:
            raise too_many_cells
    data_parts = _data_parts(archive, tags, too_many_cells)
    if sum(n for name, n in tags.items() if name not in data_parts) > XML_TAGS_BASE:
        raise too_many_cells


def _count_tags(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    tags, tail = 0, b""
    with archive.open(member) as part:
        while chunk := part.read(1024 * 1024):
            window = tail + chunk  # the tail catches a marker split between two chunks
            if any(marker in window for marker in _DTD_MARKERS):
                raise BookError(
                    _(
                        "The workbook contains a document type declaration (DTD), which Excel never writes. "
                        "Open it in Excel or WPS, save it as “Excel Workbook (*.xlsx)” and upload it again."
                    )
                )
            tags += chunk.count(b"<")
            tail = window[-_DTD_OVERLAP:]
    return tags


def _data_parts(archive: zipfile.ZipFile, tags: dict[str, int], too_big: BookError) -> set[str]:
    """The parts openpyxl reads only as sheets or only as the shared-string table.

    Found the way openpyxl finds them: the string table by its content type in the package
    index, the sheets by the workbook's relationships. A part that anything else points at, or
    that the index calls something else, is not one of them. Only small parts are parsed here.
    """

    def small_xml(name: str) -> ElementTree.Element | None:
        if name not in tags:
            return None
        if tags[name] > XML_TAGS_BASE:
            raise too_big
        return ElementTree.fromstring(archive.read(name))  # noqa: S314 - no DTD got this far, so no entities

    def local(tag: str) -> str:
        return tag.rpartition("}")[2]

    index = small_xml(ARC_CONTENT_TYPES)
    declared = [
        (e.get("PartName", "").lstrip("/"), e.get("ContentType"))
        for e in (index if index is not None else [])
        if local(e.tag) == "Override"
    ]
    strings = {name for name, kind in declared if kind == SHARED_STRINGS}
    workbooks = {ARC_WORKBOOK} | {name for name, kind in declared if kind in WORKBOOK_CONTENT_TYPES}
    others = {ARC_CONTENT_TYPES, ARC_STYLE, ARC_CORE, ARC_CUSTOM, *workbooks}
    others |= {name for name, kind in declared if kind not in (SHARED_STRINGS, WORKSHEET_TYPE)}
    sheets: set[str] = set()
    targets: dict[str, dict[str, str]] = {}  # relationships part -> id -> target
    for rels_name in [name for name in tags if name.endswith(".rels")]:
        others.add(rels_name)
        rels = small_xml(rels_name)
        targets[rels_name] = {}
        # "xl/_rels/workbook.xml.rels" holds the relationships of "xl/workbook.xml": targets are relative to "xl".
        folder = posixpath.dirname(posixpath.dirname(rels_name))
        for rel in rels if rels is not None else []:
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External" or not target:
                continue
            target = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            targets[rels_name][rel.get("Id", "")] = target
            kind = rel.get("Type", "").rpartition("/")[2]
            if kind == "worksheet":
                sheets.add(target)
            elif kind != "sharedStrings":
                others.add(target)
    listed: list[str] = []
    for name in workbooks:
        workbook = small_xml(name)
        ids = targets.get(get_rels_path(name), {})
        listed += [
            ids.get(e.get(f"{{{REL_NS}}}id", ""), "")
            for e in (workbook.iter() if workbook is not None else [])
            if local(e.tag) == "sheet"
        ]
    if len(listed) > MAX_SHEETS:
        raise BookError(
            _("The workbook has more than %(max)d sheets; keep only the sheets of the client book.")
            % {"max": MAX_SHEETS}
        )
    # openpyxl reads a sheet's start once for every entry of the list: the same part twice is
    # a way to make it read one part many times.
    if len(set(listed)) < len(listed):
        raise _not_a_workbook()
    return (sheets | strings) - others


def _tables_from_workbook(workbook, rows: _RowCount) -> list[Table]:
    tables: dict[str, Table] = {}
    sheets = list(workbook.worksheets)
    for sheet in sheets:
        spec = spec_for_sheet(sheet.title)
        if spec is None:
            continue  # instructions, notes, pivot tables: not ours
        if spec.code in tables:
            raise BookError(
                _("The workbook has two sheets for %(sheet)s: “%(first)s” and “%(second)s”.")
                % {"sheet": spec.title, "first": tables[spec.code].title, "second": sheet.title},
                sheet=sheet.title,
            )
        tables[spec.code] = _read_sheet(sheet, spec, rows)
    if not tables and sheets:
        # A one-sheet workbook ("Sheet1") with the client headers is a client list.
        table = _read_sheet(sheets[0], CLIENTS, rows)
        if _looks_like_clients(table.headers):
            tables[CLIENTS.code] = table
    if not tables:
        raise BookError(
            _("The workbook has none of the sheets %(names)s; download the template to see the layout.")
            % {"names": "、".join(spec.title for spec in SHEETS)}
        )
    return [tables[spec.code] for spec in SHEETS if spec.code in tables]


def _read_sheet(sheet, spec: SheetSpec, rows: _RowCount) -> Table:
    # The dimension a sheet declares can be wrong ("A1:XFD1048576" from some tools) or a lie, so it
    # is neither trusted nor used: without it openpyxl yields rows up to the last one in the file,
    # and max_col keeps each row short whatever column its last cell claims.
    sheet.reset_dimensions()
    return _table_from_records(sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True), spec, sheet.title, rows)


def _table_from_records(records: Iterable[Sequence[Any]], spec: SheetSpec, title: str, rows: _RowCount) -> Table:
    """The header (the first row with something in it) and the data rows under it, within the limits.

    Stops at the first row past a limit, so the work is bounded by the limits, not by the file.
    """
    header_row, headers, data = 0, [], []
    for number, record in enumerate(records, start=1):
        # Cells right of the header are notes nobody maps; before the header, look a column past the limit.
        values = tuple(record[: len(headers) if headers else MAX_COLUMNS + 1])
        if all(is_blank(v) for v in values):
            rows.blank += 1
            if rows.blank > MAX_EMPTY_ROWS:
                raise BookError(
                    _(
                        "The file has more than %(max)d empty rows; delete them (and any stray cells far "
                        "below the data) and upload it again."
                    )
                    % {"max": MAX_EMPTY_ROWS},
                    sheet=title,
                    row=number,
                )
            continue
        if not headers:
            header_row, headers = number, list(values)
            while headers and is_blank(headers[-1]):
                headers.pop()
            if len(headers) > MAX_COLUMNS:
                raise BookError(
                    _(
                        "The header row has more than %(max)d columns; delete the columns that are not "
                        "part of the client book."
                    )
                    % {"max": MAX_COLUMNS},
                    sheet=title,
                    row=number,
                )
            continue
        rows.data += 1
        if rows.data > rows.limit:
            raise BookError(
                _("The file has more than %(max)d rows; split it into smaller files.") % {"max": rows.limit},
                sheet=title,
                row=number,
            )
        data.append((number, values))
    return Table(spec=spec, title=title, header_row=header_row or 1, headers=headers, rows=data)


def _read_csv(data: bytes, rows: _RowCount) -> list[Table]:
    if data.startswith(b"PK\x03\x04"):
        raise BookError(_("This file is an Excel workbook, not a CSV file; rename it to .xlsx."))
    text = None
    # Excel saves "CSV UTF-8" with a BOM and plain "CSV" in the system code page (GBK on Chinese Windows).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        raise BookError(_("The CSV file could not be read; save it as “CSV UTF-8” or as CSV in GBK encoding."))
    # Read as a stream under the same limits as a sheet; the csv module bounds a field's length
    # (131,072 characters) and the upload's size bounds a line's.
    try:
        table = _table_from_records(csv.reader(io.StringIO(text, newline="")), CLIENTS, CLIENTS.title, rows)
    except csv.Error as exc:
        raise BookError(_("The CSV file is malformed: %(error)s") % {"error": exc}) from exc
    return [table]
