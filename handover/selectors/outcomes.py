"""What became of each handed-over client: computed from the client book, never typed (issue 14).

client_outcomes(queryset) takes any queryset of HandoverClient (one handover's, one client's, a
department's over a year) and answers in six queries whatever its size: the rows, then one grouped
query each for the follow-ups, the contracts, the deals, the receivables and the payments. The
windows (30 / 90 / 180 days, 12 months) are counted from each handover's own completion day.

What each figure means, and where the book cannot say more:

  - first contact / first visit: days from the completion day to the first follow-up (any kind; a
    visit for the visit) dated on or after it, whoever recorded it (the receiver, as owner, records
    them; a later owner's count too). The same rule closes the duties (reminders.duties_close_proven).
  - follow-ups in 30 / 90 / 180 days: dated from the completion day to that day + N, inclusive.
  - outstanding at handover: the snapshot written at completion (HandoverClient.outstanding_at_completion).
    Handovers completed before the snapshot was kept have none: the book does not say what was
    outstanding then (receivables change in place), so it shows as unknown rather than guessed.
  - collected since: the client's payments (clients.Payment, written whenever an amount received
    changes) dated on or after the completion day, corrections included, never below 0. Amounts
    received before payments were kept have no date and count as before: for a handover completed
    before then, what was collected between its completion and then is missing.
  - contracts signed or renewed since: signed_on on or after the completion day; renewal_date from
    the completion day to today (a renewal date still ahead is a plan, not a renewal).
  - deals won or lost since: Opportunity.closed_on on or after the completion day; a deal closed
    before that field was kept falls back to its expected close date.
  - contract value signed in the 12 months after the completion day (so far, until they are over)
    against the 12 months before it.
  - retained (since completion): not marked lost, and active since: a follow-up, a contract signed
    or renewed, or a payment. At N days: not marked lost by then, and a follow-up, a contract or a
    payment in the window; None while the window is still running with nothing in it yet.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, QuerySet, Sum, Value, When
from django.db.models.lookups import LessThanOrEqual
from django.template.loader import render_to_string
from django.utils import timezone

from clients.models import ZERO, ClientStatus, FollowUpKind, LostReason, OpportunityStage

from ..models import HandoverClient, State
from .sql_dates import DaysAfter, LocalDate

WINDOWS = (30, 90, 180)
PAYMENTS = "client__contracts__receivables__payments"
YEAR = 365


def _days(n: int):
    """The completion day + n days, as a date the database compares (either backend)."""
    return DaysAfter(F("completed_on"), n)


@dataclass
class Outcome:
    hc_id: int
    handover_id: int
    handover_number: str
    client_id: int
    client_name: str
    receiver_id: int
    receiver_name: str
    completed_on: datetime.date
    days_to_first_contact: int | None = None
    days_to_first_visit: int | None = None
    follow_ups: dict[int, int] = field(default_factory=dict)
    outstanding_at_handover: Decimal | None = None
    collected_since: Decimal | None = None
    outstanding_now: Decimal = ZERO
    contracts_signed_since: int = 0
    contracts_renewed_since: int = 0
    deals_won_since: int = 0
    deals_lost_since: int = 0
    value_12m_before: Decimal = ZERO
    value_12m_after: Decimal = ZERO
    # The 12 months after are over: value_12m_after is final.
    value_12m_complete: bool = False
    lost: bool = False
    lost_reason: str = ""
    lost_reason_display: str = ""
    lost_on: datetime.date | None = None
    retained: bool = False
    retained_at: dict[int, bool | None] = field(default_factory=dict)
    last_activity: datetime.date | None = None

    @property
    def value_change_percent(self) -> Decimal | None:
        """The change of contract value signed, 12 months after against before; None with nothing before.
        While the 12 months after still run (value_12m_complete false) it compares a part year."""
        if not self.value_12m_before:
            return None
        change = (self.value_12m_after - self.value_12m_before) * 100 / self.value_12m_before
        return change.quantize(Decimal("0.1"))

    @property
    def follow_up_cells(self) -> list[tuple[int, int]]:
        return [(n, self.follow_ups.get(n, 0)) for n in WINDOWS]

    @property
    def retained_cells(self) -> list[tuple[int, bool | None]]:
        return [(n, self.retained_at.get(n)) for n in WINDOWS]


def completed_entries(queryset: QuerySet[HandoverClient]) -> QuerySet[HandoverClient]:
    """Of these clients in handovers, those of completed handovers, with the completion day."""
    return queryset.filter(handover__state=State.COMPLETED, handover__completed_at__isnull=False).annotate(
        completed_on=LocalDate("handover__completed_at")
    )


def completions_per_day(queryset: QuerySet[HandoverClient]) -> dict[datetime.date, int]:
    """Of these clients in handovers, how many were in handovers completed on each day."""
    rows = completed_entries(queryset).values("completed_on").annotate(k=Count("pk")).order_by()
    return {row["completed_on"]: row["k"] for row in rows}


def _grouped(entries: QuerySet[HandoverClient], **aggregates) -> dict[int, dict]:
    rows = (
        HandoverClient.objects.filter(pk__in=entries.values("pk"))
        .annotate(completed_on=LocalDate("handover__completed_at"))
        .values("pk")
        .annotate(**aggregates)
        .order_by()
    )
    return {row["pk"]: row for row in rows}


def _follow_ups(entries) -> dict[int, dict]:
    date = "client__follow_ups__date"
    since = Q(**{f"{date}__gte": F("completed_on")})
    windows = {f"n{n}": Count("client__follow_ups", filter=since & Q(**{f"{date}__lte": _days(n)})) for n in WINDOWS}
    return _grouped(
        entries,
        first_contact=Min(date, filter=since),
        first_visit=Min(date, filter=since & Q(client__follow_ups__kind=FollowUpKind.VISIT)),
        last_follow_up=Max(date, filter=since),
        **windows,
    )


def _contracts(entries, today: datetime.date) -> dict[int, dict]:
    signed, renewal = "client__contracts__signed_on", "client__contracts__renewal_date"

    def active_between(end) -> Q:
        signed_in = Q(**{f"{signed}__gte": F("completed_on"), f"{signed}__lte": end})
        # A renewal date still ahead is a plan, not a renewal.
        renewed_in = Q(**{f"{renewal}__gte": F("completed_on"), f"{renewal}__lte": end}) & Q(
            **{f"{renewal}__lte": today}
        )
        return signed_in | renewed_in

    renewed_since = Q(**{f"{renewal}__gte": F("completed_on"), f"{renewal}__lte": today})
    windows = {f"c{n}": Count("client__contracts", filter=active_between(_days(n))) for n in WINDOWS}
    return _grouped(
        entries,
        signed_since=Count("client__contracts", filter=Q(**{f"{signed}__gte": F("completed_on")})),
        renewed_since=Count("client__contracts", filter=renewed_since),
        value_before=Sum(
            "client__contracts__amount",
            filter=Q(**{f"{signed}__lt": F("completed_on"), f"{signed}__gte": _days(-YEAR)}),
        ),
        value_after=Sum(
            "client__contracts__amount",
            filter=Q(**{f"{signed}__gte": F("completed_on"), f"{signed}__lt": _days(YEAR)}),
        ),
        last_signed=Max(signed, filter=Q(**{f"{signed}__gte": F("completed_on"), f"{signed}__lte": today})),
        last_renewed=Max(renewal, filter=renewed_since),
        **windows,
    )


def _deals(entries) -> dict[int, dict]:
    closed = Q(client__opportunities__closed_on__gte=F("completed_on")) | Q(
        client__opportunities__closed_on__isnull=True,
        client__opportunities__expected_close_date__gte=F("completed_on"),
    )
    return _grouped(
        entries,
        won=Count("client__opportunities", filter=closed & Q(client__opportunities__stage=OpportunityStage.WON)),
        lost=Count("client__opportunities", filter=closed & Q(client__opportunities__stage=OpportunityStage.LOST)),
    )


def _receivables(entries) -> dict[int, dict]:
    due, received = "client__contracts__receivables__amount_due", "client__contracts__receivables__amount_received"
    return _grouped(
        entries,
        outstanding_now=Sum(F(due) - F(received), filter=Q(**{f"{received}__lt": F(due)})),
    )


def _payments(entries) -> dict[int, dict]:
    date, amount = f"{PAYMENTS}__date", f"{PAYMENTS}__amount"
    since = Q(**{f"{date}__gte": F("completed_on")})
    paid = since & Q(**{f"{amount}__gt": 0})
    windows = {f"p{n}": Count(amount, filter=paid & Q(**{f"{date}__lte": _days(n)})) for n in WINDOWS}
    return _grouped(entries, collected=Sum(amount, filter=since), last_paid=Max(date, filter=paid), **windows)


def client_outcomes(queryset: QuerySet[HandoverClient], *, today: datetime.date | None = None) -> list[Outcome]:
    """The outcome of each client of a completed handover in the queryset, in six queries whatever its size."""
    today = today or timezone.localdate()
    entries = completed_entries(queryset)
    rows = list(
        entries.select_related("handover", "client", "receiver").order_by(
            "-handover__completed_at", "grade", "client__name", "pk"
        )
    )
    if not rows:
        return []
    follow_ups = _follow_ups(entries)
    contracts = _contracts(entries, today)
    deals = _deals(entries)
    money = _receivables(entries)
    paid = _payments(entries)
    reasons = dict(LostReason.choices)
    out = []
    for hc in rows:
        out.append(
            _outcome(hc, follow_ups[hc.pk], contracts[hc.pk], deals[hc.pk], money[hc.pk], paid[hc.pk], today, reasons)
        )
    return out


def _after(day: datetime.date | None, start: datetime.date) -> int | None:
    return (day - start).days if day is not None else None


def _outcome(hc, f: dict, c: dict, d: dict, m: dict, p: dict, today: datetime.date, reasons: dict) -> Outcome:
    start = hc.completed_on
    client = hc.client
    collected = max(ZERO, p["collected"] or ZERO)
    lost = client.status == ClientStatus.LOST
    lost_on = timezone.localdate(client.lost_at) if lost and client.lost_at else None
    o = Outcome(
        hc_id=hc.pk,
        handover_id=hc.handover_id,
        handover_number=hc.handover.number,
        client_id=client.pk,
        client_name=client.name,
        receiver_id=hc.receiver_id,
        receiver_name=hc.receiver.display_name,
        completed_on=start,
        days_to_first_contact=_after(f["first_contact"], start),
        days_to_first_visit=_after(f["first_visit"], start),
        follow_ups={n: f[f"n{n}"] for n in WINDOWS},
        outstanding_at_handover=hc.outstanding_at_completion,
        collected_since=collected,
        outstanding_now=m["outstanding_now"] or ZERO,
        contracts_signed_since=c["signed_since"],
        contracts_renewed_since=c["renewed_since"],
        deals_won_since=d["won"],
        deals_lost_since=d["lost"],
        value_12m_before=c["value_before"] or ZERO,
        value_12m_after=c["value_after"] or ZERO,
        value_12m_complete=today >= start + datetime.timedelta(days=YEAR),
        lost=lost,
        lost_reason=client.lost_reason if lost else "",
        lost_reason_display=str(reasons.get(client.lost_reason, "")) if lost else "",
        lost_on=lost_on,
    )
    days = [x for x in (f["last_follow_up"], c["last_signed"], c["last_renewed"], p["last_paid"]) if x is not None]
    o.last_activity = max(days) if days else None
    active = bool(days)
    o.retained = active and not lost
    for n in WINDOWS:
        end = start + datetime.timedelta(days=n)
        if lost and (lost_on is None or lost_on <= end):
            o.retained_at[n] = False
        elif f[f"n{n}"] or c[f"c{n}"] or p[f"p{n}"]:
            o.retained_at[n] = True
        else:
            o.retained_at[n] = None if today < end else False
    return o


def outcomes_for_handover(h, *, today: datetime.date | None = None) -> list[Outcome]:
    return client_outcomes(HandoverClient.objects.filter(handover=h), today=today)


def outcomes_for_client(client_id: int, *, today: datetime.date | None = None) -> list[Outcome]:
    return client_outcomes(HandoverClient.objects.filter(client_id=client_id), today=today)


@dataclass(frozen=True)
class OutcomeSummary:
    clients: int
    retained: int
    lost: int


def outcome_summary(outcomes: list[Outcome]) -> OutcomeSummary:
    return OutcomeSummary(
        clients=len(outcomes), retained=sum(1 for o in outcomes if o.retained), lost=sum(1 for o in outcomes if o.lost)
    )


def client_outcome_panel(user, client) -> str:
    """The "after the handover" card of the client page (clients.hooks), for whoever sees the client;
    "" when the client was in no completed handover."""
    outcomes = outcomes_for_client(client.pk)
    if not outcomes:
        return ""
    return render_to_string("handover/_client_outcome.html", {"outcomes": outcomes})


# ---------------------------------------------------------------------------------------
# The same figures added up in the database, for the dashboard (issue 14, item 6)
#
# The dashboard needs sums over every handed-over client of the view (14,000 in the bench), not
# each client's row: building an Outcome for each took seconds. Here the per-client figures are the
# same grouped queries as above (one row per client in handover, so no fan-out between tables),
# joined on the client in handover and added up per receiver in one statement. The ORM has no
# derived tables, so the outer statement is written here; the inner ones are compiled by the ORM
# and only their parameters are passed. handover/tests/test_outcome_totals.py checks it agrees with
# client_outcomes.

RECEIVER_TOTALS = (
    "clients",
    "lost",
    "retained",
    *(f"known{n}" for n in WINDOWS),
    *(f"kept{n}" for n in WINDOWS),
    "snapshots",
    "outstanding_at_handover",
    "collected_since",
    "outstanding_now",
    "full_year",
    "value_12m_before",
    "value_12m_after",
    "ratings",
    "rating_sum",
)
MONEY_TOTALS = frozenset(
    {"outstanding_at_handover", "collected_since", "outstanding_now", "value_12m_before", "value_12m_after"}
)


def _one(condition) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _main_rows(entries: QuerySet[HandoverClient], today: datetime.date) -> QuerySet:
    lost = Q(client__status=ClientStatus.LOST)
    lost_on = LocalDate("client__lost_at")
    columns = {
        "e_pk": F("pk"),
        "e_receiver": F("receiver_id"),
        "e_outstanding": F("outstanding_at_completion"),
        "e_received": F("received_at_completion"),
        "e_lost": _one(lost),
        "e_rating": F("survey__rating"),
        "e_full_year": _one(LessThanOrEqual(_days(YEAR), Value(today))),
    }
    for n in WINDOWS:
        # The window is over: today is its last day or after (as Outcome.retained_at).
        columns[f"e_ended{n}"] = _one(LessThanOrEqual(_days(n), Value(today)))
        columns[f"e_lost{n}"] = _one(lost & (Q(client__lost_at__isnull=True) | LessThanOrEqual(lost_on, _days(n))))
    return entries.annotate(**columns).values(*columns).order_by()


def _per_entry(entries: QuerySet[HandoverClient], **aggregates) -> QuerySet:
    return entries.annotate(g_pk=F("pk")).values("g_pk").annotate(**aggregates).order_by()


def outcome_totals(queryset: QuerySet[HandoverClient], *, today: datetime.date | None = None) -> dict[int, dict]:
    """Per receiver, the totals of the outcomes of the completed handovers' clients in the queryset, in
    one query whatever their number: the counts of clients, lost, retained since completion, and for
    each window that is over (known{n}) those retained in it (kept{n}); the money (snapshots: clients
    with a snapshot at completion); the contract value 12 months before and after for the clients a
    full year past completion; the survey ratings answered (count and sum). Same rules as _outcome."""
    today = today or timezone.localdate()
    entries = completed_entries(queryset)
    main = _main_rows(entries, today)
    fu_date = "client__follow_ups__date"
    since_fu = Q(**{f"{fu_date}__gte": F("completed_on")})
    follow_ups = _per_entry(
        entries,
        f_since=Count("client__follow_ups", filter=since_fu),
        **{
            f"f{n}": Count(
                "client__follow_ups", filter=Q(**{f"{fu_date}__gte": F("completed_on"), f"{fu_date}__lte": _days(n)})
            )
            for n in WINDOWS
        },
    )
    signed, renewal = "client__contracts__signed_on", "client__contracts__renewal_date"

    def contract_between(end) -> Q:
        return Q(**{f"{signed}__gte": F("completed_on"), f"{signed}__lte": end}) | Q(
            **{f"{renewal}__gte": F("completed_on"), f"{renewal}__lte": end}
        ) & Q(**{f"{renewal}__lte": today})

    contracts = _per_entry(
        entries,
        c_since=Count("client__contracts", filter=contract_between(today)),
        c_before=Sum(
            "client__contracts__amount",
            filter=Q(**{f"{signed}__lt": F("completed_on"), f"{signed}__gte": _days(-YEAR)}),
        ),
        c_after=Sum(
            "client__contracts__amount",
            filter=Q(**{f"{signed}__gte": F("completed_on"), f"{signed}__lt": _days(YEAR)}),
        ),
        **{f"c{n}": Count("client__contracts", filter=contract_between(_days(n))) for n in WINDOWS},
    )
    due, received = "client__contracts__receivables__amount_due", "client__contracts__receivables__amount_received"
    money = _per_entry(entries, r_outstanding=Sum(F(due) - F(received), filter=Q(**{f"{received}__lt": F(due)})))
    paid_on, amount = f"{PAYMENTS}__date", f"{PAYMENTS}__amount"
    since = Q(**{f"{paid_on}__gte": F("completed_on")})
    paid = since & Q(**{f"{amount}__gt": 0})
    payments = _per_entry(
        entries,
        p_collected=Sum(amount, filter=since),
        p_since=Count(amount, filter=paid),
        **{f"p{n}": Count(amount, filter=paid & Q(**{f"{paid_on}__lte": _days(n)})) for n in WINDOWS},
    )
    parts = [q.query.sql_with_params() for q in (main, follow_ups, contracts, money, payments)]
    sql, params = _totals_sql(*(p[0] for p in parts)), [x for p in parts for x in p[1]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    totals = {}
    for receiver, *values in rows:
        row = dict(zip(RECEIVER_TOTALS, values, strict=True))
        for key in MONEY_TOTALS:
            # SQLite answers sums of decimals as floats: back to yuan and fen.
            row[key] = Decimal(str(row[key] or 0)).quantize(Decimal("0.01"))
        totals[receiver] = {k: (v if k in MONEY_TOTALS else int(v or 0)) for k, v in row.items()}
    return totals


def _totals_sql(main: str, follow_ups: str, contracts: str, money: str, payments: str) -> str:
    snapshot = "m.e_received IS NOT NULL"
    active_since = "(COALESCE(f.f_since, 0) > 0 OR COALESCE(c.c_since, 0) > 0 OR COALESCE(p.p_since, 0) > 0)"
    columns = [
        "COUNT(*)",
        "SUM(m.e_lost)",
        f"SUM(CASE WHEN m.e_lost = 0 AND {active_since} THEN 1 ELSE 0 END)",
        *(f"SUM(m.e_ended{n})" for n in WINDOWS),
        *(
            f"SUM(CASE WHEN m.e_ended{n} = 1 AND m.e_lost{n} = 0 "
            f"AND COALESCE(f.f{n}, 0) + COALESCE(c.c{n}, 0) + COALESCE(p.p{n}, 0) > 0 THEN 1 ELSE 0 END)"
            for n in WINDOWS
        ),
        f"SUM(CASE WHEN {snapshot} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {snapshot} THEN m.e_outstanding ELSE 0 END)",
        "SUM(CASE WHEN p.p_collected > 0 THEN p.p_collected ELSE 0 END)",
        "SUM(COALESCE(r.r_outstanding, 0))",
        "SUM(m.e_full_year)",
        "SUM(CASE WHEN m.e_full_year = 1 THEN COALESCE(c.c_before, 0) ELSE 0 END)",
        "SUM(CASE WHEN m.e_full_year = 1 THEN COALESCE(c.c_after, 0) ELSE 0 END)",
        "COUNT(m.e_rating)",
        "SUM(COALESCE(m.e_rating, 0))",
    ]
    assert len(columns) == len(RECEIVER_TOTALS)
    return (
        f"SELECT m.e_receiver, {', '.join(columns)} FROM ({main}) m "  # noqa: S608 - our own compiled SQL
        f"LEFT JOIN ({follow_ups}) f ON f.g_pk = m.e_pk "
        f"LEFT JOIN ({contracts}) c ON c.g_pk = m.e_pk "
        f"LEFT JOIN ({money}) r ON r.g_pk = m.e_pk "
        f"LEFT JOIN ({payments}) p ON p.g_pk = m.e_pk "
        "GROUP BY m.e_receiver"
    )
