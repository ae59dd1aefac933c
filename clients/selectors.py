"""Who may see which clients. Every list, detail page, search and export goes through here."""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import DecimalField, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.roles import Role

from .hooks import visibility_grants
from .models import (
    MONEY,
    OPEN_STAGES,
    ZERO,
    AgingBucket,
    Client,
    Contract,
    FollowUp,
    Opportunity,
    OwnershipChange,
    Receivable,
    aging_bucket_for,
)

MONEY_FIELD = DecimalField(**MONEY)


def clients_visible_to(user) -> QuerySet[Client]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Client.objects.none()
    if user.is_superuser or user.has_perm("clients.view_all_clients"):
        return Client.objects.all()
    # The owners whose books one sees, worked out once on the small users table: a filter on
    # owner_id the client index serves, where an OR over joins to users and departments made
    # the database scan every client (a million of them, on every page of the list).
    owner_ids = {user.pk}
    if user.has_role(Role.SUPERVISOR):
        # A supervisor sees their department's book and any department they head.
        department = Q(department__head=user)
        if user.department_id:
            department |= Q(department_id=user.department_id)
        owner_ids.update(get_user_model().objects.filter(department).values_list("pk", flat=True))
    condition = Q(owner_id__in=sorted(owner_ids))
    # During a handover its receivers and witness must see the clients they visit and phone
    # (clients.hooks): the few clients named in open handovers, a second indexed look-up.
    grants = visibility_grants(user)
    if grants:
        any_grant = grants[0]
        for grant in grants[1:]:
            any_grant |= grant
        granted = list(Client.objects.filter(any_grant).order_by().values_list("pk", flat=True))
        if granted:
            condition |= Q(pk__in=granted)
    return Client.objects.filter(condition)


# A loose index scan: each step asks the industry index for the next value, so the handful of
# industries costs a few dozen index probes rather than a read of every client (PostgreSQL has
# no skip scan of its own).
_NEXT_INDUSTRY_SQL = """
WITH RECURSIVE industries AS (
    SELECT MIN(industry) AS industry FROM {table} WHERE industry > ''
    UNION ALL
    SELECT (SELECT MIN(industry) FROM {table} WHERE industry > industries.industry)
    FROM industries WHERE industries.industry IS NOT NULL
)
SELECT industry FROM industries WHERE industry IS NOT NULL
"""


def industries_of(visible: QuerySet[Client]) -> list[str]:
    """The distinct non-empty industries of the clients one sees, in the database's order."""
    if connection.vendor == "postgresql" and visible.model is Client:
        # The whole book: the loose scan above instead of a DISTINCT over every row.
        with connection.cursor() as cursor:
            cursor.execute(_NEXT_INDUSTRY_SQL.format(table=connection.ops.quote_name(Client._meta.db_table)))
            every = [row[0] for row in cursor.fetchall()]
        if not visible.query.where:
            return every
        if 0 < len(every) <= _INDUSTRIES_ASKED_ONE_BY_ONE:
            # A restricted book: for each of the company's few industries, does one visible client
            # have it (the client_industry_owner index answers each in a few probes)? A DISTINCT over
            # a department's 25,000 clients read every one of them (100 ms at a million clients).
            first, *others = (
                visible.filter(industry=industry).order_by().values_list("industry", flat=True)[:1]
                for industry in every
            )
            found = set(first.union(*others, all=True))
            return [industry for industry in every if industry in found]
    # Elsewhere the owner index narrows it to that book first.
    return list(visible.exclude(industry="").order_by("industry").values_list("industry", flat=True).distinct())


# Beyond this many industries in the company, one look-up each costs more than the DISTINCT.
_INDUSTRIES_ASKED_ONE_BY_ONE = 100


