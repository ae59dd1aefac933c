"""The company's other clients over the same calendar windows as the handed-over ones (issue 14, items 2
and 4): the dashboard's comparison for retention at 30 / 90 / 180 days.

A handed-over client completed on day d is retained at N days if it is not marked lost by d + N
and had a follow-up, a contract signed or renewed or a payment from d to d + N. The comparison asks
the same of the company's other clients (never in a handover that went ahead) over the same windows
[d, d + N]: for each completion day, weighted by the number of handed-over clients completed that
day whose window is over. An other client counts for a window if it was not marked lost before the
window began (one marked lost before the day was kept counts for none); it is active if it had a
follow-up, a contract signed or renewed (by today) or a payment in the window and was not marked
lost by its end.

Asking "active in [d, d + N]?" of every other client for every completion day would be clients x
days lookups. Instead: a client is active in [d, d + N] exactly when d falls in [a - N, a] for one of
its activity days a. Per client these intervals are made disjoint (each starts after the previous
activity day), cut at the day it was lost less N, and then the number of clients active on day d is
#(intervals started by d) - #(intervals ended before d): two counts per day, read from sorted lists.
The database gives the activity days with the days since the client's previous one (a window
function), counted per (day, gap capped at 181, day lost): a bounded number of rows however many
clients, from which the intervals are counted per start and end day. Two queries (the activity, the
days lost) whatever the number of clients and handovers.
"""

import bisect
import datetime
from collections import Counter
from decimal import Decimal
from itertools import accumulate

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, QuerySet, Value, When
from django.db.models.functions import Coalesce

from clients.models import Client, ClientStatus, Contract, FollowUp, Payment, Receivable

from .sql_dates import DayNumber, LocalDate, day_number

# A client marked lost before the day was kept: lost since always.
LOST_LONG_AGO = -1_000_000


def _activity_days_sql() -> str:
    """(client, day number, day lost) of each day an other client (CTE o) was active (a follow-up, a
    contract signed or renewed, a dated payment) from the first to the last day asked about (each
    part's two parameters; a renewal counts until today, a date still ahead being a plan). A day found
    twice comes after itself with a gap of 0: it covers no more days. Days outside the range change
    no count inside it: an interval starting after it is never asked about, and one whose previous
    activity is left out starts at a - N instead of after that activity, which only adds days before
    the range."""
    day = DayNumber.template(connection.vendor).format
    follow_ups, contracts = FollowUp._meta.db_table, Contract._meta.db_table
    receivables, payments = Receivable._meta.db_table, Payment._meta.db_table
    # Joined to o rather than "IN (SELECT ... FROM o)": PostgreSQL then hashes o once instead of
    # looking each other client up in each table's index.
    return (
        f"SELECT f.client_id AS c, {day('f.date')} AS a, o.o_lost AS l FROM {follow_ups} f "  # noqa: S608 - table names
        "JOIN o ON o.o_id = f.client_id WHERE f.date >= %s AND f.date <= %s "
        f"UNION ALL SELECT k.client_id, {day('k.signed_on')}, o.o_lost FROM {contracts} k "
        "JOIN o ON o.o_id = k.client_id WHERE k.signed_on >= %s AND k.signed_on <= %s "
        f"UNION ALL SELECT k.client_id, {day('k.renewal_date')}, o.o_lost FROM {contracts} k "
        "JOIN o ON o.o_id = k.client_id WHERE k.renewal_date >= %s AND k.renewal_date <= %s "
        f"UNION ALL SELECT k.client_id, {day('p.date')}, o.o_lost FROM {payments} p "
        f"JOIN {receivables} r ON r.id = p.receivable_id JOIN {contracts} k ON k.id = r.contract_id "
        "JOIN o ON o.o_id = k.client_id WHERE p.amount > 0 AND p.date >= %s AND p.date <= %s"
    )


def _lost_day() -> Case:
    """The day number the client was marked lost; None if it is not."""
    return Case(
        When(status=ClientStatus.LOST, then=Coalesce(DayNumber(LocalDate("lost_at")), Value(LOST_LONG_AGO))),
        default=None,
        output_field=IntegerField(),
    )


