"""The plan as an Excel sheet: downloaded prefilled, filled in offline, uploaded back.

The upload goes through the client-book import's engine (clients.importer): the same bounded
reading of an untrusted .xlsx under IMPORT_MAX_BYTES / IMPORT_MAX_ROWS, the same header matching
and cell parsing, the same errors by row and column. Its rows are then saved by
`plan_save_rows`, the grid's service, so the rules are the grid's; the refusals it gives by
client and field are mapped back to the sheet's rows and columns. All or nothing: with any error,
nothing is written.

The download adds a read-only column after them, each client's relationship risk (its level and
reasons, selectors/risk.py). It is not in the sheet's spec: the import's engine skips columns it
does not know, so the upload never reads it, and a sheet downloaded before it existed reads the same.
"""

import io
import re
from dataclasses import dataclass

import openpyxl
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill

from accounts.models import User
from clients.importer.cells import EMPTY, PARSERS, CellError, is_blank
from clients.importer.reading import BookError, read_sheet
from clients.importer.results import ImportResult, ImportRowError
from clients.importer.spec import Column, SheetSpec
from clients.importer.validation import ErrorLog, RowParser
from clients.validators import normalize_text

from .. import policy
from ..models import Handover, HandoverClient, State
from ..selectors.risk import ClientRisk, client_risks
from .common import lock_handover, require_state
from .errors import NotAllowed, RowErrors, SheetErrors
from .plan import PlanRow, plan_save_rows

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

CLIENT = Column("客户名称", "client", aliases=("客户", "client"))
GRADE = Column("等级", "grade", aliases=("客户等级", "grade"))
RECEIVER = Column("接收人", "receiver", aliases=("接收人工号", "receiver"))
CURRENT_STATUS = Column("当前状况", "current_status", aliases=("当前状态", "current status"))
RISKS = Column("风险", "risks", aliases=("风险点", "risks"))
NEXT_STEPS = Column("下一步", "next_steps", aliases=("下一步计划", "next steps"))
PLANNED_VISIT = Column("计划拜访日期", "planned_visit_on", "date", aliases=("拜访日期", "planned visit date"))
ROW_ID = Column("行编号", "id", "code", required=True, aliases=("id",))
ROW_VERSION = Column("行版本", "row_version", "code", required=True, aliases=("version", "row version"))

PLAN_SHEET = SheetSpec(
    code="plan",
    title="交接计划",
    model=HandoverClient,
    aliases=("计划", "plan"),
    columns=(CLIENT, GRADE, RECEIVER, CURRENT_STATUS, RISKS, NEXT_STEPS, PLANNED_VISIT, ROW_ID, ROW_VERSION),
)
EDITABLE = (RECEIVER, CURRENT_STATUS, RISKS, NEXT_STEPS, PLANNED_VISIT)
# Written by the download only (the upload skips it): the client's relationship risk, to read while
# filling in the risks. Last, so it shows next to the planned visit date (the id and version are hidden).
RELATIONSHIP_RISK = Column("关系风险", "relationship_risk")
DOWNLOAD_COLUMNS = (*PLAN_SHEET.columns, RELATIONSHIP_RISK)
COLUMN_OF_FIELD = {c.field: c for c in PLAN_SHEET.columns}
WIDTHS = {"client": 30, "grade": 6, "receiver": 16, "planned_visit_on": 14, "relationship_risk": 50}
TEXT_WIDTH = 40
# "张接收（E0002）": a name with the employee number in brackets, as the sheet writes a receiver.
NAME_AND_NUMBER = re.compile(r"^(?P<name>.*?)\s*[（(]\s*(?P<number>[^()（）]+?)\s*[)）]$")


def plan_filename(h: Handover) -> str:
    return f"{h.number}-交接计划.xlsx"


def receiver_label(user: User) -> str:
    return f"{user.display_name}（{user.employee_no}）" if user.employee_no else user.display_name


def risk_text(risk: ClientRisk | None) -> str:
    """A client's relationship risk in one cell: the level, then each reason on a line of its own."""
    if risk is None:
        return ""
    return "\n".join([risk.level_display, *(f"· {reason}" for reason in risk.reasons)])


