"""Client-book import: an .xlsx (five sheets) or a .csv (clients only) into the book of business.

Two phases: read and validate every row of every sheet, then write. Nothing is written
unless every row is valid, so a user fixes the file and uploads it again instead of
repairing half an import. Rows are matched to what is already in the system by their
natural keys (credit code, contract number, ...), which makes a second import of the same
file a no-op and a changed file an update.

The field rules live on the models (field validators, choices, max lengths, constraints);
this module parses spreadsheet cells into Python values, runs the models' field validation
on them and adds the rules that span rows or need the database.
"""

from __future__ import annotations

import csv
import datetime
import io
import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any
from xml.etree import ElementTree

import openpyxl
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError, IntegrityError, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from openpyxl.packaging.relationship import get_rels_path
from openpyxl.styles import Font
from openpyxl.utils.datetime import from_excel
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

from accounts.models import User
from accounts.roles import Role

from .models import (
    Client,
    ClientStatus,
    Contact,
    Contract,
    ContractStatus,
    Grade,
    Opportunity,
    OpportunityStage,
    OwnershipChange,
    Receivable,
)
from .ownership import owner_change_refusals
from .validators import credit_code_check_char, normalize_credit_code, normalize_text

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
# Database parameter limits (SQLite allows a few thousand per statement).
IN_CHUNK = 500
WRITE_BATCH = 500

WORKBOOK_CONTENT_TYPES = {XLSX, XLSM, XLTX, XLTM}
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --------------------------------------------------------------------------- results


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


# --------------------------------------------------------------------------- the file format


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: str = "text"
    required: bool = False
    aliases: tuple[str, ...] = ()
    example: Any = ""


@dataclass(frozen=True)
class SheetSpec:
    code: str
    title: str
    model: type[models.Model]
    columns: tuple[Column, ...]
    aliases: tuple[str, ...] = ()

    def column(self, field_name: str) -> Column:
        return next(c for c in self.columns if c.field == field_name)


# Kinds: text, code (an identifier: no spaces around, numbers kept whole), credit_code,
# money, date, percent, bool, choice; ref_client, ref_contract and employee_no point at
# other rows and are resolved after parsing.
EXAMPLE_CREDIT_CODE = "91310115MA1K00001" + credit_code_check_char("91310115MA1K00001")
EXAMPLE_CONTRACT_NO = "HT-2026-0001"

CLIENTS = SheetSpec(
    code="clients",
    title="客户",
    model=Client,
    aliases=("客户信息", "客户资料", "clients", "client"),
    columns=(
        Column("客户名称", "name", required=True, aliases=("公司名称", "名称"), example="上海示例科技有限公司"),
        Column(
            "统一社会信用代码",
            "credit_code",
            "credit_code",
            required=True,
            aliases=("信用代码", "社会信用代码"),
            example=EXAMPLE_CREDIT_CODE,
        ),
        Column("等级", "grade", "choice", aliases=("客户等级",), example="A"),
        Column("行业", "industry", aliases=("所属行业",), example="制造业"),
        Column("区域", "region", aliases=("地区",), example="华东"),
        Column("地址", "address", aliases=("公司地址",), example="上海市浦东新区示例路 1 号"),
        Column("来源渠道", "source_channel", aliases=("来源", "客户来源"), example="展会"),
        Column("负责人工号", "owner", "employee_no", required=True, aliases=("负责人员工号", "工号")),
        Column("状态", "status", "choice", aliases=("客户状态",), example="合作中"),
        Column("当前情况", "current_situation", aliases=("当前状态", "在途订单与售后需求"), example="二期订单执行中"),
        Column(
            "决策链", "decision_chain", aliases=("决策链与关键影响人", "关键影响人"), example="采购部提需求，总经理拍板"
        ),
        Column("偏好与禁忌", "preferences", aliases=("偏好", "禁忌"), example="喜欢微信沟通；周一上午不便拜访"),
        Column("合作历史", "cooperation_history", example="2024 年起合作"),
        Column("潜在需求", "potential_needs", example="明年计划扩建产线"),
    ),
)

CONTACTS = SheetSpec(
    code="contacts",
    title="联系人",
    model=Contact,
    aliases=("客户联系人", "contacts", "contact"),
    columns=(
        Column(
            "统一社会信用代码",
            "client",
            "ref_client",
            required=True,
            aliases=("客户统一社会信用代码", "客户信用代码", "信用代码"),
            example=EXAMPLE_CREDIT_CODE,
        ),
        Column("姓名", "name", required=True, aliases=("联系人", "联系人姓名"), example="张三"),
        Column("职位", "position", aliases=("职务",), example="采购经理"),
        Column("电话", "phone", "code", aliases=("手机", "手机号", "联系电话"), example="13800138000"),
        Column("微信", "wechat", aliases=("微信号",), example="zhangsan_wx"),
        Column("邮箱", "email", aliases=("电子邮箱", "email"), example="zhangsan@example.com"),
        Column("关键决策人", "is_key_decision_maker", "bool", aliases=("是否关键决策人",), example="是"),
    ),
)

