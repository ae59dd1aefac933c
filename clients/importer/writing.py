"""Deciding what the valid book changes, and writing it all or nothing.

Rows are matched to what is already stored by their natural keys (credit code, contract number,
client and name, ...): a row with no match is created, one whose values differ is updated, the
rest are counted as unchanged, so a second import of the same file writes nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import DataError, IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ZERO, Client, Contact, Contract, Opportunity, OwnershipChange, Receivable, payments_record
from ..ownership import ownership_changes_record
from .results import ImportResult, ImportRowError, SheetCounts
from .spec import SHEETS
from .validation import Book, ErrorLog, Existing, Row, clean_instance, fetch

WRITE_BATCH = 500


@dataclass
class Update:
    row: Row
    obj: models.Model  # already carrying the new values
    fields: set[str]  # model fields (attnames) that change
    refs: set[str]  # references (client) that change
    before: dict[str, Any]


@dataclass
class SheetPlan:
    create: list[Row] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    unchanged: int = 0


class BookWriter:
    """Phase 3 (plan: what each row creates or changes) and phase 4 (write it)."""

    def __init__(self, *, user, book: Book, existing: Existing, errors: ErrorLog, result: ImportResult):
        self.user = user
        self.book = book
        self.existing = existing
        self.errors = errors
        self.result = result
        self.plans: dict[str, SheetPlan] = {}
        # Per sheet, the rows created and the updates written (for the payments).
        self.written: dict[str, tuple[list, list]] = {}

    def plan(self) -> None:
        self.plan_sheet("clients", lambda r: self.existing.clients.get(r.values["credit_code"]), {})
        self.plan_sheet(
            "contracts", lambda r: self.existing.contracts.get(r.values["number"]), {"client": self.client_code}
        )

        existing_codes = self.existing.clients
        by_client_id = {c.pk: code for code, c in existing_codes.items()}

        def children(model, sheet: str, key_fields: tuple[str, ...]) -> dict[tuple, models.Model]:
            ids = [
                existing_codes[r.refs["client"]].pk
                for r in self.book.rows.get(sheet, [])
                if r.refs["client"] in existing_codes
            ]
            found = fetch(model.objects.all(), "client_id__in", ids) if ids else []
            return {(by_client_id[o.client_id], *(getattr(o, f) for f in key_fields)): o for o in found}

        contacts = children(Contact, "contacts", ("name", "phone"))
        self.plan_sheet(
            "contacts",
            lambda r: contacts.get((r.refs["client"], r.values["name"], r.values.get("phone", ""))),
            {},
        )
        deals = children(Opportunity, "deals", ("name",))
        self.plan_sheet("deals", lambda r: deals.get((r.refs["client"], r.values["name"])), {})

        contract_ids = {c.pk: number for number, c in self.existing.contracts.items()}
        wanted = [
            self.existing.contracts[r.refs["contract"]].pk
            for r in self.book.rows.get("receivables", [])
            if r.refs["contract"] in self.existing.contracts
        ]
        found = fetch(Receivable.objects.all(), "contract_id__in", wanted) if wanted else []
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
        plan = SheetPlan()
        self.plans[sheet] = plan
        for row in self.book.rows.get(sheet, []):
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
            clean_instance(row, existing, self.errors)
            plan.update.append(Update(row=row, obj=existing, fields=changed, refs=changed_refs, before=before))
        self.result.counts[sheet] = SheetCounts(
            created=len(plan.create), updated=len(plan.update), unchanged=plan.unchanged
        )

    def write(self) -> None:
        """Everything planned, or (when the database refuses a row) nothing, with the reason in the result."""
        try:
            with transaction.atomic():
                self.write_all()
        except (IntegrityError, DataError):
            # Validation mirrors the constraints, so this is a concurrent edit of the same rows.
            self.result.counts = {spec.code: SheetCounts() for spec in SHEETS}
            self.result.errors.append(
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

    def write_all(self) -> None:
        now = timezone.now()
        client_ids = self.write_clients(now)
        self.write_sheet("contacts", Contact, lambda row: {"client_id": client_ids[row.refs["client"]]})
        contract_ids = self.write_sheet(
            "contracts", Contract, lambda row: {"client_id": client_ids[row.refs["client"]]}, key="number"
        )
        self.write_sheet("receivables", Receivable, lambda row: {"contract_id": contract_ids[row.refs["contract"]]})
        self.record_payments(now)
        self.write_sheet("deals", Opportunity, lambda row: {"client_id": client_ids[row.refs["client"]]})

    def record_payments(self, now: datetime.datetime) -> None:
        """A payment dated the import day for each amount received the import added or changed."""
        written, updates = self.written.get("receivables", ([], []))
        changes = [(r, ZERO) for r in written]
        changes += [(u.obj, u.before["amount_received"]) for u in updates if "amount_received" in u.fields]
        payments_record(changes, on=timezone.localdate(now))

    def write_clients(self, now: datetime.datetime) -> dict[str, int]:
        plan = self.plans.get("clients", SheetPlan())
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
        ownership_changes_record(changes, batch_size=WRITE_BATCH)
        ids = {code: c.pk for code, c in self.existing.clients.items()}
        ids.update({c.credit_code: c.pk for c in new})
        return ids

    def write_sheet(self, sheet: str, model: type[models.Model], parents, key: str | None = None) -> dict[str, int]:
        plan = self.plans.get(sheet, SheetPlan())
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
        self.written[sheet] = (new, plan.update)
        if key is None:
            return {}
        if any(obj.pk is None for obj in new):
            ids = dict(model.objects.filter(**{f"{key}__in": [getattr(o, key) for o in new]}).values_list(key, "pk"))
            for obj in new:
                obj.pk = ids[getattr(obj, key)]
        ids = {getattr(obj, key): obj.pk for obj in self.existing.contracts.values()} if model is Contract else {}
        ids.update({getattr(obj, key): obj.pk for obj in new})
        return ids


def _field_names(model: type[models.Model], names: Iterable[str]) -> list[str]:
    """Field names for bulk_update from names or attnames (owner_id -> owner)."""
    by_attname = {f.attname: f.name for f in model._meta.concrete_fields}
    return sorted({by_attname.get(name, name) for name in names})
