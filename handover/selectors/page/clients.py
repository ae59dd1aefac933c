"""The clients and their plan: one row per client, grouped by receiver, carrying the client's
items, visits, calls and the plan and drop actions."""

from dataclasses import dataclass, field

from clients.models import Contact

from ... import policy, rules
from ...models import Handover, Part, State
from ..display import Row, url_pattern
from ..risk import ClientRisk
from .items import ItemRow, ItemSection
from .rows import PageRows
from .spot_check import CallRow, SpotCheckSection
from .visits import VisitRow, VisitSection


@dataclass(slots=True)
class ClientRow(Row):
    pk: int
    client_id: int
    name: str
    grade: str
    grade_class: str
    receiver_name: str
    in_sample: bool
    current_status: str
    risks: str
    next_steps: str
    planned_visit_on: str
    plan_complete: bool
    visited: bool
    # The plan fields filled in from the book and not yet confirmed by the departing person
    # (of current_status, risks, next_steps, planned_visit_on): the grid marks them.
    prefilled: list[str] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    visits: list[VisitRow] = field(default_factory=list)
    calls: list[CallRow] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    plan_url: str = ""
    visit_url: str = ""
    call_url: str = ""
    # The departing person no longer owns the client: completion cannot move it.
    left_book: bool = False
    drop_url: str = ""
    row_version: int = 1
    # The relationship risk (selectors/risk.py), on the tabs that show it.
    risk: ClientRisk | None = None


@dataclass
class ReceiverGroup:
    receiver_id: int
    receiver_name: str
    clients: list[ClientRow] = field(default_factory=list)
    items: int = 0
    confirmed: int = 0


@dataclass(frozen=True)
class ClientSection:
    groups: list[ReceiverGroup]
    plan_gaps: int
    visit_gaps: int
    can_edit_plan: bool


def may_edit_plan(h: Handover, user) -> bool:
    """The viewer fills in the plan now: the plan grid is editable for them (on "my to-dos" too)."""
    return h.state == State.PLAN and policy.may_fill_plan(h, user)


def client_section(
    h: Handover,
    user,
    rows: PageRows,
    items: ItemSection,
    visits: VisitSection,
    spot_check: SpotCheckSection,
    risks: dict[int, ClientRisk] | None = None,
) -> ClientSection:
    names = rows.names
    may_plan = may_edit_plan(h, user)
    plan_url = url_pattern("handover:plan_update", h.pk) if may_plan else ""
    drop_url = url_pattern("handover:client_drop", h.pk) if h.is_open and policy.may_drop_client(h, user) else ""
    groups: dict[int, ReceiverGroup] = {}
    plan_gaps = visit_gaps = 0
    with_visits = h.goes_through(Part.VISITS)
    for hc in rows.clients:
        covered = hc.pk in visits.covered
        complete = rules.plan_complete(hc, visits=with_visits)
        plan_gaps += not complete
        visit_gaps += not covered
        row = ClientRow(
            pk=hc.pk,
            client_id=hc.client_id,
            name=hc.client.name,
            grade=hc.grade,
            grade_class=hc.grade.lower(),
            receiver_name=names.get(hc.receiver_id, ""),
            in_sample=hc.in_sample,
            current_status=hc.current_status,
            risks=hc.risks,
            next_steps=hc.next_steps,
            planned_visit_on=hc.planned_visit_on.isoformat() if hc.planned_visit_on else "",
            plan_complete=complete,
            visited=covered,
            prefilled=list(hc.prefilled or []),
            items=items.by_client.get(hc.pk, []),
            visits=visits.by_client.get(hc.pk, []),
            calls=spot_check.calls.get(hc.pk, []),
            contacts=spot_check.contacts.get(hc.client_id, []),
            plan_url=plan_url.format(hc.pk) if plan_url else "",
            visit_url=visits.record_urls.get(hc.pk, ""),
            call_url=spot_check.call_urls.get(hc.pk, ""),
            row_version=hc.row_version,
            risk=(risks or {}).get(hc.pk),
        )
        if h.is_open and hc.client.owner_id != h.departing_id:
            row.left_book = True
            row.drop_url = drop_url.format(hc.pk) if drop_url else ""
        group = groups.get(hc.receiver_id)
        if group is None:
            group = groups[hc.receiver_id] = ReceiverGroup(hc.receiver_id, names.get(hc.receiver_id, ""))
        group.clients.append(row)
        group.items += len(row.items)
        group.confirmed += sum(1 for r in row.items if rules.item_confirmed(r.status))
    return ClientSection(
        # The handover's own receiver first, then the others by name.
        groups=sorted(groups.values(), key=lambda g: (g.receiver_id != h.receiver_id, g.receiver_name)),
        plan_gaps=plan_gaps,
        visit_gaps=visit_gaps,
        can_edit_plan=bool(plan_url),
    )
