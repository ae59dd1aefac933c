"""The client list as CSV or Excel: the same rows the viewer sees on the list page."""

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from .models import Client, ClientStatus
from .money import EXCEL_FORMAT

# A cell starting with one of these is run as a formula by Excel, WPS and LibreOffice
# (CSV injection); a leading quote makes them show it as text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
UTF8_BOM = "\ufeff"
CHUNK_SIZE = 2000
MONEY_FORMAT = EXCEL_FORMAT


def neutralize(value: str) -> str:
    if value and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def header_row() -> list[str]:
    return [
        _("company name"),
        _("unified social credit code"),
        _("grade"),
        _("industry"),
        _("region"),
        _("address"),
        _("status"),
        _("owner"),
        _("employee number"),
        _("total contract amount"),
        _("outstanding receivables"),
        _("has overdue receivables"),
    ]


def client_rows(clients: QuerySet[Client]) -> Iterator[list]:
    """One row per client of a queryset from filter_clients(); text cells are already neutralized."""
    # Labels are translated now, while the request's language is active: a streamed
    # response reads the rows after the view has returned.
    yes, no = _("Yes"), _("No")
    statuses = {value: str(label) for value, label in ClientStatus.choices}

    def row(client: Client) -> list:
        text = [
            client.name,
            client.credit_code,
            client.grade,
            client.industry,
            client.region,
            client.address,
            statuses.get(client.status, client.status),
            client.owner.display_name,
            client.owner.employee_no or "",
        ]
        return [
            *(neutralize(value) for value in text),
            client.contract_amount,
            client.outstanding,
            yes if client.has_overdue else no,
        ]

    return (row(client) for client in clients.iterator(chunk_size=CHUNK_SIZE))


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can stream."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(header: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    # The BOM is what makes Excel on Chinese Windows read UTF-8 instead of GBK.
    writer = csv.writer(_Echo())
    yield (UTF8_BOM + writer.writerow(header)).encode("utf-8")
    for row in rows:
        yield writer.writerow([f"{v:.2f}" if isinstance(v, Decimal) else v for v in row]).encode("utf-8")


def xlsx_bytes(header: list[str], rows: Iterable[list], *, sheet_title: str) -> bytes:
    # Loaded for an xlsx export only; the CSV export and the pages do without it.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    # Write-only mode keeps memory flat for a large book.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31])
    sheet.append(header)
    for row in rows:
        # openpyxl stores any string starting with "=" as a formula: rows arrive
        # neutralized. Money goes in as numbers so Excel can sum it.
        cells = []
        for value in row:
            if isinstance(value, Decimal):
                value = WriteOnlyCell(sheet, value=value)
                value.number_format = MONEY_FORMAT
            cells.append(value)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
