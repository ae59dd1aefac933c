"""The handover page: one builder per section, composed by handover_page().

Every section builds from the same rows, read once (rows.py), so the page costs a number of
queries that does not grow with the clients; a section that needs another's rows (a client row
carries its items, visits and calls) is handed them.
"""

import datetime
from dataclasses import dataclass, field, replace

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from accounts.models import User

from ... import policy, signing
from ...choices import RiskLevel
from ...models import Handover
from ..risk import by_risk, client_risks, rule_text
from ..signatures import SignaturePanel, signature_panel
from .clients import ReceiverGroup, client_section, may_edit_plan
from .grids import Typed
from .header import header
from .items import ItemRow, item_section
from .prints import archive_status, archive_url, print_links
from .report import report_section
from .rows import page_queryset, page_rows
from .spot_check import CallsGrid, calls_grid, spot_check_section
from .stages import StageCell, stage_cells
from .steps import Step, steps
from .timeline import EventRow, event_rows
from .visits import VisitsGrid, visit_section, visits_grid
from .workspace import (
    TABS,
    PlanGridRow,
    TabContent,
    TabLink,
    mine_count,
    plan_digest,
    plan_field_labels,
    plan_grid_rows,
    stage_tab,
    tab_content,
    tab_links,
    tab_url,
    tabs_of,
)

__all__ = [
    "TABS",
    "GridInput",
    "Typed",
    "HandoverPage",
    "PlanGridRow",
    "handover_page",
    "plan_digest",
    "plan_field_labels",
    "plan_grid_rows",
    "stage_tab",
    "tab_url",
]


@dataclass(frozen=True)
class RiskRow:
    """A client at some risk, for the report tab's list (templates/handover/_risk_list.html)."""

    pk: int
    name: str
    grade: str
    receiver_name: str
    level: str
    level_display: str
    reasons: list[str]


def risk_rows(groups: list[ReceiverGroup]) -> list[RiskRow]:
    """The clients at medium or high risk, high first."""
    rows = [
        RiskRow(r.pk, r.name, r.grade, g.receiver_name, r.risk.level, r.risk.level_display, r.risk.reasons)
        for g in groups
        for r in g.clients
        if r.risk and r.risk.level != RiskLevel.LOW
    ]
    return by_risk(rows, lambda r: r.level)


# The tabs that show each client's relationship risk.
RISK_TABS = ("plan", "report")


@dataclass
class HandoverPage:
    handover: Handover
    viewer: User
    today: datetime.date
    current_due_on: datetime.date | None
    overdue: bool
    stages: list[StageCell]
    steps: list[Step]
    groups: list[ReceiverGroup]
    other_items: list[ItemRow]
    events: list[EventRow]
    return_reason: str
    viewer_must_act_on_return: bool
    counts: dict
    report: object
    figures: list[tuple[str, str]]
    figures_live: bool
    can_edit_plan: bool
    can_set_receiver: bool
    can_write_report: bool
    receiver_choices: list[User]
    hand_over_all_url: str = ""
    confirm_all_url: str = ""
    mine_waiting: int = 0
    action_urls: dict = field(default_factory=dict)
    signatures: SignaturePanel = field(default_factory=SignaturePanel)
    print_links: list[tuple[str, str]] = field(default_factory=list)
    archive_url: str = ""
    # The workspace: which tab, its links, what it shows.
    tab: str = ""
    tabs: list[TabLink] = field(default_factory=list)
    content: TabContent = field(default_factory=TabContent)
    plan_rows: list[PlanGridRow] = field(default_factory=list)
    plan_rows_url: str = ""
    stage_tab: str = ""
    # The plan grid (the plan tab; "my to-dos" of the departing person while they fill it in), or
    # the client blocks (the other tabs of clients).
    show_plan_grid: bool = False
    show_visits_grid: bool = False
    show_calls_grid: bool = False
    show_blocks: bool = False
    # The editable grids of the visits and the spot-check, for the person who works in them now.
    visits_grid: VisitsGrid | None = None
    calls_grid: CallsGrid | None = None
    # The archived confirmation's progress (templates/handover/_archive_status.html), or None.
    archive: dict | None = None
    # The relationship risk (selectors/risk.py): shown in the plan and the report tabs.
    show_risk: bool = False
    risk_rule: str = ""
    risk_sort_url: str = ""
    risk_rows: list[RiskRow] = field(default_factory=list)


@dataclass
class GridInput:
    """A refused grid save: what the person typed by row, and the messages by row and field."""

    typed: dict[int, dict[str, str]] = field(default_factory=dict)
    errors: dict[int, dict[str, str]] = field(default_factory=dict)
    conflicts: set[int] = field(default_factory=set)


