"""The plan prefilled from the book, so that most rows need only a check.

When a handover starts, each client's row of the plan is written from what the book already
says: the current status from its contracts in performance, its outstanding receivables and its
latest follow-up; the risks from overdue receivables, open objections and contracts ending soon;
the next steps from the latest follow-up's next plan; and a planned visit date, spread over the
handover's window (working days, A clients first, a few a day). The fields written this way are
listed in `HandoverClient.prefilled` until the departing person confirms the row.

The texts are built by pure functions over the book's rows (`prefill_texts`, `spread_visits`);
`prefill_plan` reads the rows in a fixed number of queries whatever the number of clients.
"""

import datetime
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import translation
from django.utils.translation import gettext as _

from clients.models import ZERO, Contract, ContractStatus, FollowUp, Opportunity, Receivable
from clients.money import format_money
from clients.selectors import OpenBusiness
from clients.validators import TEXT_MAX_LENGTH

from ..models import Handover, HandoverClient, Part

# A contract ending within this many days of the start is a risk to name.
ENDING_SOON_DAYS = 90
# Visits planned on one working day, at least (more when the window is short).
VISITS_PER_DAY = 3
# Contracts named one by one in the status; more are counted.
NAMED_CONTRACTS = 3
# A quoted follow-up is cut to this many characters.
QUOTE_LENGTH = 200
TEXT_FIELDS = ("current_status", "risks", "next_steps")


def yuan(amount: Decimal) -> str:
    """¥1,234,567.00, the one way money is shown."""
    return format_money(amount)


