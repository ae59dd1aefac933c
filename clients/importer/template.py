"""The downloadable template: the five sheets with their headers and one example row each."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
from openpyxl.styles import Font

from accounts.models import User

from .spec import SHEETS
from .validation import assignable_salespeople

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def client_book_template(*, user: User | None) -> bytes:
    """An .xlsx with the five sheets, their headers and one example row each that imports cleanly."""
    owner = assignable_salespeople(user).values_list("employee_no", flat=True).first() if user is not None else None
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for spec in SHEETS:
        sheet = workbook.create_sheet(spec.title)
        sheet.append([column.header for column in spec.columns])
        example = []
        for column in spec.columns:
            value = column.example
            if column.kind == "employee_no":
                value = owner or "E00001"
            example.append(float(value) if isinstance(value, Decimal) else value)
        sheet.append(example)
        for index, column in enumerate(spec.columns, start=1):
            cell = sheet.cell(row=1, column=index)
            cell.font = bold
            sheet.column_dimensions[cell.column_letter].width = max(12, len(column.header) * 2 + 4)
            value_cell = sheet.cell(row=2, column=index)
            if column.kind == "date":
                value_cell.number_format = "yyyy-mm-dd"
            elif column.kind == "money":
                value_cell.number_format = "#,##0.00"
            elif column.kind in {"code", "credit_code", "ref_client", "ref_contract", "employee_no"}:
                # Text format, so Excel keeps leading zeros and long digit strings intact.
                for row in range(2, 1001):
                    sheet.cell(row=row, column=index).number_format = "@"
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
