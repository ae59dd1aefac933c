"""The workspace: a tab per stage, a "待我处理" tab of what this person must act on, the timeline on
its own tab; which clients and items each tab shows, a page of them at a time.

Every tab reads the same rows (rows.py) and sections; a tab only chooses which of them to show, so
what a person must act on is decided once, here, from the sections' own URLs (an action is offered
exactly where a URL is set).
"""

import hashlib
from dataclasses import dataclass, field, replace

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ...flow import STATES
from ...models import Handover, State
from ..risk import by_risk
from .clients import ClientRow, ReceiverGroup
from .items import ItemRow

# Clients shown per page of a tab: a 500-client handover stays a page that loads at once.
ROWS_PER_PAGE = 100

TAB_LABELS = {
    "mine": gettext_lazy("My to-dos"),
    "plan": gettext_lazy("Plan"),
    "materials": gettext_lazy("Materials"),
    "visits": gettext_lazy("Joint visits"),
    "spot_check": gettext_lazy("Phone spot-check"),
    "report": gettext_lazy("Report and signatures"),
    # The client notice (客户告知函): templates/handover/_client_notices.html.
    "notices": gettext_lazy("Client notices"),
    # The clients' satisfaction survey after completion: templates/handover/_client_surveys.html.
    "surveys": gettext_lazy("Client satisfaction"),
    "timeline": gettext_lazy("Timeline"),
}
TABS = list(TAB_LABELS)


def stage_tab(h: Handover) -> str:
    """The tab of the stage the handover stands at (a closed one: the report; cancelled: the timeline)."""
    if h.state == State.CANCELLED:
        return "timeline"
    stage = STATES[h.state].stage
    return stage if stage in TAB_LABELS else "report"


def tab_url(h: Handover | int, tab: str, *, anchor: str = "", page: int = 1, sort: str = "") -> str:
    pk = h.pk if isinstance(h, Handover) else h
    url = reverse("handover:detail", args=[pk]) + f"?tab={tab}"
    if sort:
        url += f"&sort={sort}"
    if page > 1:
        url += f"&p={page}"
    return url + (f"#{anchor}" if anchor else "")


@dataclass(frozen=True)
class TabLink:
    key: str
    label: str
    url: str
    active: bool
    count: int = 0
    current_stage: bool = False


@dataclass
class PageLink:
    number: int
    url: str
    active: bool


@dataclass
class TabContent:
    groups: list[ReceiverGroup] = field(default_factory=list)
    other_items: list[ItemRow] = field(default_factory=list)
    pages: list[PageLink] = field(default_factory=list)
    page: int = 1
    # What each client block shows on this tab.
    show_plan: bool = False
    show_items: bool = False
    show_visits: bool = False
    show_calls: bool = False
    empty_text: str = ""
    # The plan's order: "" as grouped by receiver, "risk" high risk first.
    sort: str = ""


def row_needs(row: ClientRow, items: bool = True) -> bool:
    """The client asks something of the viewer: its plan, a visit to record or confirm, a call, a
    removal, or one of its items to hand over again or confirm."""
    if row.plan_url and (not row.plan_complete or row.prefilled):
        return True
    if row.visit_url or any(v.confirm_url for v in row.visits):
        return True
    if row.call_url and all(c.superseded for c in row.calls):
        return True
    if row.drop_url:
        return True
    return items and any(item_needs(i) for i in row.items)


def item_needs(item: ItemRow) -> bool:
    """An item waits for the viewer: theirs to confirm, or disputed and theirs to hand over again."""
    return bool(item.confirm_url) or (bool(item.hand_over_url) and item.status == "disputed")


def _filter(groups: list[ReceiverGroup], keep) -> list[ReceiverGroup]:
    out = []
    for g in groups:
        rows = [r for r in g.clients if keep(r)]
        if rows:
            out.append(ReceiverGroup(g.receiver_id, g.receiver_name, rows, g.items, g.confirmed))
    return out


