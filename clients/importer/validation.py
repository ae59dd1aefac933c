"""Checking every row of the book before anything is written.

Phase 1 (RowParser) reads each row against its sheet's header: every cell parsed, then the
models' own field validation. Phase 2 (BookChecker) adds the rules that span rows or sheets or
need the database: duplicates, references to clients and contracts, who may import what, and
the owner-change guard. Every problem goes into the result at once, so the user sees them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role

from ..models import Client, Contract
from ..ownership import owner_change_refusals
from .cells import EMPTY, PARSERS, REF_KINDS, CellError, Choices
from .reading import Table
from .results import ImportResult, ImportRowError
from .spec import CLIENTS, CONTACTS, CONTRACTS, DEALS, RECEIVABLES, SHEETS, Column, norm_header

# Database parameter limits (SQLite allows a few thousand per statement).
IN_CHUNK = 500


@dataclass
class Row:
    table: Table
    number: int
    values: dict[str, Any] = field(default_factory=dict)  # model field -> value, for present columns
    refs: dict[str, str] = field(default_factory=dict)  # client / contract / owner -> key in the file


@dataclass
class Book:
    """The rows of every sheet in the file, parsed, keyed by sheet code."""

    tables: dict[str, Table] = field(default_factory=dict)
    rows: dict[str, list[Row]] = field(default_factory=dict)


@dataclass
class Existing:
    """What the file's rows point at that is already in the system, and the keys the file itself defines."""

    clients: dict[str, Client]  # by credit code
    contracts: dict[str, Contract]  # by number
    file_codes: set[str]
    file_numbers: set[str]