def _lost_days(others: QuerySet[Client]) -> QuerySet:
    return others.annotate(o_id=F("pk"), o_lost=_lost_day()).values("o_id", "o_lost").order_by()


def _gaps_sql(acts: str, lost: str, cap: int) -> str:
    """Each other client's activity days with the days since its previous one (capped: beyond the
    longest window it makes no difference) and the day it was lost, counted per (day, gap, lost day)."""
    return (
        f"WITH o AS ({lost}), acts AS ({acts}), "  # noqa: S608 - our own compiled SQL, parameters passed apart
        "g AS (SELECT a, a - LAG(a) OVER (PARTITION BY c ORDER BY a) AS gap, l FROM acts) "
        f"SELECT a, CASE WHEN gap IS NULL OR gap > {cap:d} THEN {cap:d} ELSE gap END AS gap, l, COUNT(*) "
        "FROM g GROUP BY 1, 2, 3"
    )


class _Counts:
    """How many of a multiset of day numbers are <= a day (or < it), by bisection of sorted days."""

    def __init__(self, counts: dict[int, int]):
        self.days = sorted(counts)
        self.cumulative = list(accumulate(counts[d] for d in self.days))

    def at_most(self, day: int) -> int:
        i = bisect.bisect_right(self.days, day)
        return self.cumulative[i - 1] if i else 0

    def before(self, day: int) -> int:
        return self.at_most(day - 1)


def other_clients_retention(
    others: QuerySet[Client], completions: dict[datetime.date, int], windows: tuple[int, ...], today: datetime.date
) -> dict[int, dict]:
    """For each window N, over the completion days whose window is over (completions: handed-over
    clients per completion day): the rate of other clients active in the same windows, each day
    weighted by its handed-over clients; "others" and "others_active" are the numbers of other
    clients counted and active in a window, averaged the same way."""
    starts: dict[int, Counter] = {n: Counter() for n in windows}
    ends: dict[int, Counter] = {n: Counter() for n in windows}
    cap = max(windows) + 1
    asked = [day for day in completions if day + datetime.timedelta(days=min(windows)) <= today]
    rows = []
    if asked:
        first, last = min(asked), min(today, max(asked) + datetime.timedelta(days=max(windows)))
        lost_sql, lost_params = _lost_days(others).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                _gaps_sql(_activity_days_sql(), lost_sql, cap),
                [*lost_params, first, last, first, last, first, min(last, today), first, last],
            )
            rows = cursor.fetchall()
    for a, gap, lost_day, count in rows:
        for n in windows:
            # Active on day d in [d, d + n] thanks to this day a: d from a - n (or the day after the
            # previous activity, which covers the days before) to a, and not lost by d + n.
            start = max(a - n, a - gap + 1)
            end = a if lost_day is None else min(a, lost_day - n - 1)
            if start <= end:
                starts[n][start] += count
                ends[n][end] += count
    lost = dict(others.annotate(o_lost=_lost_day()).values("o_lost").annotate(k=Count("pk")).values_list("o_lost", "k"))
    never_lost = lost.pop(None, 0)
    ever_lost, lost_by = sum(lost.values()), _Counts(lost)
    result = {}
    for n in windows:
        started, ended = _Counts(starts[n]), _Counts(ends[n])
        weight = counted = active = 0
        for day, w in completions.items():
            if day + datetime.timedelta(days=n) > today:
                continue  # the window is still running
            d = day_number(day)
            weight += w
            # Counted: not marked lost before the window began.
            counted += w * (never_lost + ever_lost - lost_by.before(d))
            active += w * (started.at_most(d) - ended.before(d))
        result[n] = {
            "others": round(counted / weight) if weight else 0,
            "others_active": round(active / weight) if weight else 0,
            "others_rate": (Decimal(active) * 100 / counted).quantize(Decimal("0.1")) if counted else None,
        }
    return result
