"""The receivers-in-bulk panel: pick clients (ticked rows, or a filter), then give them to one
receiver or preview a split among several. templates/handover/_receivers_bulk.html shows it.

The panel is a small context of its own (ReceiversBulk), so it can sit in any tab of the handover
page and on its own page; the rows it lists (show_rows) are for its own page: on the handover page
the plan's grid carries the checkboxes (name="hc", form="receivers-bulk").
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from accounts.models import User
from clients.models import Client, Grade, Receivable

from ... import policy
from ...models import Handover, HandoverClient, State
from ..display import Row
from ..visibility import eligible_receivers

ZERO = Decimal("0")


@dataclass(slots=True)
class BulkRow(Row):
    pk: int
    name: str
    grade: str
    grade_class: str
    industry: str
    region: str
    receiver_name: str
    row_version: int
    receivable: Decimal
    checked: bool = False
    error: str = ""
    conflict: bool = False


@dataclass(slots=True)
class ReceiverChoice(Row):
    pk: int
    label: str
    book_size: int
    checked: bool = False


@dataclass
class ReceiversBulk:
    handover_id: int
    page_url: str
    set_url: str
    preview_url: str
    apply_url: str
    plan_url: str
    receivers: list[ReceiverChoice]
    grades: list[tuple[str, str]]
    industries: list[str]
    regions: list[str]
    grade: str = ""
    industry: str = ""
    region: str = ""
    rows: list[BulkRow] = field(default_factory=list)
    show_rows: bool = False
    # Messages: for the whole form, by field, and by row (pk -> message).
    errors: list[str] = field(default_factory=list)
    field_errors: dict[str, str] = field(default_factory=dict)
    row_errors: dict[int, str] = field(default_factory=dict)
    # The selection posted, kept as it was typed: ids ticked, and the receivers chosen.
    checked: set[int] = field(default_factory=set)
    preview: object = None


def may_use(h: Handover, user) -> bool:
    return h.state == State.PLAN and policy.may_set_receiver(h, user)


def _filter_values(h: Handover) -> tuple[list[str], list[str]]:
    """The industries and regions among the handover's clients, in one query."""
    pairs = Client.objects.filter(handover_entries__handover=h).order_by().values_list("industry", "region").distinct()
    industries, regions = set(), set()
    for industry, region in pairs:
        industries.add(industry)
        regions.add(region)
    return sorted(industries - {""}), sorted(regions - {""})


def receivers_bulk(
    h: Handover,
    user,
    *,
    show_rows: bool = False,
    values: dict | None = None,
    checked: set[int] | None = None,
    chosen: set[int] | None = None,
    errors: list[str] | None = None,
    field_errors: dict[str, str] | None = None,
    row_errors: dict[int, str] | None = None,
    conflicts: set[int] | None = None,
    preview=None,
) -> ReceiversBulk | None:
    """The panel for this person, or None when they may not change receivers now.

    values (grade, industry, region), checked (handover client ids) and chosen (receiver ids) are
    what the person posted, shown again as they left them.
    """
    if not may_use(h, user):
        return None
    values = values or {}
    chosen = set(chosen or ())
    book = Client.objects.filter(owner=OuterRef("pk")).order_by().values("owner").annotate(n=Count("pk")).values("n")
    people = list(
        eligible_receivers(exclude=[h.departing_id, h.supervisor_id, h.manager_id, h.witness_id]).annotate(
            book_size=Coalesce(Subquery(book), 0)
        )
    )
    industries, regions = _filter_values(h)
    receivers = [
        ReceiverChoice(
            pk=u.pk,
            label=f"{u.display_name}（{u.department.name}）" if u.department_id else u.display_name,
            book_size=u.book_size,
            checked=u.pk in chosen,
        )
        for u in people
    ]
    panel = ReceiversBulk(
        handover_id=h.pk,
        page_url=reverse("handover:receivers_bulk", args=[h.pk]),
        set_url=reverse("handover:receivers_bulk", args=[h.pk]),
        preview_url=reverse("handover:receivers_split_preview", args=[h.pk]),
        apply_url=reverse("handover:receivers_split_apply", args=[h.pk]),
        plan_url=reverse("handover:detail", args=[h.pk]) + "?tab=plan",
        receivers=receivers,
        grades=list(Grade.choices),
        industries=industries,
        regions=regions,
        grade=values.get("grade", ""),
        industry=values.get("industry", ""),
        region=values.get("region", ""),
        show_rows=show_rows,
        errors=list(errors or []),
        field_errors=dict(field_errors or {}),
        row_errors=dict(row_errors or {}),
        checked=set(checked or ()),
        preview=preview,
    )
    if show_rows:
        panel.rows = bulk_rows(h, panel.checked, panel.row_errors, set(conflicts or ()))
    return panel


def bulk_rows(h: Handover, checked: set[int], row_errors: dict[int, str], conflicts: set[int]) -> list[BulkRow]:
    """Every client of the handover with its receiver and outstanding receivables, in a fixed number of queries."""
    hcs = list(
        HandoverClient.objects.filter(handover=h)
        .select_related("client")
        .only("pk", "grade", "row_version", "receiver_id", "client__name", "client__industry", "client__region")
    )
    totals = dict(
        Receivable.objects.outstanding()
        .filter(contract__client__handover_entries__handover=h)
        .order_by()
        .values("contract__client_id")
        .annotate(total=Sum(F("amount_due") - F("amount_received")))
        .values_list("contract__client_id", "total")
    )
    names = {u.pk: u.display_name for u in User.objects.filter(pk__in={hc.receiver_id for hc in hcs})}
    return [
        BulkRow(
            pk=hc.pk,
            name=hc.client.name,
            grade=hc.grade,
            grade_class=hc.grade.lower(),
            industry=hc.client.industry,
            region=hc.client.region,
            receiver_name=names.get(hc.receiver_id, ""),
            row_version=hc.row_version,
            receivable=totals.get(hc.client_id) or ZERO,
            checked=hc.pk in checked,
            error=row_errors.get(hc.pk, ""),
            conflict=hc.pk in conflicts,
        )
        for hc in hcs
    ]