CONTRACTS = SheetSpec(
    code="contracts",
    title="合同",
    model=Contract,
    aliases=("合同信息", "contracts", "contract"),
    columns=(
        Column("合同编号", "number", "code", required=True, aliases=("合同号",), example=EXAMPLE_CONTRACT_NO),
        Column(
            "统一社会信用代码",
            "client",
            "ref_client",
            required=True,
            aliases=("客户统一社会信用代码", "客户信用代码", "信用代码"),
            example=EXAMPLE_CREDIT_CODE,
        ),
        Column("合同名称", "name", required=True, example="2026 年度设备采购合同"),
        Column(
            "签订日期", "signed_on", "date", required=True, aliases=("签约日期",), example=datetime.date(2026, 1, 10)
        ),
        Column("开始日期", "start_date", "date", required=True, example=datetime.date(2026, 1, 15)),
        Column(
            "结束日期", "end_date", "date", required=True, aliases=("截止日期",), example=datetime.date(2026, 12, 31)
        ),
        Column("续约日期", "renewal_date", "date", example=datetime.date(2026, 12, 1)),
        Column("合同金额", "amount", "money", required=True, aliases=("金额",), example=Decimal("100000.00")),
        Column("已付金额", "amount_paid", "money", aliases=("已回款金额", "回款金额"), example=Decimal("40000.00")),
        Column("履约进度(%)", "performance_progress", "percent", aliases=("履约进度",), example=40),
        Column("状态", "status", "choice", aliases=("合同状态",), example="履行中"),
        Column("原件存放处", "original_location", aliases=("原件存放位置", "原件位置"), example="公司档案室 A-3 柜"),
    ),
)

RECEIVABLES = SheetSpec(
    code="receivables",
    title="应收款",
    model=Receivable,
    aliases=("应收账款", "未结款项", "receivables", "receivable"),
    columns=(
        Column("合同编号", "contract", "ref_contract", required=True, aliases=("合同号",), example=EXAMPLE_CONTRACT_NO),
        Column("款项说明", "description", aliases=("说明", "款项"), example="第二期进度款"),
        Column("应收金额", "amount_due", "money", required=True, example=Decimal("30000.00")),
        Column("已收金额", "amount_received", "money", example=Decimal("10000.00")),
        Column(
            "到期日",
            "due_date",
            "date",
            required=True,
            aliases=("到期日期", "应收日期"),
            example=datetime.date(2026, 6, 30),
        ),
    ),
)

DEALS = SheetSpec(
    code="deals",
    title="商机",
    model=Opportunity,
    aliases=("未成交项目", "deals", "deal", "opportunities"),
    columns=(
        Column(
            "统一社会信用代码",
            "client",
            "ref_client",
            required=True,
            aliases=("客户统一社会信用代码", "客户信用代码", "信用代码"),
            example=EXAMPLE_CREDIT_CODE,
        ),
        Column("商机名称", "name", required=True, aliases=("项目名称",), example="二期产线扩容项目"),
        Column("阶段", "stage", "choice", aliases=("商机阶段",), example="方案报价"),
        Column("预计金额", "expected_amount", "money", example=Decimal("50000.00")),
        Column("预计成交日期", "expected_close_date", "date", example=datetime.date(2026, 9, 30)),
        Column("主要异议", "main_objections", example="价格高于竞品 5%"),
        Column("下一步", "next_step", aliases=("下一步计划",), example="本月内安排技术交流"),
    ),
)

SHEETS: tuple[SheetSpec, ...] = (CLIENTS, CONTACTS, CONTRACTS, RECEIVABLES, DEALS)
SHEETS_BY_CODE = {spec.code: spec for spec in SHEETS}

# Chinese words people type for each choice, besides the code and the UI label.
CHOICE_WORDS: dict[tuple[type[models.Model], str], dict[str, tuple[str, ...]]] = {
    (Client, "grade"): {
        Grade.A: ("A类", "A级", "高价值"),
        Grade.B: ("B类", "B级", "潜力", "有潜力"),
        Grade.C: ("C类", "C级", "培育", "待培育"),
    },
    (Client, "status"): {
        ClientStatus.PROSPECT: ("潜在客户", "潜在", "意向客户"),
        ClientStatus.ACTIVE: ("合作中", "正常合作", "活跃"),
        ClientStatus.PAUSED: ("暂停合作", "暂停"),
        ClientStatus.LOST: ("已流失", "流失"),
    },
    (Contract, "status"): {
        ContractStatus.DRAFT: ("草拟", "草稿"),
        ContractStatus.ACTIVE: ("履行中", "执行中", "生效"),
        ContractStatus.COMPLETED: ("已完成", "完成", "履行完毕"),
        ContractStatus.TERMINATED: ("已终止", "终止"),
    },
    (Opportunity, "stage"): {
        OpportunityStage.LEAD: ("初步接触", "初次接触"),
        OpportunityStage.NEEDS: ("需求确认", "需求已确认"),
        OpportunityStage.PROPOSAL: ("方案报价", "方案与报价", "报价"),
        OpportunityStage.NEGOTIATION: ("商务谈判", "谈判"),
        OpportunityStage.WON: ("赢单", "已成交", "成交"),
        OpportunityStage.LOST: ("输单", "丢单", "未成交"),
    },
}

TRUE_WORDS = {"是", "y", "yes", "true", "1", "√", "✓", "对", "关键"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "×", "✗", "不是", ""}