def handover_page(
    user,
    pk: int,
    *,
    today: datetime.date | None = None,
    tab: str = "",
    page: int = 1,
    grid: GridInput | None = None,
    typed: dict[str, Typed] | None = None,
    sort: str = "",
) -> HandoverPage:
    """Everything the handover page shows, in a number of queries that does not grow with the clients.

    `tab` chooses the workspace tab (default: the stage the handover stands at), `page` the page of
    its clients; `grid` puts a refused save's input back in the plan grid, `typed` what a person
    typed into the visits or calls grid ("visits", "calls") and had refused, with the messages on
    their rows.
    """
    typed = typed or {}
    today = today or timezone.localdate()
    h = policy.require_client_data(get_object_or_404(page_queryset(user), pk=pk), user)
    tz = timezone.get_current_timezone()
    rows = page_rows(h)
    report = getattr(h, "report", None)
    checker = signing.SignatureChecker(
        h,
        signing.SignedContent(
            h, clients=rows.clients, items=rows.items, visits=rows.visits, calls=rows.checks, report=report
        ),
        rows.signatures,
    )
    # The transition conditions (transitions_for) check signatures on these same rows.
    h.__dict__["_signature_checker"] = checker

    top = header(h, user, rows, today)
    items = item_section(h, user, rows)
    visits = visit_section(h, user, rows)
    spot_check = spot_check_section(h, user, rows, tz)
    tab = tab if tab in tabs_of(h) else stage_tab(h)
    # The plan grid: the plan tab, and "my to-dos" of the departing person while they fill it in.
    show_plan_grid = tab == "plan" or (tab == "mine" and may_edit_plan(h, user))
    # The relationship risk, where it is shown (the plan grid has its column wherever it is): a fixed
    # number of queries for the whole handover.
    show_risk = tab in RISK_TABS or show_plan_grid
    risks = client_risks(h, today=today) if show_risk else None
    clients = client_section(h, user, rows, items, visits, spot_check, risks)
    written = report_section(h, user, today, risks)
    other_items = items.by_client.get(None, [])
    content = tab_content(h, tab, clients.groups, other_items, page, sort)
    grid = grid or GridInput()
    # The grids of those who work in them; everyone else reads the clients' blocks.
    v_grid = visits_grid(h, user, rows, visits, today, typed.get("visits")) if tab in ("visits", "mine") else None
    c_grid = calls_grid(h, user, rows, spot_check, typed.get("calls")) if tab in ("spot_check", "mine") else None
    # The grids show the clients of this page of the tab (on "my to-dos", those that wait for this person).
    shown = {r.pk for g in content.groups for r in g.clients}
    if v_grid is not None:
        v_grid = replace(v_grid, rows=[r for r in v_grid.rows if r.pk in shown])
    if c_grid is not None:
        c_grid = replace(c_grid, rows=[r for r in c_grid.rows if r.pk in shown])
    return HandoverPage(
        show_plan_grid=show_plan_grid,
        show_visits_grid=v_grid is not None,
        show_calls_grid=c_grid is not None,
        show_blocks=not (show_plan_grid or v_grid or c_grid) and tab in ("mine", "materials", "visits", "spot_check"),
        tab=tab,
        tabs=tab_links(h, tab, mine_count(clients.groups, other_items)),
        content=content,
        plan_rows=(
            plan_grid_rows(content.groups, typed=grid.typed, errors=grid.errors, conflicts=grid.conflicts)
            if show_plan_grid
            else []
        ),
        plan_rows_url=reverse("handover:plan_rows", args=[h.pk]) if clients.can_edit_plan else "",
        stage_tab=stage_tab(h),
        handover=h,
        viewer=user,
        today=today,
        current_due_on=top.current_due_on,
        overdue=top.overdue,
        stages=stage_cells(h, rows.events),
        steps=steps(h, user, checker),
        groups=clients.groups,
        other_items=other_items,
        # Newest first, and only on the timeline's own tab.
        events=event_rows(rows.events[::-1], rows.names) if tab == "timeline" else [],
        return_reason=top.return_reason,
        viewer_must_act_on_return=top.viewer_must_act_on_return,
        counts={
            "clients": len(rows.clients),
            "items": len(rows.items),
            "confirmed": items.confirmed,
            "unconfirmed": items.unconfirmed,
            "plan_gaps": clients.plan_gaps,
            "visit_gaps": clients.visit_gaps,
            "calls_pending": spot_check.pending,
            "sampled": spot_check.sampled,
        },
        report=report,
        figures=written.figures,
        figures_live=written.figures_live,
        can_edit_plan=clients.can_edit_plan,
        can_set_receiver=top.can_set_receiver,
        can_write_report=written.can_write_report,
        receiver_choices=top.receiver_choices,
        hand_over_all_url=items.hand_over_all_url,
        confirm_all_url=items.confirm_all_url,
        mine_waiting=items.mine_waiting,
        action_urls={
            "receiver_set": reverse("handover:receiver_set", args=[h.pk]),
            "report_update": reverse("handover:report_update", args=[h.pk]),
        },
        signatures=signature_panel(h, user, checker, rows.names, tz),
        print_links=print_links(h, user),
        archive_url=archive_url(h, user),
        visits_grid=v_grid,
        calls_grid=c_grid,
        archive=archive_status(h, user),
        show_risk=show_risk,
        risk_rule=rule_text() if show_risk else "",
        risk_sort_url=tab_url(h, tab, sort="" if content.sort else "risk") if show_plan_grid else "",
        risk_rows=risk_rows(clients.groups) if tab == "report" else [],
    )