def clients_with_totals(queryset: QuerySet[Client], *, today: datetime.date | None = None) -> QuerySet[Client]:
    """Add contract_amount, outstanding and has_overdue to each client.

    Correlated subqueries rather than joins: joining contracts and receivables at once
    would multiply the contract sums by the number of receivables.
    """
    today = today or timezone.localdate()
    contract_amount = (
        Contract.objects.filter(client=OuterRef("pk"))
        .order_by()
        .values("client")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    outstanding = (
        Receivable.objects.filter(contract__client=OuterRef("pk"))
        .order_by()
        .values("contract__client")
        .annotate(total=Sum(F("amount_due") - F("amount_received")))
        .values("total")
    )
    return queryset.annotate(
        contract_amount=Coalesce(
            Subquery(contract_amount, output_field=MONEY_FIELD), Value(ZERO), output_field=MONEY_FIELD
        ),
        outstanding=Coalesce(Subquery(outstanding, output_field=MONEY_FIELD), Value(ZERO), output_field=MONEY_FIELD),
        has_overdue=Exists(Receivable.objects.overdue(today).filter(contract__client=OuterRef("pk"))),
    )


def client_for_detail(user, pk: int) -> Client:
    """The client with everything its page shows, in a fixed number of queries; 404 if not visible."""
    queryset = (
        clients_visible_to(user)
        .select_related("owner__department")
        .prefetch_related(
            "contacts",
            Prefetch("contracts", queryset=Contract.objects.prefetch_related("receivables")),
            Prefetch("opportunities", queryset=Opportunity.objects.filter(stage__in=OPEN_STAGES), to_attr="open_deals"),
            Prefetch("follow_ups", queryset=FollowUp.objects.select_related("contact", "created_by")),
            Prefetch(
                "ownership_changes",
                queryset=OwnershipChange.objects.select_related("from_owner", "to_owner", "changed_by"),
            ),
        )
    )
    return get_object_or_404(queryset, pk=pk)


@dataclass(frozen=True)
class ReceivableRow:
    receivable: Receivable
    contract: Contract
    outstanding: Decimal
    overdue_days: int
    aging_bucket: str
    aging_label: str


@dataclass(frozen=True)
class ClientTotals:
    contract_amount: Decimal
    paid: Decimal
    outstanding: Decimal
    overdue: Decimal
    open_deal_amount: Decimal


def client_receivables(client: Client, *, today: datetime.date | None = None) -> list[ReceivableRow]:
    """Every receivable of a client prefetched by client_for_detail, oldest due first, with its aging."""
    today = today or timezone.localdate()
    rows = []
    for contract in client.contracts.all():
        for receivable in contract.receivables.all():
            days = receivable.overdue_days(today)
            bucket = aging_bucket_for(days)
            rows.append(
                ReceivableRow(
                    receivable=receivable,
                    contract=contract,
                    outstanding=receivable.outstanding,
                    overdue_days=days,
                    aging_bucket=str(bucket),
                    aging_label=str(AgingBucket(bucket).label),
                )
            )
    rows.sort(key=lambda row: (row.receivable.due_date, row.receivable.pk))
    return rows


def client_totals(client: Client, receivables: list[ReceivableRow]) -> ClientTotals:
    # Summed in Python from what the page already loaded, so totals cost no extra query.
    contracts = client.contracts.all()
    return ClientTotals(
        contract_amount=sum((c.amount for c in contracts), ZERO),
        paid=sum((c.amount_paid for c in contracts), ZERO),
        outstanding=sum((r.outstanding for r in receivables), ZERO),
        overdue=sum((r.outstanding for r in receivables if r.overdue_days > 0), ZERO),
        open_deal_amount=sum((o.expected_amount for o in client.open_deals), ZERO),
    )


@dataclass(frozen=True)
class OpenBusiness:
    """Per client id: its contracts, its outstanding receivables (each with its contract) and its open deals."""

    contracts: dict[int, list[Contract]]
    receivables: dict[int, list[Receivable]]
    deals: dict[int, list[Opportunity]]


def open_business_by_client(client_ids: Iterable[int]) -> OpenBusiness:
    """What a handover lists and prints for each client, in three queries whatever the size of the book.

    Lookups of a client without any give an empty list."""
    client_ids = list(client_ids)
    contracts = defaultdict(list)
    for contract in Contract.objects.filter(client_id__in=client_ids).order_by("number"):
        contracts[contract.client_id].append(contract)
    receivables = defaultdict(list)
    for receivable in (
        Receivable.objects.outstanding()
        .filter(contract__client_id__in=client_ids)
        .select_related("contract")
        .order_by("due_date", "id")
    ):
        receivables[receivable.contract.client_id].append(receivable)
    deals = defaultdict(list)
    for deal in Opportunity.objects.filter(client_id__in=client_ids, stage__in=OPEN_STAGES).order_by("id"):
        deals[deal.client_id].append(deal)
    return OpenBusiness(contracts=contracts, receivables=receivables, deals=deals)