def _chunks(values: Iterable[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def fetch(queryset: models.QuerySet, lookup: str, values: Iterable[Any]) -> list[Any]:
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


class ErrorLog:
    """Where every phase reports a problem, placed so that sorting puts the problems in reading order."""

    def __init__(self, result: ImportResult):
        self.result = result

    def __len__(self) -> int:
        return len(self.result.errors)

    def add(self, table: Table, row: int | None, column: Column | str | None, message: str) -> None:
        header = column.header if isinstance(column, Column) else (column or "")
        # A sheet laid out by another spec (an upload of another app read by this engine) sorts after the book's.
        sheet_index = next((i for i, spec in enumerate(SHEETS) if spec is table.spec), len(SHEETS))
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

    def model_errors(self, row: Row, exc: ValidationError) -> None:
        spec = row.table.spec
        for field_name, messages in exc.message_dict.items():
            column = next((c for c in spec.columns if c.field == field_name), None)
            for message in messages:
                if column is not None:
                    message = _("%(column)s: %(message)s") % {"column": column.header, "message": message}
                self.add(row.table, row.number, column, message)
        # The value stays in row.values: a reference to a client whose code is wrong is
        # not a second error, and nothing is written once there is one.


def clean_instance(row: Row, instance: models.Model, errors: ErrorLog) -> None:
    # Rules between fields (paid within amount, end after start) live in Model.clean().
    try:
        instance.clean()
    except ValidationError as exc:
        errors.model_errors(row, exc)


class RowParser:
    """Phase 1: every row of every table into model values and references, each cell checked."""

    def __init__(self, *, errors: ErrorLog):
        self.errors = errors
        self.choices: dict[tuple[type[models.Model], str], Choices] = {}

    def parse(self, tables: list[Table]) -> Book:
        book = Book()
        for table in tables:
            book.tables[table.spec.code] = table
            book.rows[table.spec.code] = self.parse_table(table)
        return book

    def map_headers(self, table: Table) -> list[tuple[int, Column]]:
        by_name: dict[str, Column] = {}
        for column in table.spec.columns:
            for name in (column.header, *column.aliases, column.field):
                by_name.setdefault(norm_header(name), column)
        mapped: list[tuple[int, Column]] = []
        seen: dict[str, int] = {}
        for index, header in enumerate(table.headers):
            column = by_name.get(norm_header(header))
            if column is None:
                continue  # extra columns (notes, formulas) are ignored
            if column.field in seen:
                self.errors.add(
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
                self.errors.add(
                    table,
                    table.header_row,
                    column,
                    _("The required column %(column)s is missing from the header row of sheet %(sheet)s.")
                    % {"column": column.header, "sheet": table.title},
                )
        return mapped

    def parse_table(self, table: Table) -> list[Row]:
        errors_before = len(self.errors)
        mapped = self.map_headers(table)
        if len(self.errors) > errors_before:
            return []  # rows cannot be read against a broken header
        model = table.spec.model
        meta = model._meta
        for _index, column in mapped:
            if column.kind == "choice" and (model, column.field) not in self.choices:
                self.choices[(model, column.field)] = Choices(model, column.field)
        all_fields = {f.name for f in meta.fields}
        rows = []
        for number, cells in table.rows:
            row = Row(table=table, number=number)
            for index, column in mapped:
                raw = cells[index] if index < len(cells) else None
                try:
                    value = PARSERS[column.kind](raw, column)
                    if value is not EMPTY and column.kind == "choice":
                        value = self.choices[(model, column.field)].parse(value, column)
                except CellError as exc:
                    self.errors.add(table, number, column, exc.message)
                    continue
                if value is EMPTY:
                    if column.required:
                        self.errors.add(table, number, column, _("%(column)s is required.") % {"column": column.header})
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

    def clean_fields(self, row: Row, all_fields: set[str]) -> None:
        """The models' own validation: lengths, choices, credit code, e-mail, ranges, and clean()."""
        instance = row.table.spec.model(**row.values)
        try:
            instance.clean_fields(exclude=all_fields - set(row.values))
        except ValidationError as exc:
            self.errors.model_errors(row, exc)
            return
        clean_instance(row, instance, self.errors)


class BookChecker:
    """Phase 2: the rules across rows and sheets and against what is already in the system."""

    def __init__(self, *, user, book: Book, errors: ErrorLog):
        self.user = user
        self.book = book
        self.errors = errors
        self.existing: Existing  # loaded first thing in check()

    def check(self) -> Existing:
        """Every rule checked; returns what the rows point at in the system, for the writer."""
        self.load_existing()
        self.check_clients()
        self.check_contacts()
        self.check_contracts()
        self.check_receivables()
        self.check_deals()
        return self.existing

    def load_existing(self) -> None:
        rows = self.book.rows
        codes = {r.values["credit_code"] for r in rows.get("clients", []) if "credit_code" in r.values}
        for sheet in ("contacts", "contracts", "deals"):
            codes |= {r.refs["client"] for r in rows.get(sheet, []) if r.refs.get("client")}
        clients = {
            c.credit_code: c
            for c in fetch(Client.objects.select_related("owner__department"), "credit_code__in", codes)
        }
        numbers = {r.values["number"] for r in rows.get("contracts", []) if "number" in r.values}
        numbers |= {r.refs["contract"] for r in rows.get("receivables", []) if r.refs.get("contract")}
        contracts = {
            c.number: c
            for c in fetch(Contract.objects.select_related("client__owner__department"), "number__in", numbers)
        }
        self.existing = Existing(
            clients=clients,
            contracts=contracts,
            file_codes={r.values.get("credit_code") for r in rows.get("clients", [])} - {None},
            file_numbers={r.values.get("number") for r in rows.get("contracts", [])} - {None},
        )

    def may_change_existing(self, client: Client) -> bool:
        return _may_assign(self.user, client.owner)

    def not_yours(self, row: Row, column: Column, client: Client) -> None:
        self.errors.add(
            row.table,
            row.number,
            column,
            _("The client %(code)s (%(name)s) belongs to %(owner)s, outside your department; you may not change it.")
            % {"code": client.credit_code, "name": client.name, "owner": client.owner.display_name},
        )

    def duplicates(self, rows: list[Row], key, column: Column, message: str) -> None:
        first: dict[Any, int] = {}
        for row in rows:
            value = key(row)
            if value is None:
                continue
            if value in first:
                self.errors.add(row.table, row.number, column, message % {"row": first[value], "key": value})
            else:
                first[value] = row.number

    def check_client_ref(self, row: Row) -> None:
        """The client a contact, contract or deal points at: in the file or already in the system."""
        code = row.refs.get("client")
        if not code or code in self.existing.file_codes:
            return
        column = row.table.spec.column("client")
        client = self.existing.clients.get(code)
        if client is None:
            self.errors.add(
                row.table,
                row.number,
                column,
                _("No client has the credit code %(code)s, neither in sheet %(sheet)s nor in the system.")
                % {"code": code, "sheet": CLIENTS.title},
            )
        elif not self.may_change_existing(client):
            self.not_yours(row, column, client)

    def check_clients(self) -> None:
        rows = self.book.rows.get("clients", [])
        if not rows:
            return
        table = self.book.tables["clients"]
        self.duplicates(
            rows,
            lambda r: r.values.get("credit_code"),
            CLIENTS.column("credit_code"),
            _("The credit code %(key)s appears more than once in this sheet (first on row %(row)d)."),
        )
        numbers = {r.refs["owner"] for r in rows if r.refs.get("owner")}
        owners = {
            u.employee_no: u for u in fetch(User.objects.select_related("department"), "employee_no__in", numbers)
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
                    self.errors.add(table, row.number, owner_column, message)
                else:
                    row.values["owner_id"] = owner.pk
            existing = self.existing.clients.get(row.values.get("credit_code"))
            if existing is not None and not self.may_change_existing(existing):
                self.not_yours(row, CLIENTS.column("credit_code"), existing)
        self.check_owner_changes(rows)

    def check_owner_changes(self, rows: list[Row]) -> None:
        """Rows giving a client (new or existing) to a new owner: clients.ownership may refuse them,
        e.g. a client inside an open handover, or an owner who is leaving."""
        changes = []
        for row in rows:
            owner_id = row.values.get("owner_id")
            if owner_id is None:
                continue
            existing = self.existing.clients.get(row.values.get("credit_code"))
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
                self.errors.add(row.table, row.number, column, message)

    def check_contacts(self) -> None:
        rows = self.book.rows.get("contacts", [])
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
        rows = self.book.rows.get("contracts", [])
        self.duplicates(
            rows,
            lambda r: r.values.get("number"),
            CONTRACTS.column("number"),
            _("The contract number %(key)s appears more than once in this sheet (first on row %(row)d)."),
        )
        for row in rows:
            self.check_client_ref(row)
            existing = self.existing.contracts.get(row.values.get("number"))
            # Moving a contract away from a client is changing that client too.
            if (
                existing is not None
                and existing.client.credit_code != row.refs.get("client")
                and existing.client.credit_code not in self.existing.file_codes
                and not self.may_change_existing(existing.client)
            ):
                self.not_yours(row, CONTRACTS.column("number"), existing.client)

    def check_receivables(self) -> None:
        rows = self.book.rows.get("receivables", [])
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
            if not number or number in self.existing.file_numbers:
                continue
            contract = self.existing.contracts.get(number)
            if contract is None:
                self.errors.add(
                    row.table,
                    row.number,
                    column,
                    _("No contract has the number %(number)s, neither in sheet %(sheet)s nor in the system.")
                    % {"number": number, "sheet": CONTRACTS.title},
                )
            elif not self.may_change_existing(contract.client):
                self.not_yours(row, column, contract.client)

    def check_deals(self) -> None:
        rows = self.book.rows.get("deals", [])
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