def plan_workbook(h: Handover) -> bytes:
    """The plan as it stands, one row per client, with each row's id and version (hidden) and its
    relationship risk (read only)."""
    hcs = list(
        HandoverClient.objects.filter(handover=h)
        .select_related("client", "receiver")
        .order_by("grade", "client__name", "id")
    )
    risks = client_risks(h)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = PLAN_SHEET.title
    sheet.append([c.header for c in DOWNLOAD_COLUMNS])
    for hc in hcs:
        sheet.append(
            [
                hc.client.name,
                hc.grade,
                receiver_label(hc.receiver),
                hc.current_status,
                hc.risks,
                hc.next_steps,
                hc.planned_visit_on,
                hc.pk,
                hc.row_version,
                risk_text(risks.get(hc.pk)),
            ]
        )
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    prefilled = PatternFill("solid", fgColor="FFF8E1")
    read_only = PatternFill("solid", fgColor="EEEEEE")
    for index, column in enumerate(DOWNLOAD_COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = bold
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = WIDTHS.get(column.field, TEXT_WIDTH)
        if column in (ROW_ID, ROW_VERSION):
            # Not for people to edit: how the upload finds each row and sees whether it changed meanwhile.
            sheet.column_dimensions[letter].hidden = True
        if column is RELATIONSHIP_RISK:
            cell.comment = Comment(_("Read only: computed by the system; the upload does not read this column."), "")
        for row, hc in enumerate(hcs, start=2):
            value_cell = sheet.cell(row=row, column=index)
            if column.kind == "date":
                value_cell.number_format = "yyyy-mm-dd"
            elif column in (CURRENT_STATUS, RISKS, NEXT_STEPS):
                value_cell.alignment = wrap
            elif column is RELATIONSHIP_RISK:
                value_cell.alignment, value_cell.fill = wrap, read_only
            if column.field in (hc.prefilled or []):
                value_cell.fill = prefilled
    sheet.freeze_panes = "B2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@dataclass
class _SheetRow:
    number: int
    plan: PlanRow


class _Rollback(Exception):
    pass


def _text(raw) -> str:
    value = PARSERS["text"](raw, CURRENT_STATUS)
    return "" if value is EMPTY else value.replace("\r\n", "\n").replace("\r", "\n")


def _same_text(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return normalize_text(text.replace("\r\n", "\n").replace("\r", "\n")).strip()

    return norm(a) == norm(b or "")


def _whole_number(raw, column: Column) -> int:
    value = PARSERS["code"](raw, column)
    if value is not EMPTY and re.fullmatch(r"\d{1,12}", value):
        return int(value)
    raise CellError(
        _("%(column)s must be the number the downloaded sheet gave; download the plan again.")
        % {"column": column.header}
    )


def _receiver_keys(raw) -> tuple[str, str]:
    """(employee number or "", name or "") from a receiver cell."""
    text = _text(raw).strip()
    match = NAME_AND_NUMBER.match(text)
    if match:
        return match["number"], match["name"]
    return text, text


def _people_for(keys: list[tuple[str, str]]) -> tuple[dict[str, User], dict[str, list[User]]]:
    numbers = {n for n, _name in keys if n}
    names = {name for _n, name in keys if name}
    found = list(
        User.objects.filter(
            Q(employee_no__in=numbers) | Q(full_name__in=names) | Q(username__in=names | numbers)
        ).order_by("pk")
    )
    by_number = {u.employee_no: u for u in found if u.employee_no}
    by_name: dict[str, list[User]] = {}
    for u in found:
        for name in {u.display_name, u.full_name, u.username} - {""}:
            by_name.setdefault(name, []).append(u)
    return by_number, by_name


def _resolve_receiver(raw, by_number, by_name) -> User:
    number, name = _receiver_keys(raw)
    if number and number in by_number:
        return by_number[number]
    candidates = {u.pk: u for u in by_name.get(name, [])} if name else {}
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    if len(candidates) > 1:
        raise CellError(
            _("%(column)s: several people are named “%(name)s”; give the employee number instead.")
            % {"column": RECEIVER.header, "name": name}
        )
    raise CellError(
        _("%(column)s: no one has the name or employee number “%(value)s”.")
        % {"column": RECEIVER.header, "value": _text(raw)}
    )


def _read_rows(h: Handover, data: bytes, filename: str, log: ErrorLog) -> tuple[list[_SheetRow], object]:
    try:
        table = read_sheet(data, filename, PLAN_SHEET)
    except BookError as exc:
        log.result.errors.append(ImportRowError(sheet=exc.sheet, row=exc.row, column=exc.column, message=exc.message))
        return [], None
    mapped = RowParser(errors=log).map_headers(table)
    if log.result.errors:
        return [], table
    present = {column.field: index for index, column in mapped}

    def cell(cells, column: Column):
        index = present[column.field]
        return cells[index] if index < len(cells) else None

    receiver_cells = [cell(cells, RECEIVER) for _n, cells in table.rows] if "receiver" in present else []
    by_number, by_name = _people_for([_receiver_keys(raw) for raw in receiver_cells if not is_blank(raw)])
    stored = {hc.pk: hc for hc in HandoverClient.objects.filter(handover=h).select_related("receiver")}
    ours = set(stored)
    seen: dict[int, int] = {}
    rows: list[_SheetRow] = []
    for number, cells in table.rows:
        errors_before = len(log)
        try:
            pk = _whole_number(cell(cells, ROW_ID), ROW_ID)
        except CellError as exc:
            log.add(table, number, ROW_ID, exc.message)
            continue
        if pk not in ours:
            log.add(table, number, ROW_ID, _("This row is not a client of this handover; download the plan again."))
            continue
        if pk in seen:
            log.add(
                table,
                number,
                ROW_ID,
                _("This client's row appears twice, also in row %(row)d; keep one.") % {"row": seen[pk]},
            )
            continue
        seen[pk] = number
        plan = PlanRow(handover_client_id=pk)
        try:
            plan.row_version = _whole_number(cell(cells, ROW_VERSION), ROW_VERSION)
        except CellError as exc:
            log.add(table, number, ROW_VERSION, exc.message)
        for column in (CURRENT_STATUS, RISKS, NEXT_STEPS):
            if column.field in present:
                text = _text(cell(cells, column))
                # A cell that says what is stored, but for the line ends a browser or Excel wrote, is no change.
                if _same_text(text, getattr(stored[pk], column.field)):
                    continue
                setattr(plan, column.field, text)
        if PLANNED_VISIT.field in present:
            try:
                day = PARSERS["date"](cell(cells, PLANNED_VISIT), PLANNED_VISIT)
            except CellError as exc:
                log.add(table, number, PLANNED_VISIT, exc.message)
            else:
                plan.planned_visit_on, plan.clear_planned_visit = (None, True) if day is EMPTY else (day, False)
        raw = cell(cells, RECEIVER) if "receiver" in present else None
        # The receiver as the download wrote it is no change, even if another person bears the same name.
        if not is_blank(raw) and _text(raw).strip() != receiver_label(stored[pk].receiver):
            try:
                plan.receiver = _resolve_receiver(raw, by_number, by_name)
            except CellError as exc:
                log.add(table, number, RECEIVER, exc.message)
        if len(log) == errors_before:
            rows.append(_SheetRow(number, plan))
    return rows, table


def _row_errors_to_cells(exc: RowErrors, rows: list[_SheetRow], table, log: ErrorLog) -> None:
    line = {r.plan.handover_client_id: r.number for r in rows}
    for pk, fields in exc.rows.items():
        for field, message in fields.items():
            if field == "__all__":
                column = ROW_VERSION if pk in exc.conflicts else ""
                if pk in exc.conflicts:
                    message = _(
                        "Someone changed this client after the sheet was downloaded; download the plan again "
                        "and copy your changes to this row."
                    )
            else:
                column = COLUMN_OF_FIELD.get(field, "")
            log.add(table, line.get(pk), column, message)


@transaction.atomic
def plan_sheet_upload(*, handover, user: User, data: bytes, filename: str) -> list[HandoverClient]:
    """Save the plan from an uploaded sheet: every row or none.

    Raises SheetErrors with every problem by row and column (a conflict is an error of its row);
    NotAllowed and WrongState as the grid does. Returns the clients whose rows changed.
    """
    h = lock_handover(handover.pk if hasattr(handover, "pk") else handover)
    if not policy.may_fill_plan(h, user) and not policy.may_set_receiver(h, user):
        raise NotAllowed(_("Only the departing salesperson fills in the plan."))
    require_state(h, State.PLAN)
    result = ImportResult()
    log = ErrorLog(result)
    rows, table = _read_rows(h, data, filename, log)
    saved: list[HandoverClient] = []
    conflicts = 0
    if rows:
        # The rows that read well go to the grid's service even when others did not, so the file's
        # every problem is told at once; with any error, what the service wrote is rolled back.
        try:
            with transaction.atomic():
                saved = plan_save_rows(handover=h, user=user, rows=[r.plan for r in rows])
                if result.errors:
                    raise _Rollback
        except RowErrors as exc:
            conflicts = len(exc.conflicts)
            _row_errors_to_cells(exc, rows, table, log)
        except _Rollback:
            saved = []
    if result.errors:
        result.errors.sort(key=lambda e: e.order)
        raise SheetErrors(result.errors, conflicts=conflicts)
    return saved