def _quote(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= QUOTE_LENGTH else text[: QUOTE_LENGTH - 1] + "…"


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_MAX_LENGTH else text[: TEXT_MAX_LENGTH - 1] + "…"


@dataclass(frozen=True)
class BookRows:
    """What the book holds for one client, as the prefill reads it."""

    contracts: Sequence[Contract] = ()
    receivables: Sequence[Receivable] = ()  # outstanding ones, each with its contract
    deals: Sequence[Opportunity] = ()  # open ones
    follow_up: FollowUp | None = None  # the latest


@dataclass
class PlanTexts:
    current_status: str = ""
    risks: str = ""
    next_steps: str = ""
    planned_visit_on: datetime.date | None = None
    fields: list[str] = field(default_factory=list)


def _status_lines(rows: BookRows) -> list[str]:
    lines = []
    active = [c for c in rows.contracts if c.status == ContractStatus.ACTIVE]
    if active:
        named = "、".join(
            _("%(number)s (%(progress)d%% performed)") % {"number": c.number, "progress": c.performance_progress}
            for c in active[:NAMED_CONTRACTS]
        )
        if len(active) > NAMED_CONTRACTS:
            named += _(" and %(n)d more") % {"n": len(active) - NAMED_CONTRACTS}
        lines.append(
            _("%(n)d contract(s) in performance, %(amount)s in all, %(paid)s paid: %(named)s.")
            % {
                "n": len(active),
                "amount": yuan(sum((c.amount for c in active), ZERO)),
                "paid": yuan(sum((c.amount_paid for c in active), ZERO)),
                "named": named,
            }
        )
    if rows.receivables:
        lines.append(
            _("Receivables outstanding: %(amount)s in %(n)d payment(s).")
            % {"amount": yuan(sum((r.outstanding for r in rows.receivables), ZERO)), "n": len(rows.receivables)}
        )
    f = rows.follow_up
    if f is not None and f.content.strip():
        lines.append(
            _("Latest follow-up on %(date)s (%(kind)s): %(content)s")
            % {"date": f.date.isoformat(), "kind": f.get_kind_display(), "content": _quote(f.content)}
        )
    return lines


def _risk_lines(rows: BookRows, today: datetime.date) -> list[str]:
    lines = []
    overdue = [r for r in rows.receivables if r.outstanding > 0 and r.due_date < today]
    if overdue:
        oldest = min(r.due_date for r in overdue)
        lines.append(
            _("Overdue receivables: %(amount)s, the oldest %(days)d days overdue (due %(date)s).")
            % {
                "amount": yuan(sum((r.outstanding for r in overdue), ZERO)),
                "days": (today - oldest).days,
                "date": oldest.isoformat(),
            }
        )
    for deal in rows.deals:
        if deal.main_objections.strip():
            lines.append(
                _("Open objection on %(deal)s: %(text)s") % {"deal": deal.name, "text": _quote(deal.main_objections)}
            )
    f = rows.follow_up
    if f is not None and f.objections.strip():
        lines.append(
            _("Objection at the latest follow-up (%(date)s): %(text)s")
            % {"date": f.date.isoformat(), "text": _quote(f.objections)}
        )
    soon = today + datetime.timedelta(days=ENDING_SOON_DAYS)
    for c in rows.contracts:
        if c.status == ContractStatus.ACTIVE and today <= c.end_date <= soon:
            lines.append(
                _("Contract %(number)s ends on %(date)s; renewal to be settled.")
                % {"number": c.number, "date": c.end_date.isoformat()}
            )
    return lines


def prefill_texts(rows: BookRows, *, today: datetime.date) -> PlanTexts:
    """The plan's text fields for one client from its book rows; empty where the book says nothing."""
    next_plan = rows.follow_up.next_plan.strip() if rows.follow_up is not None else ""
    texts = PlanTexts(
        current_status=_cut("\n".join(_status_lines(rows))),
        risks=_cut("\n".join(_risk_lines(rows, today))),
        next_steps=_cut(next_plan),
    )
    texts.fields = [name for name in TEXT_FIELDS if getattr(texts, name)]
    return texts


def working_days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += datetime.timedelta(days=1)
    return days


GRADE_ORDER = {"A": 0, "B": 1, "C": 2}


def spread_visits(
    keyed_grades: Sequence[tuple[object, str]], *, start: datetime.date, end: datetime.date
) -> dict[object, datetime.date]:
    """A planned visit date per key: the working days from start to end, A clients first, a few a day.

    keyed_grades is (key, grade) in the order to keep within a grade. At least VISITS_PER_DAY go
    on each day from the first; when the window is short, more a day, so every client gets a day
    inside it. With no working day in the window, the visits go on its last day.
    """
    ordered = sorted(keyed_grades, key=lambda kg: GRADE_ORDER.get(kg[1], len(GRADE_ORDER)))
    days = working_days(start, end) or [end]
    per_day = max(VISITS_PER_DAY, math.ceil(len(ordered) / len(days))) if ordered else VISITS_PER_DAY
    return {key: days[min(i // per_day, len(days) - 1)] for i, (key, _grade) in enumerate(ordered)}


def latest_follow_ups(client_ids: Iterable[int]) -> dict[int, FollowUp]:
    """Each client's latest follow-up, in one query."""
    client_ids = list(client_ids)
    latest = FollowUp.objects.filter(client=OuterRef("client")).order_by("-date", "-id").values("pk")[:1]
    rows = FollowUp.objects.filter(client_id__in=client_ids, pk=Subquery(latest))
    return {f.client_id: f for f in rows}


def prefill_plan(
    h: Handover, hcs: Sequence[HandoverClient], business: OpenBusiness, *, today: datetime.date
) -> list[HandoverClient]:
    """Write each client's prefilled plan (in memory and in the database) and return the rows.

    `business` is the book's open business the start already read; one more query reads the
    latest follow-ups and one writes the rows, whatever the number of clients.
    """
    follow_ups = latest_follow_ups(hc.client_id for hc in hcs)
    start = min(max(h.notice_date, today), h.last_working_day)
    # A handover that goes through no joint visits plans none.
    visits = (
        spread_visits([(hc.pk, hc.grade) for hc in hcs], start=start, end=h.last_working_day)
        if h.goes_through(Part.VISITS)
        else {}
    )
    for hc in hcs:
        cid = hc.client_id
        # Stored text, read by everyone: in the company's language, whoever started the handover.
        with translation.override(settings.LANGUAGE_CODE):
            texts = prefill_texts(
                BookRows(
                    contracts=business.contracts.get(cid, ()),
                    receivables=business.receivables.get(cid, ()),
                    deals=business.deals.get(cid, ()),
                    follow_up=follow_ups.get(cid),
                ),
                today=today,
            )
        hc.current_status, hc.risks, hc.next_steps = texts.current_status, texts.risks, texts.next_steps
        hc.planned_visit_on = visits.get(hc.pk)
        hc.prefilled = texts.fields + (["planned_visit_on"] if hc.planned_visit_on else [])
    HandoverClient.objects.bulk_update(hcs, ["current_status", "risks", "next_steps", "planned_visit_on", "prefilled"])
    return list(hcs)