def _paginate(
    h: Handover, tab: str, groups: list[ReceiverGroup], page: int, sort: str = ""
) -> tuple[list, list[PageLink], int]:
    total = sum(len(g.clients) for g in groups)
    n_pages = max(1, -(-total // ROWS_PER_PAGE))
    page = min(max(page, 1), n_pages)
    if n_pages == 1:
        return groups, [], 1
    start, end = (page - 1) * ROWS_PER_PAGE, page * ROWS_PER_PAGE
    out, seen = [], 0
    for g in groups:
        rows = g.clients[max(0, start - seen) : max(0, end - seen)]
        seen += len(g.clients)
        if rows:
            out.append(ReceiverGroup(g.receiver_id, g.receiver_name, rows, g.items, g.confirmed))
    links = [PageLink(n, tab_url(h, tab, page=n, sort=sort), n == page) for n in range(1, n_pages + 1)]
    return out, links, page


def _by_risk(groups: list[ReceiverGroup]) -> list[ReceiverGroup]:
    """The plan sorted by risk, high first (then in the usual order): consecutive rows of one
    receiver stay one group."""
    rows = by_risk([(g, r) for g in groups for r in g.clients], lambda gr: gr[1].risk.level if gr[1].risk else "")
    out: list[ReceiverGroup] = []
    for g, r in rows:
        if out and out[-1].receiver_id == g.receiver_id:
            out[-1].clients.append(r)
        else:
            out.append(ReceiverGroup(g.receiver_id, g.receiver_name, [r], g.items, g.confirmed))
    return out


def tab_content(
    h: Handover, tab: str, groups: list[ReceiverGroup], other_items: list[ItemRow], page: int, sort: str = ""
) -> TabContent:
    if tab == "mine":
        # Of a client that needs this person, only the items that do.
        chosen = [
            ReceiverGroup(
                g.receiver_id,
                g.receiver_name,
                [replace(r, items=[i for i in r.items if item_needs(i)]) for r in g.clients],
                g.items,
                g.confirmed,
            )
            for g in _filter(groups, row_needs)
        ]
        # Its plan grid sorts by risk as the plan tab does.
        chosen = _by_risk(chosen) if sort == "risk" else chosen
        content = TabContent(
            other_items=[i for i in other_items if item_needs(i)],
            show_items=True,
            show_visits=h.state == State.VISITS,
            show_calls=h.state == State.SPOT_CHECK,
            empty_text=_("Nothing waits for you in this handover now."),
            sort=sort if sort == "risk" else "",
        )
    elif tab == "materials":
        chosen = _filter(groups, lambda r: bool(r.items))
        content = TabContent(other_items=other_items, show_items=True, empty_text=_("No checklist items."))
    elif tab == "visits":
        chosen = groups
        content = TabContent(show_visits=True)
    elif tab == "spot_check":
        chosen = _filter(groups, lambda r: r.in_sample)
        content = TabContent(show_calls=True, empty_text=_("No client has been drawn for the spot-check yet."))
    elif tab == "plan":
        chosen = _by_risk(groups) if sort == "risk" else groups
        content = TabContent(show_plan=True, sort=sort if sort == "risk" else "")
    else:
        return TabContent()
    content.groups, content.pages, content.page = _paginate(h, tab, chosen, page, content.sort)
    if tab == "mine" or content.page > 1:
        # The other items come with the first page of the materials tab only.
        content.other_items = content.other_items if content.page == 1 else []
    return content


# The tabs of a part of the procedure a handover may leave out (ProcedureVariant): not shown when it does.
PART_TABS = {"materials": "materials", "visits": "visits", "spot_check": "spot_check"}


def tabs_of(h: Handover) -> list[str]:
    return [key for key in TAB_LABELS if key not in PART_TABS or h.goes_through(PART_TABS[key])]


def tab_links(h: Handover, tab: str, mine_count: int) -> list[TabLink]:
    current = stage_tab(h)
    shown = tabs_of(h)
    return [
        TabLink(
            key=key,
            label=str(label),
            url=tab_url(h, key),
            active=key == tab,
            count=mine_count if key == "mine" else 0,
            current_stage=key == current,
        )
        for key, label in TAB_LABELS.items()
        if key in shown
    ]


def mine_count(groups: list[ReceiverGroup], other_items: list[ItemRow]) -> int:
    return sum(1 for g in groups for r in g.clients if row_needs(r)) + sum(1 for i in other_items if item_needs(i))


# ---------------------------------------------------------------------------------------
# The plan grid


PLAN_TEXT = ("current_status", "risks", "next_steps")


def plan_field_labels() -> dict[str, str]:
    return {
        "current_status": _("current status"),
        "risks": _("risks"),
        "next_steps": _("next steps"),
        "planned_visit_on": _("planned visit date"),
        "receiver": _("receiver"),
    }


def plan_digest(current_status: str, risks: str, next_steps: str, planned_visit_on: str) -> str:
    """A short digest of a plan row as the page showed it: a row whose input still matches it was
    not edited, so saving the whole grid leaves it alone even if someone changed it since."""
    raw = "\x1f".join((current_status, risks, next_steps, planned_visit_on))
    return hashlib.blake2s(raw.encode(), digest_size=6).hexdigest()


@dataclass(slots=True)
class PlanGridRow:
    pk: int
    name: str
    grade: str
    grade_class: str
    receiver_name: str
    current_status: str
    risks: str
    next_steps: str
    planned_visit_on: str
    row_version: int
    digest: str
    prefilled: tuple[str, ...] = ()
    errors: dict = field(default_factory=dict)
    conflict: bool = False
    complete: bool = False
    left_book: bool = False
    in_sample: bool = False
    # Typed on the page and not saved (a refused save shows it again).
    dirty: bool = False
    # The relationship risk (selectors/risk.py): level code, its label, and the reasons.
    risk_level: str = ""
    risk_display: str = ""
    risk_reasons: tuple[str, ...] = ()


def plan_grid_rows(
    groups: list[ReceiverGroup],
    *,
    typed: dict[int, dict[str, str]] | None = None,
    errors: dict[int, dict[str, str]] | None = None,
    conflicts: set[int] | None = None,
) -> list[PlanGridRow]:
    """The grid's rows, in the groups' order; what was typed (a refused save) stands in for the stored
    values, with the version and digest the person's page had, so nothing typed is lost."""
    typed, errors, conflicts = typed or {}, errors or {}, conflicts or set()
    out = []
    for g in groups:
        for r in g.clients:
            values = {
                "current_status": r.current_status,
                "risks": r.risks,
                "next_steps": r.next_steps,
                "planned_visit_on": r.planned_visit_on,
            }
            version = r.row_version
            digest = plan_digest(*values.values())
            mine = typed.get(r.pk)
            if mine:
                values.update({k: v for k, v in mine.items() if k in values})
                version = int(mine.get("row_version") or version)
                digest = mine.get("digest") or digest
            out.append(
                PlanGridRow(
                    pk=r.pk,
                    name=r.name,
                    grade=r.grade,
                    grade_class=r.grade_class,
                    receiver_name=g.receiver_name,
                    row_version=version,
                    digest=digest,
                    prefilled=tuple(r.prefilled),
                    errors=errors.get(r.pk, {}),
                    conflict=r.pk in conflicts,
                    complete=r.plan_complete,
                    left_book=r.left_book,
                    in_sample=r.in_sample,
                    dirty=bool(mine) and (r.pk in errors),
                    risk_level=r.risk.level if r.risk else "",
                    risk_display=r.risk.level_display if r.risk else "",
                    risk_reasons=tuple(r.risk.reasons) if r.risk else (),
                    **values,
                )
            )
    return out