def _norm_header(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("（", "(").replace("）", ")").replace("＊", "*")
    return re.sub(r"\s+", "", text).strip("*").lower()


def _norm_sheet(value: str) -> str:
    return re.sub(r"\s+", "", value or "").lower()


# --------------------------------------------------------------------------- reading the file


class _BookError(Exception):
    """The whole file is unusable; carries the message for the user."""

    def __init__(self, message: str, *, sheet: str = "", column: str = "", row: int | None = None):
        super().__init__(message)
        self.message = message
        self.sheet = sheet
        self.column = column
        self.row = row


@dataclass
class _Table:
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


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _spec_for_sheet(title: str) -> SheetSpec | None:
    name = _norm_sheet(title)
    for spec in SHEETS:
        if name == spec.title or name in spec.aliases:
            return spec
    return None


def _looks_like_clients(headers: Iterable[Any]) -> bool:
    names = {_norm_header(h) for h in headers}
    return all(any(_norm_header(n) in names for n in (c.header, *c.aliases)) for c in CLIENTS.columns if c.required)


def _read_book(data: bytes, filename: str) -> list[_Table]:
    if not data:
        raise _BookError(_("The file is empty."))
    limit = settings.IMPORT_MAX_BYTES
    if len(data) > limit:
        raise _BookError(
            _("The file is %(size)s; files larger than %(limit)s are refused. Split it into smaller files.")
            % {"size": human_size(len(data)), "limit": human_size(limit)}
        )
    suffix = PurePath(filename or "").suffix.lower()
    rows = _RowCount(limit=settings.IMPORT_MAX_ROWS)
    if suffix == ".xlsx":
        tables = _read_xlsx(data, rows)
    elif suffix == ".csv":
        tables = _read_csv(data, rows)
    else:
        raise _BookError(
            _("Only .xlsx (Excel workbook) and .csv files can be imported; “%(name)s” is neither.")
            % {"name": PurePath(filename or "").name}
        )
    if not any(t.rows for t in tables):
        raise _BookError(_("The file has headers but no data rows."))
    return tables


def human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


def _not_a_workbook() -> _BookError:
    return _BookError(
        _(
            "The file is not a valid .xlsx workbook. Open it in Excel or WPS, save it as "
            "“Excel Workbook (*.xlsx)” and upload it again."
        )
    )


def _read_xlsx(data: bytes, rows: _RowCount) -> list[_Table]:
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        raise _not_a_workbook()
    try:
        with zipfile.ZipFile(buffer) as archive:
            _check_package(archive, rows.limit)
    except _BookError:
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
        return _tables_from_workbook(workbook, rows)
    except _BookError:
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
        raise _BookError(_("The workbook unpacks to more data than allowed; split it into smaller files."))
    too_many_cells = _BookError(
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
                raise _BookError(
                    _(
                        "The workbook contains a document type declaration (DTD), which Excel never writes. "
                        "Open it in Excel or WPS, save it as “Excel Workbook (*.xlsx)” and upload it again."
                    )
                )
            tags += chunk.count(b"<")
            tail = window[-_DTD_OVERLAP:]
    return tags


def _data_parts(archive: zipfile.ZipFile, tags: dict[str, int], too_big: _BookError) -> set[str]:
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
        raise _BookError(
            _("The workbook has more than %(max)d sheets; keep only the sheets of the client book.")
            % {"max": MAX_SHEETS}
        )
    # openpyxl reads a sheet's start once for every entry of the list: the same part twice is
    # a way to make it read one part many times.
    if len(set(listed)) < len(listed):
        raise _not_a_workbook()
    return (sheets | strings) - others


def _tables_from_workbook(workbook, rows: _RowCount) -> list[_Table]:
    tables: dict[str, _Table] = {}
    sheets = list(workbook.worksheets)
    for sheet in sheets:
        spec = _spec_for_sheet(sheet.title)
        if spec is None:
            continue  # instructions, notes, pivot tables: not ours
        if spec.code in tables:
            raise _BookError(
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
        raise _BookError(
            _("The workbook has none of the sheets %(names)s; download the template to see the layout.")
            % {"names": "、".join(spec.title for spec in SHEETS)}
        )
    return [tables[spec.code] for spec in SHEETS if spec.code in tables]


def _read_sheet(sheet, spec: SheetSpec, rows: _RowCount) -> _Table:
    # The dimension a sheet declares can be wrong ("A1:XFD1048576" from some tools) or a lie, so it
    # is neither trusted nor used: without it openpyxl yields rows up to the last one in the file,
    # and max_col keeps each row short whatever column its last cell claims.
    sheet.reset_dimensions()
    return _table_from_records(sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True), spec, sheet.title, rows)


def _table_from_records(records: Iterable[Sequence[Any]], spec: SheetSpec, title: str, rows: _RowCount) -> _Table:
    """The header (the first row with something in it) and the data rows under it, within the limits.

    Stops at the first row past a limit, so the work is bounded by the limits, not by the file.
    """
    header_row, headers, data = 0, [], []
    for number, record in enumerate(records, start=1):
        # Cells right of the header are notes nobody maps; before the header, look a column past the limit.
        values = tuple(record[: len(headers) if headers else MAX_COLUMNS + 1])
        if all(_is_blank(v) for v in values):
            rows.blank += 1
            if rows.blank > MAX_EMPTY_ROWS:
                raise _BookError(
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
            while headers and _is_blank(headers[-1]):
                headers.pop()
            if len(headers) > MAX_COLUMNS:
                raise _BookError(
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
            raise _BookError(
                _("The file has more than %(max)d rows; split it into smaller files.") % {"max": rows.limit},
                sheet=title,
                row=number,
            )
        data.append((number, values))
    return _Table(spec=spec, title=title, header_row=header_row or 1, headers=headers, rows=data)


def _read_csv(data: bytes, rows: _RowCount) -> list[_Table]:
    if data.startswith(b"PK\x03\x04"):
        raise _BookError(_("This file is an Excel workbook, not a CSV file; rename it to .xlsx."))
    text = None
    # Excel saves "CSV UTF-8" with a BOM and plain "CSV" in the system code page (GBK on Chinese Windows).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        raise _BookError(_("The CSV file could not be read; save it as “CSV UTF-8” or as CSV in GBK encoding."))
    # Read as a stream under the same limits as a sheet; the csv module bounds a field's length
    # (131,072 characters) and the upload's size bounds a line's.
    try:
        table = _table_from_records(csv.reader(io.StringIO(text, newline="")), CLIENTS, CLIENTS.title, rows)
    except csv.Error as exc:
        raise _BookError(_("The CSV file is malformed: %(error)s") % {"error": exc}) from exc
    return [table]


# --------------------------------------------------------------------------- parsing cells


class _CellError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_EMPTY = object()
TWO_PLACES = Decimal("0.01")
EXCEL_SERIAL_1950, EXCEL_SERIAL_MAX = 18264, 2958466  # 1950-01-01 and 9999-12-31
MONEY_LIMIT = Decimal(10) ** 12  # max_digits 14 with 2 decimal places
DATE_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)


def _shown(value: Any) -> str:
    text = str(value).strip()
    return text if len(text) <= 40 else text[:40] + "…"


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # Excel keeps phone numbers and codes typed without a leading apostrophe as numbers.
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time(0) else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def _parse_text(value: Any, column: Column) -> Any:
    # Stored as the model stores it (PlainCharField), so a row and its stored twin compare equal.
    text = normalize_text(_as_text(value))
    return text if text else _EMPTY


def _parse_credit_code(value: Any, column: Column) -> Any:
    text = normalize_credit_code(_as_text(value))
    return text if text else _EMPTY


def _parse_money(value: Any, column: Column) -> Any:
    if _is_blank(value):
        return _EMPTY
    if isinstance(value, bool | datetime.date):
        raise _CellError(_not_a_number(column, value))
    if isinstance(value, Decimal | int):
        amount = Decimal(value)
    elif isinstance(value, float):
        # repr gives the shortest decimal that round-trips: 1234.5 stays 1234.5, not 1234.4999...
        amount = Decimal(repr(value))
    else:
        text = str(value).strip()
        text = re.sub(r"^[¥￥]|元$|^RMB", "", text, flags=re.IGNORECASE).replace(",", "").replace("，", "").strip()
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise _CellError(_not_a_number(column, value)) from exc
    if not amount.is_finite():
        raise _CellError(_not_a_number(column, value))
    if amount < 0:
        raise _CellError(
            _("%(column)s must not be negative; got %(value)s.") % {"column": column.header, "value": amount}
        )
    if amount >= MONEY_LIMIT:
        raise _CellError(_("%(column)s is too large: %(value)s.") % {"column": column.header, "value": _shown(value)})
    if amount != amount.quantize(TWO_PLACES):
        raise _CellError(
            _("%(column)s has more than two decimal places: %(value)s.")
            % {"column": column.header, "value": _shown(value)}
        )
    return amount.quantize(TWO_PLACES)


def _not_a_number(column: Column, value: Any) -> str:
    return _("%(column)s must be an amount such as 12500.00; got “%(value)s”.") % {
        "column": column.header,
        "value": _shown(value),
    }


def _parse_date(value: Any, column: Column) -> Any:
    if _is_blank(value):
        return _EMPTY
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if float(value).is_integer() and 19000101 <= value <= 29991231:
                text = str(int(value))  # 20260131 typed as a number
                return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
            if float(value).is_integer() and EXCEL_SERIAL_1950 <= value < EXCEL_SERIAL_MAX:
                return from_excel(value).date()  # an Excel serial day number in a cell not formatted as a date
        elif isinstance(value, str):
            text = value.strip()
            match = DATE_TEXT.match(text)
            if match:
                return datetime.date(*(int(g) for g in match.groups()))
            if re.fullmatch(r"\d{8}", text):
                return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except (ValueError, OverflowError, TypeError):
        pass
    raise _CellError(
        _("%(column)s must be a date such as 2026-01-31 or 2026/01/31; got “%(value)s”.")
        % {"column": column.header, "value": _shown(value)}
    )


def _parse_percent(value: Any, column: Column) -> Any:
    if _is_blank(value):
        return _EMPTY
    number = None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip().rstrip("%％").strip())
        except InvalidOperation:
            number = None
    if number is not None and Decimal(number).is_finite() and Decimal(number) == int(number) and 0 <= number <= 100:
        return int(number)
    raise _CellError(
        _("%(column)s must be a whole number from 0 to 100; got “%(value)s”.")
        % {"column": column.header, "value": _shown(value)}
    )


def _parse_bool(value: Any, column: Column) -> Any:
    if isinstance(value, bool):
        return value
    text = _as_text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise _CellError(
        _("%(column)s must be 是 or 否 (yes or no); got “%(value)s”.")
        % {"column": column.header, "value": _shown(value)}
    )


PARSERS = {
    "text": _parse_text,
    "code": _parse_text,
    "credit_code": _parse_credit_code,
    "ref_client": _parse_credit_code,
    "ref_contract": _parse_text,
    "employee_no": _parse_text,
    "money": _parse_money,
    "date": _parse_date,
    "percent": _parse_percent,
    "bool": _parse_bool,
    "choice": _parse_text,
}
REF_KINDS = {"ref_client", "ref_contract", "employee_no"}


class _Choices:
    """Accepts a choice as its code, its label (Chinese or English) or a common Chinese word."""

    def __init__(self, model: type[models.Model], field_name: str):
        model_field = model._meta.get_field(field_name)
        self.lookup: dict[str, str] = {}
        self.shown: list[str] = []
        words = CHOICE_WORDS.get((model, field_name), {})
        for code, label in model_field.choices:
            names = [code, *words.get(code, ())]
            for language in ("zh-hans", "en"):
                with translation.override(language):
                    names.append(str(label))
            for name in names:
                self.lookup.setdefault(name.strip().lower(), code)
            self.shown.append(f"{words[code][0]}（{code}）" if code in words else code)

    def parse(self, text: str, column: Column) -> str:
        code = self.lookup.get(text.strip().lower())
        if code is None:
            raise _CellError(
                _("%(column)s: “%(value)s” is not an allowed value; use one of %(allowed)s.")
                % {"column": column.header, "value": _shown(text), "allowed": "、".join(self.shown)}
            )
        return code


# --------------------------------------------------------------------------- validating rows


@dataclass
class _Row:
    table: _Table
    number: int
    values: dict[str, Any] = field(default_factory=dict)  # model field -> value, for present columns
    refs: dict[str, str] = field(default_factory=dict)  # client / contract / owner -> key in the file


@dataclass
class _Update:
    row: _Row
    obj: models.Model  # already carrying the new values
    fields: set[str]  # model fields (attnames) that change
    refs: set[str]  # references (client) that change
    before: dict[str, Any]


@dataclass
class _SheetPlan:
    create: list[_Row] = field(default_factory=list)
    update: list[_Update] = field(default_factory=list)
    unchanged: int = 0


def _chunks(values: Iterable[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _fetch(queryset: models.QuerySet, lookup: str, values: Iterable[Any]) -> list[Any]:
    found = []
    for chunk in _chunks(set(values)):
        found.extend(queryset.filter(**{lookup: chunk}))
    return found


def _user_may_import_anyone(user) -> bool:
    return user is None or user.is_superuser or user.has_perm("clients.view_all_clients")


def _may_assign(user, owner: User) -> bool:
    """Whether user may give a client to owner (or change a client owner holds)."""
    if _user_may_import_anyone(user):
        return True
    if owner.department_id is None:
        return False
    return owner.department_id == user.department_id or owner.department.head_id == user.pk


def assignable_salespeople(user) -> models.QuerySet[User]:
    """Active salespeople the user may make owners of imported clients."""
    people = User.objects.filter(is_active=True, groups__name=Role.SALES, employee_no__isnull=False)
    if not _user_may_import_anyone(user):
        people = people.filter(models.Q(department_id=user.department_id) | models.Q(department__head=user))
    return people.exclude(employee_no="").distinct().order_by("employee_no")


class _BookImport:
    def __init__(self, *, user, result: ImportResult):
        self.user = user
        self.result = result
        self.rows: dict[str, list[_Row]] = {}
        self.tables: dict[str, _Table] = {}
        self.plans: dict[str, _SheetPlan] = {}
        self.choices: dict[tuple[type[models.Model], str], _Choices] = {}

    # errors ---------------------------------------------------------------
    def error(self, table: _Table, row: int | None, column: Column | str | None, message: str) -> None:
        header = column.header if isinstance(column, Column) else (column or "")
        sheet_index = next(i for i, spec in enumerate(SHEETS) if spec is table.spec)
        column_index = next(
            (i for i, c in enumerate(table.spec.columns, start=1) if isinstance(column, Column) and c is column), 0
        )
        self.result.errors.append(
            ImportRowError(
                sheet=table.title,
                row=row,
                column=header,
                message=message,
                order=(sheet_index, row or 0, column_index),
            )
        )

    # phase 1: parse -------------------------------------------------------
    def parse(self, tables: list[_Table]) -> None:
        for table in tables:
            self.tables[table.spec.code] = table
            self.rows[table.spec.code] = self.parse_table(table)

    def map_headers(self, table: _Table) -> list[tuple[int, Column]]:
        by_name: dict[str, Column] = {}
        for column in table.spec.columns:
            for name in (column.header, *column.aliases, column.field):
                by_name.setdefault(_norm_header(name), column)
        mapped: list[tuple[int, Column]] = []
        seen: dict[str, int] = {}
        for index, header in enumerate(table.headers):
            column = by_name.get(_norm_header(header))
            if column is None:
                continue  # extra columns (notes, formulas) are ignored
            if column.field in seen:
                self.error(
                    table,
                    table.header_row,
                    column,
                    _("The column %(column)s appears twice in the header row.") % {"column": column.header},
                )
                continue
            seen[column.field] = index
            mapped.append((index, column))
        for column in table.spec.columns:
            if column.required and column.field not in seen:
                self.error(
                    table,
                    table.header_row,
                    column,
                    _("The required column %(column)s is missing from the header row of sheet %(sheet)s.")
                    % {"column": column.header, "sheet": table.title},
                )
        return mapped

    def parse_table(self, table: _Table) -> list[_Row]:
        errors_before = len(self.result.errors)
        mapped = self.map_headers(table)
        if len(self.result.errors) > errors_before:
            return []  # rows cannot be read against a broken header
        model = table.spec.model
        meta = model._meta
        for _index, column in mapped:
            if column.kind == "choice" and (model, column.field) not in self.choices:
                self.choices[(model, column.field)] = _Choices(model, column.field)
        all_fields = {f.name for f in meta.fields}
        rows = []
        for number, cells in table.rows:
            row = _Row(table=table, number=number)
            for index, column in mapped:
                raw = cells[index] if index < len(cells) else None
                try:
                    value = PARSERS[column.kind](raw, column)
                    if value is not _EMPTY and column.kind == "choice":
                        value = self.choices[(model, column.field)].parse(value, column)
                except _CellError as exc:
                    self.error(table, number, column, exc.message)
                    continue
                if value is _EMPTY:
                    if column.required:
                        self.error(table, number, column, _("%(column)s is required.") % {"column": column.header})
                        continue
                    value = self.blank_value(model, column)
                if column.kind in REF_KINDS:
                    row.refs[column.field] = value
                else:
                    row.values[column.field] = value
            self.clean_fields(row, all_fields)
            rows.append(row)
        return rows

    @staticmethod
    def blank_value(model: type[models.Model], column: Column) -> Any:
        if column.kind in REF_KINDS:
            return ""
        model_field = model._meta.get_field(column.field)
        if model_field.has_default():
            return model_field.get_default()
        if model_field.null:
            return None
        return ""

    def clean_fields(self, row: _Row, all_fields: set[str]) -> None:
        """The models' own validation: lengths, choices, credit code, e-mail, ranges, and clean()."""
        instance = row.table.spec.model(**row.values)
        try:
            instance.clean_fields(exclude=all_fields - set(row.values))
        except ValidationError as exc:
            self.model_errors(row, exc)
            return
        self.clean_instance(row, instance)

    def clean_instance(self, row: _Row, instance: models.Model) -> None:
        # Rules between fields (paid within amount, end after start) live in Model.clean().
        try:
            instance.clean()
        except ValidationError as exc:
            self.model_errors(row, exc)

    def model_errors(self, row: _Row, exc: ValidationError) -> None:
        spec = row.table.spec
        for field_name, messages in exc.message_dict.items():
            column = next((c for c in spec.columns if c.field == field_name), None)
            for message in messages:
                if column is not None:
                    message = _("%(column)s: %(message)s") % {"column": column.header, "message": message}
                self.error(row.table, row.number, column, message)
        # The value stays in row.values: a reference to a client whose code is wrong is
        # not a second error, and nothing is written once there is one.

    # phase 2: rules across rows and against the database ------------------
    def check(self) -> None:
        self.load_existing()
        self.check_clients()
        self.check_contacts()
        self.check_contracts()
        self.check_receivables()
        self.check_deals()

    def load_existing(self) -> None:
        codes = {r.values["credit_code"] for r in self.rows.get("clients", []) if "credit_code" in r.values}
        for sheet in ("contacts", "contracts", "deals"):
            codes |= {r.refs["client"] for r in self.rows.get(sheet, []) if r.refs.get("client")}
        self.clients = {
            c.credit_code: c
            for c in _fetch(Client.objects.select_related("owner__department"), "credit_code__in", codes)
        }
        numbers = {r.values["number"] for r in self.rows.get("contracts", []) if "number" in r.values}
        numbers |= {r.refs["contract"] for r in self.rows.get("receivables", []) if r.refs.get("contract")}
        self.contracts = {
            c.number: c
            for c in _fetch(Contract.objects.select_related("client__owner__department"), "number__in", numbers)
        }
        self.file_codes = {r.values.get("credit_code") for r in self.rows.get("clients", [])} - {None}
        self.file_numbers = {r.values.get("number") for r in self.rows.get("contracts", [])} - {None}

    def may_change_existing(self, client: Client) -> bool:
        return _may_assign(self.user, client.owner)

    def not_yours(self, row: _Row, column: Column, client: Client) -> None:
        self.error(
            row.table,
            row.number,
            column,
            _("The client %(code)s (%(name)s) belongs to %(owner)s, outside your department; you may not change it.")
            % {"code": client.credit_code, "name": client.name, "owner": client.owner.display_name},
        )

    def duplicates(self, rows: list[_Row], key, column: Column, message: str) -> None:
        first: dict[Any, int] = {}
        for row in rows:
            value = key(row)
            if value is None:
                continue
            if value in first:
                self.error(row.table, row.number, column, message % {"row": first[value], "key": value})
            else:
                first[value] = row.number

    def check_client_ref(self, row: _Row) -> None:
        """The client a contact, contract or deal points at: in the file or already in the system."""
        code = row.refs.get("client")
        if not code or code in self.file_codes:
            return
        column = row.table.spec.column("client")
        client = self.clients.get(code)
        if client is None:
            self.error(
                row.table,
                row.number,
                column,
                _("No client has the credit code %(code)s, neither in sheet %(sheet)s nor in the system.")
                % {"code": code, "sheet": CLIENTS.title},
            )
        elif not self.may_change_existing(client):
            self.not_yours(row, column, client)

    def check_clients(self) -> None:
        rows = self.rows.get("clients", [])
        if not rows:
            return
        table = self.tables["clients"]
        self.duplicates(
            rows,
            lambda r: r.values.get("credit_code"),
            CLIENTS.column("credit_code"),
            _("The credit code %(key)s appears more than once in this sheet (first on row %(row)d)."),
        )
        numbers = {r.refs["owner"] for r in rows if r.refs.get("owner")}
        owners = {
            u.employee_no: u for u in _fetch(User.objects.select_related("department"), "employee_no__in", numbers)
        }
        sales = set(
            User.objects.filter(pk__in=[u.pk for u in owners.values()], groups__name=Role.SALES).values_list(
                "pk", flat=True
            )
        )
        owner_column = CLIENTS.column("owner")
        for row in rows:
            number = row.refs.get("owner")
            if number:
                owner = owners.get(number)
                message = None
                if owner is None:
                    message = _("No employee has the employee number %(no)s.") % {"no": number}
                elif not owner.is_active:
                    message = _("Employee %(no)s (%(name)s) is no longer active.") % {
                        "no": number,
                        "name": owner.display_name,
                    }
                elif owner.pk not in sales:
                    message = _("Employee %(no)s (%(name)s) is not a salesperson; only salespeople own clients.") % {
                        "no": number,
                        "name": owner.display_name,
                    }
                elif not _may_assign(self.user, owner):
                    message = _(
                        "You may only import clients owned by people in your department; "
                        "employee %(no)s (%(name)s) is not."
                    ) % {"no": number, "name": owner.display_name}
                if message:
                    self.error(table, row.number, owner_column, message)
                else:
                    row.values["owner_id"] = owner.pk
            existing = self.clients.get(row.values.get("credit_code"))
            if existing is not None and not self.may_change_existing(existing):
                self.not_yours(row, CLIENTS.column("credit_code"), existing)
        self.check_owner_changes(rows)

    def check_owner_changes(self, rows: list[_Row]) -> None:
        """Rows giving a client (new or existing) to a new owner: clients.ownership may refuse them,
        e.g. a client inside an open handover, or an owner who is leaving."""
        changes = []
        for row in rows:
            owner_id = row.values.get("owner_id")
            if owner_id is None:
                continue
            existing = self.clients.get(row.values.get("credit_code"))
            if existing is None or existing.owner_id != owner_id:
                changes.append((row, existing.pk if existing else None, owner_id))
        if not changes:
            return
        refusals = owner_change_refusals(
            client_ids={client_id for _row, client_id, _owner in changes if client_id},
            owner_ids={owner_id for _row, _client, owner_id in changes},
        )
        column = CLIENTS.column("owner")
        for row, client_id, owner_id in changes:
            for message in refusals.for_change(client_id=client_id, new_owner_id=owner_id):
                self.error(row.table, row.number, column, message)

    def check_contacts(self) -> None:
        rows = self.rows.get("contacts", [])
        self.duplicates(
            rows,
            lambda r: (
                (r.refs.get("client"), r.values.get("name"), r.values.get("phone", ""))
                if r.refs.get("client") and r.values.get("name")
                else None
            ),
            CONTACTS.column("name"),
            _(
                "This contact (same client, name and phone) appears more than once in this sheet "
                "(first on row %(row)d)."
            ),
        )
        for row in rows:
            self.check_client_ref(row)

    def check_contracts(self) -> None:
        rows = self.rows.get("contracts", [])
        self.duplicates(
            rows,
            lambda r: r.values.get("number"),
            CONTRACTS.column("number"),
            _("The contract number %(key)s appears more than once in this sheet (first on row %(row)d)."),
        )
        for row in rows:
            self.check_client_ref(row)
            existing = self.contracts.get(row.values.get("number"))
            # Moving a contract away from a client is changing that client too.
            if (
                existing is not None
                and existing.client.credit_code != row.refs.get("client")
                and existing.client.credit_code not in self.file_codes
                and not self.may_change_existing(existing.client)
            ):
                self.not_yours(row, CONTRACTS.column("number"), existing.client)

    def check_receivables(self) -> None:
        rows = self.rows.get("receivables", [])
        self.duplicates(
            rows,
            lambda r: (
                (r.refs.get("contract"), r.values.get("due_date"), r.values.get("description", ""))
                if r.refs.get("contract") and r.values.get("due_date")
                else None
            ),
            RECEIVABLES.column("due_date"),
            _(
                "This receivable (same contract, due date and description) appears more than once "
                "in this sheet (first on row %(row)d)."
            ),
        )
        column = RECEIVABLES.column("contract")
        for row in rows:
            number = row.refs.get("contract")
            if not number or number in self.file_numbers:
                continue
            contract = self.contracts.get(number)
            if contract is None:
                self.error(
                    row.table,
                    row.number,
                    column,
                    _("No contract has the number %(number)s, neither in sheet %(sheet)s nor in the system.")
                    % {"number": number, "sheet": CONTRACTS.title},
                )
            elif not self.may_change_existing(contract.client):
                self.not_yours(row, column, contract.client)

    def check_deals(self) -> None:
        rows = self.rows.get("deals", [])
        self.duplicates(
            rows,
            lambda r: (
                (r.refs.get("client"), r.values.get("name")) if r.refs.get("client") and r.values.get("name") else None
            ),
            DEALS.column("name"),
            _("This deal (same client and name) appears more than once in this sheet (first on row %(row)d)."),
        )
        for row in rows:
            self.check_client_ref(row)

    # phase 3: decide what changes ------------------------------------------
    def plan(self) -> None:
        self.plan_sheet("clients", lambda r: self.clients.get(r.values["credit_code"]), {})
        self.plan_sheet("contracts", lambda r: self.contracts.get(r.values["number"]), {"client": self.client_code})

        existing_codes = self.clients
        by_client_id = {c.pk: code for code, c in existing_codes.items()}

        def children(model, sheet: str, key_fields: tuple[str, ...]) -> dict[tuple, models.Model]:
            ids = [
                existing_codes[r.refs["client"]].pk
                for r in self.rows.get(sheet, [])
                if r.refs["client"] in existing_codes
            ]
            found = _fetch(model.objects.all(), "client_id__in", ids) if ids else []
            return {(by_client_id[o.client_id], *(getattr(o, f) for f in key_fields)): o for o in found}

        contacts = children(Contact, "contacts", ("name", "phone"))
        self.plan_sheet(
            "contacts",
            lambda r: contacts.get((r.refs["client"], r.values["name"], r.values.get("phone", ""))),
            {},
        )
        deals = children(Opportunity, "deals", ("name",))
        self.plan_sheet("deals", lambda r: deals.get((r.refs["client"], r.values["name"])), {})

        contract_ids = {c.pk: number for number, c in self.contracts.items()}
        wanted = [
            self.contracts[r.refs["contract"]].pk
            for r in self.rows.get("receivables", [])
            if r.refs["contract"] in self.contracts
        ]
        found = _fetch(Receivable.objects.all(), "contract_id__in", wanted) if wanted else []
        receivables = {(contract_ids[o.contract_id], o.due_date, o.description): o for o in found}
        self.plan_sheet(
            "receivables",
            lambda r: receivables.get((r.refs["contract"], r.values["due_date"], r.values.get("description", ""))),
            {},
        )

    @staticmethod
    def client_code(obj: Contract) -> str:
        return obj.client.credit_code

    def plan_sheet(self, sheet: str, find, ref_getters: dict) -> None:
        plan = _SheetPlan()
        self.plans[sheet] = plan
        for row in self.rows.get(sheet, []):
            existing = find(row)
            if existing is None:
                plan.create.append(row)
                continue
            changed = {name for name, value in row.values.items() if getattr(existing, name) != value}
            changed_refs = {ref for ref, getter in ref_getters.items() if getter(existing) != row.refs.get(ref)}
            if not changed and not changed_refs:
                plan.unchanged += 1
                continue
            before = {name: getattr(existing, name) for name in changed}
            for name in changed:
                setattr(existing, name, row.values[name])
            # Columns left out of the sheet keep their stored values; check the combination.
            self.clean_instance(row, existing)
            plan.update.append(_Update(row=row, obj=existing, fields=changed, refs=changed_refs, before=before))
        self.result.counts[sheet] = SheetCounts(
            created=len(plan.create), updated=len(plan.update), unchanged=plan.unchanged
        )

    # phase 4: write -------------------------------------------------------
    def write(self) -> None:
        now = timezone.now()
        client_ids = self.write_clients(now)
        self.write_sheet("contacts", Contact, lambda row: {"client_id": client_ids[row.refs["client"]]})
        contract_ids = self.write_sheet(
            "contracts", Contract, lambda row: {"client_id": client_ids[row.refs["client"]]}, key="number"
        )
        self.write_sheet("receivables", Receivable, lambda row: {"contract_id": contract_ids[row.refs["contract"]]})
        self.write_sheet("deals", Opportunity, lambda row: {"client_id": client_ids[row.refs["client"]]})

    def write_clients(self, now: datetime.datetime) -> dict[str, int]:
        plan = self.plans.get("clients", _SheetPlan())
        new = [Client(**row.values) for row in plan.create]
        Client.objects.bulk_create(new, batch_size=WRITE_BATCH)
        if any(c.pk is None for c in new):  # backends that cannot return ids from a bulk insert
            ids = dict(
                Client.objects.filter(credit_code__in=[c.credit_code for c in new]).values_list("credit_code", "pk")
            )
            for client in new:
                client.pk = ids[client.credit_code]
        reason = _("Imported from the client book")
        changes = [
            OwnershipChange(client=c, from_owner=None, to_owner_id=c.owner_id, reason=reason, changed_by=self.user)
            for c in new
        ]
        changed_objects, fields = [], set()
        for update in plan.update:
            client = update.obj
            if "owner_id" in update.fields:
                changes.append(
                    OwnershipChange(
                        client=client,
                        from_owner_id=update.before["owner_id"],
                        to_owner_id=client.owner_id,
                        reason=reason,
                        changed_by=self.user,
                    )
                )
            client.updated_at = now
            changed_objects.append(client)
            fields |= update.fields
        if changed_objects:
            Client.objects.bulk_update(
                changed_objects, [*_field_names(Client, fields), "updated_at"], batch_size=WRITE_BATCH
            )
        OwnershipChange.objects.bulk_create(changes, batch_size=WRITE_BATCH)
        ids = {code: c.pk for code, c in self.clients.items()}
        ids.update({c.credit_code: c.pk for c in new})
        return ids

    def write_sheet(self, sheet: str, model: type[models.Model], parents, key: str | None = None) -> dict[str, int]:
        plan = self.plans.get(sheet, _SheetPlan())
        new = [model(**row.values, **parents(row)) for row in plan.create]
        model.objects.bulk_create(new, batch_size=WRITE_BATCH)
        changed_objects, fields = [], set()
        for update in plan.update:
            parent_ids = parents(update.row)
            for attname, value in parent_ids.items():
                setattr(update.obj, attname, value)
            changed_objects.append(update.obj)
            fields |= update.fields | set(parent_ids)
        if changed_objects:
            model.objects.bulk_update(changed_objects, _field_names(model, fields), batch_size=WRITE_BATCH)
        if key is None:
            return {}
        if any(obj.pk is None for obj in new):
            ids = dict(model.objects.filter(**{f"{key}__in": [getattr(o, key) for o in new]}).values_list(key, "pk"))
            for obj in new:
                obj.pk = ids[getattr(obj, key)]
        ids = {getattr(obj, key): obj.pk for obj in self.contracts.values()} if model is Contract else {}
        ids.update({getattr(obj, key): obj.pk for obj in new})
        return ids


def _field_names(model: type[models.Model], names: Iterable[str]) -> list[str]:
    """Field names for bulk_update from names or attnames (owner_id -> owner)."""
    by_attname = {f.attname: f.name for f in model._meta.concrete_fields}
    return sorted({by_attname.get(name, name) for name in names})


# --------------------------------------------------------------------------- the service


@transaction.atomic
def client_book_import(*, data: bytes, filename: str, user: User | None, dry_run: bool = False) -> ImportResult:
    """Import a client book. user None is the command line: no department limits, no one to blame.

    Returns the counts per sheet, or every error found; with errors nothing is written.
    """
    if user is not None and not (user.is_active and user.has_perm("clients.import_client")):
        raise PermissionDenied(_("You may not import the client book."))
    result = ImportResult(dry_run=dry_run, counts={spec.code: SheetCounts() for spec in SHEETS})
    try:
        tables = _read_book(data, filename)
    except _BookError as exc:
        result.errors.append(ImportRowError(sheet=exc.sheet, row=exc.row, column=exc.column, message=exc.message))
        return result

    book = _BookImport(user=user, result=result)
    book.parse(tables)
    book.check()  # even after errors in cells: the user should see every problem at once
    if result.errors:
        result.errors.sort(key=lambda e: e.order)
        return result
    book.plan()
    if result.errors:
        result.errors.sort(key=lambda e: e.order)
        result.counts = {spec.code: SheetCounts() for spec in SHEETS}
        return result
    if dry_run:
        return result
    try:
        with transaction.atomic():
            book.write()
    except (IntegrityError, DataError):
        # Validation mirrors the constraints, so this is a concurrent edit of the same rows.
        result.counts = {spec.code: SheetCounts() for spec in SHEETS}
        result.errors.append(
            ImportRowError(
                sheet="",
                row=None,
                column="",
                message=_(
                    "The database refused the data, probably because someone changed the same records "
                    "at the same time. Nothing was imported; please try again."
                ),
            )
        )
    return result


def error_count_message(result: ImportResult) -> str:
    n = len(result.errors)
    return ngettext(
        "The file has %(n)d error; nothing was imported. Correct the file and upload it again.",
        "The file has %(n)d errors; nothing was imported. Correct the file and upload it again.",
        n,
    ) % {"n": n}


# --------------------------------------------------------------------------- the template


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
