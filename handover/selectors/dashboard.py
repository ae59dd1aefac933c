"""The dashboard's figures (issue 14, item 4): handovers by state and department, overdue stages,
average days per stage and outstanding receivables in open handovers.

Scoped by role: managers, HR and superusers see every department, a supervisor only their own
(the one they belong to or head); anyone else has no dashboard. A fixed number of queries
whatever the number of handovers and clients.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Department, User
from accounts.roles import Role
from clients.models import Client, Receivable
from clients.money import format_money

from ..models import OPEN_STATES, Event, Handover, HandoverClient, State
from .outcomes import MONEY_TOTALS, WINDOWS, completions_per_day, outcome_totals
from .retention import other_clients_retention
from .visibility import with_current_due

CENTS = Decimal("0.01")
NO_DEPARTMENT = 0


def may_see_dashboard(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(
        user.is_superuser or user.has_role(Role.MANAGER) or user.has_role(Role.HR) or user.has_role(Role.SUPERVISOR)
    )


def sees_every_department(user) -> bool:
    return bool(user.is_superuser or user.has_role(Role.MANAGER) or user.has_role(Role.HR))


def dashboard_departments(user) -> QuerySet[Department]:
    """The departments this person may pick on the dashboard."""
    if not may_see_dashboard(user):
        return Department.objects.none()
    if sees_every_department(user):
        return Department.objects.all()
    return Department.objects.filter(Q(head=user) | Q(pk=user.department_id)).distinct()


def dashboard_handovers(
    user,
    *,
    department: Department | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[Handover]:
    """The handovers the dashboard counts: in the person's scope, started within the period."""
    if not may_see_dashboard(user):
        return Handover.objects.none()
    queryset = Handover.objects.all()
    if not sees_every_department(user):
        queryset = queryset.filter(departing__department__in=dashboard_departments(user).values("pk"))
    if department is not None:
        queryset = queryset.filter(departing__department=department)
    if date_from is not None:
        queryset = queryset.filter(started_at__date__gte=date_from)
    if date_to is not None:
        queryset = queryset.filter(started_at__date__lte=date_to)
    return queryset


@dataclass
class Dashboard:
    date_from: datetime.date | None
    date_to: datetime.date | None
    department: Department | None
    total: int = 0
    by_state: list[dict] = field(default_factory=list)
    by_department: list[dict] = field(default_factory=list)
    overdue: list[dict] = field(default_factory=list)
    stage_days: list[dict] = field(default_factory=list)
    receivables: list[dict] = field(default_factory=list)
    receivables_total: Decimal = Decimal("0.00")

    def as_data(self) -> dict:
        """The same figures as plain data: for the API, the charts' JSON and the Excel export."""
        return {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "department": self.department.pk if self.department else None,
            "total": self.total,
            "by_state": self.by_state,
            "by_department": self.by_department,
            "overdue": self.overdue,
            "stage_days": self.stage_days,
            "receivables": [{**row, "outstanding": str(row["outstanding"])} for row in self.receivables],
            "receivables_total": str(self.receivables_total),
        }


def _department_names(ids) -> dict[int, str]:
    names = dict(Department.objects.filter(pk__in=[i for i in ids if i]).values_list("pk", "name"))
    names[NO_DEPARTMENT] = _("No department")
    return names


def dashboard_figures(
    user,
    *,
    department: Department | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    today: datetime.date | None = None,
) -> Dashboard:
    """Six queries, whatever the number of handovers, events and clients."""
    today = today or timezone.localdate()
    handovers = dashboard_handovers(user, department=department, date_from=date_from, date_to=date_to)
    board = Dashboard(date_from=date_from, date_to=date_to, department=department)
    labels = dict(State.choices)

    # 1. By state.
    counts = dict(handovers.order_by().values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    board.by_state = [
        {"state": state, "label": str(label), "count": counts.get(state, 0)} for state, label in State.choices
    ]
    board.total = sum(counts.values())

    # 2. By department (and state: open / completed / cancelled).
    rows = (
        handovers.order_by()
        .values_list("departing__department")
        .annotate(
            n=Count("id"),
            open=Count("id", filter=Q(state__in=OPEN_STATES)),
            completed=Count("id", filter=Q(state=State.COMPLETED)),
        )
        .values_list("departing__department", "n", "open", "completed")
    )
    rows = [(dept or NO_DEPARTMENT, n, o, c) for dept, n, o, c in rows]
    # 3. Receivables outstanding in open handovers, by department.
    owed = F("amount_due") - F("amount_received")
    money = (
        Receivable.objects.outstanding()
        .filter(contract__client__handover_entries__handover__in=handovers.filter(state__in=OPEN_STATES))
        .order_by()
        .values_list("contract__client__handover_entries__handover__departing__department")
        .annotate(total=Sum(owed), clients=Count("contract__client", distinct=True))
        .values_list("contract__client__handover_entries__handover__departing__department", "total", "clients")
    )
    money = [(dept or NO_DEPARTMENT, total or Decimal("0"), n) for dept, total, n in money]
    names = _department_names([r[0] for r in rows] + [m[0] for m in money])
    board.by_department = sorted(
        (
            {"department": dept or None, "label": names.get(dept, ""), "count": n, "open": o, "completed": c}
            for dept, n, o, c in rows
        ),
        key=lambda row: (-row["count"], row["label"]),
    )
    board.receivables = sorted(
        (
            {
                "department": dept or None,
                "label": names.get(dept, ""),
                "clients": n,
                "outstanding": total.quantize(CENTS),
            }
            for dept, total, n in money
        ),
        key=lambda row: (-row["outstanding"], row["label"]),
    )
    board.receivables_total = sum((row["outstanding"] for row in board.receivables), Decimal("0")).quantize(CENTS)

    # 4. Overdue stages: open handovers past the deadline of the state they are in.
    overdue = dict(
        with_current_due(handovers.filter(state__in=OPEN_STATES))
        .filter(current_due_on__lt=today)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    board.overdue = [
        {"state": state, "label": str(labels[state]), "count": overdue[state]}
        for state in OPEN_STATES
        if state in overdue
    ]

    # 5. Average days per stage, from the timeline's transitions: each stay in a state runs from
    # the transition into it (or the start, for the plan) to the transition out of it.
    board.stage_days = _stage_days(handovers, labels)
    return board


def _stage_days(handovers: QuerySet[Handover], labels: dict) -> list[dict]:
    started = dict(handovers.order_by().values_list("pk", "started_at"))
    events = (
        Event.objects.filter(handover__in=handovers, kind="transition")
        .exclude(from_state=F("to_state"))
        .order_by("handover_id", "at", "id")
        .values_list("handover_id", "at", "from_state")
    )
    spent: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    since: dict[int, datetime.datetime] = {}
    for handover_id, at, from_state in events:
        begin = since.get(handover_id, started.get(handover_id))
        if begin is not None and from_state:
            spent[from_state][handover_id] += (at - begin).total_seconds() / 86400
        since[handover_id] = at
    result = []
    for state in OPEN_STATES:
        per_handover = spent.get(state)
        if not per_handover:
            continue
        days = sum(per_handover.values()) / len(per_handover)
        result.append(
            {
                "state": state,
                "label": str(labels[state]),
                "handovers": len(per_handover),
                "average_days": round(days, 1),
            }
        )
    return result


@dataclass
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[list]
    chart: dict

    @property
    def chart_id(self) -> str:
        return f"chart-{self.key}"

    @property
    def cells(self) -> list[list]:
        """The rows as the page shows them: money written with format_money."""
        return [[format_money(v) if isinstance(v, Decimal) else v for v in row] for row in self.rows]


def dashboard_tables(board: Dashboard) -> list[Table]:
    """Each chart's numbers as a table (the table is the truth, the chart is drawn from the same rows)."""

    def bar(rows, value_index=1, name=""):
        return {
            "kind": "bar",
            "categories": [str(row[0]) for row in rows],
            "series": [{"name": name, "data": [float(row[value_index]) for row in rows]}],
        }

    by_state = [[row["label"], row["count"]] for row in board.by_state if row["count"]]
    by_department = [[row["label"], row["count"], row["open"], row["completed"]] for row in board.by_department]
    overdue = [[row["label"], row["count"]] for row in board.overdue]
    stage_days = [[row["label"], row["handovers"], row["average_days"]] for row in board.stage_days]
    receivables = [[row["label"], row["clients"], row["outstanding"]] for row in board.receivables]
    return [
        Table(
            "by_state",
            _("Handovers by state"),
            [_("state"), _("handovers")],
            by_state,
            {"kind": "pie", "data": [{"name": str(r[0]), "value": r[1]} for r in by_state]},
        ),
        Table(
            "by_department",
            _("Handovers by department"),
            [_("department"), _("handovers"), _("open handovers"), _("completed handovers")],
            by_department,
            {
                "kind": "bar",
                "categories": [str(r[0]) for r in by_department],
                "series": [
                    {"name": str(_("open handovers")), "data": [r[2] for r in by_department], "stack": "n"},
                    {"name": str(_("completed handovers")), "data": [r[3] for r in by_department], "stack": "n"},
                    {
                        "name": str(_("cancelled handovers")),
                        "data": [r[1] - r[2] - r[3] for r in by_department],
                        "stack": "n",
                    },
                ],
            },
        ),
        Table(
            "overdue",
            _("Overdue stages"),
            [_("state"), _("open handovers past the deadline")],
            overdue,
            bar(overdue, name=str(_("handovers"))),
        ),
        Table(
            "stage_days",
            _("Average days per stage"),
            [_("state"), _("handovers"), _("average days")],
            stage_days,
            bar(stage_days, value_index=2, name=str(_("average days"))),
        ),
        Table(
            "receivables",
            _("Outstanding receivables in open handovers"),
            [_("department"), _("clients"), _("outstanding receivables")],
            receivables,
            {**bar(receivables, value_index=2, name=str(_("outstanding receivables"))), "money": True},
        ),
    ]


# ---------------------------------------------------------------------------------------
# After the handover: what became of the handed-over clients (issue 14, item 4, second part)

# Sales per customer fall 13–18% the year after a salesperson leaves (Shi, Sridhar, Grewal and
# Lilien, Journal of Marketing 2017): the change in contract value is read against this range.
BENCHMARK_LOW = Decimal("-18")
BENCHMARK_HIGH = Decimal("-13")


@dataclass
class AfterHandover:
    clients: int = 0
    retention: list[dict] = field(default_factory=list)
    collected: dict = field(default_factory=dict)
    value: dict = field(default_factory=dict)
    receivers: list[dict] = field(default_factory=list)

    def as_data(self) -> dict:
        def plain(row: dict) -> dict:
            return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}

        return {
            "clients": self.clients,
            "retention": [plain(r) for r in self.retention],
            "collected": plain(self.collected),
            "value": plain(self.value),
            "receivers": [plain(r) for r in self.receivers],
        }


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1")) if whole else None


def _other_clients(user, department) -> QuerySet[Client]:
    """The company's clients never in a handover that went ahead, in the departments of the view."""
    others = Client.objects.exclude(
        pk__in=HandoverClient.objects.exclude(handover__state=State.CANCELLED).values("client_id")
    )
    if department is not None:
        return others.filter(owner__department=department)
    if not sees_every_department(user):
        return others.filter(owner__department__in=dashboard_departments(user).values("pk"))
    return others


def after_handover_figures(
    user,
    *,
    department: Department | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    today: datetime.date | None = None,
) -> AfterHandover:
    """Retention against the other clients, money collected, contract value and outcomes per receiver,
    over the completed handovers of the view: the outcomes added up by the database (outcome_totals,
    one query), the receivers' names and the other clients, whatever the number of handovers and clients."""
    today = today or timezone.localdate()
    handovers = dashboard_handovers(user, department=department, date_from=date_from, date_to=date_to)
    totals = outcome_totals(HandoverClient.objects.filter(handover__in=handovers), today=today)

    def total(key: str):
        return sum((row[key] for row in totals.values()), Decimal("0") if key in MONEY_TOTALS else 0)

    after = AfterHandover(clients=total("clients"))
    entries = HandoverClient.objects.filter(handover__in=handovers)
    others = other_clients_retention(_other_clients(user, department), completions_per_day(entries), WINDOWS, today)
    for n in WINDOWS:
        known, kept = total(f"known{n}"), total(f"kept{n}")
        after.retention.append(
            {
                "days": n,
                "handed_over": known,
                "handed_over_retained": kept,
                "handed_over_rate": _rate(kept, known),
                **others[n],
            }
        )
    after.collected = {
        "clients": total("snapshots"),
        "unknown": total("clients") - total("snapshots"),
        "outstanding_at_handover": total("outstanding_at_handover"),
        "collected_since": total("collected_since"),
        "outstanding_now": total("outstanding_now"),
    }
    before, after_value = total("value_12m_before"), total("value_12m_after")
    change = ((after_value - before) * 100 / before).quantize(Decimal("0.1")) if before else None
    after.value = {
        "clients": total("full_year"),
        "value_12m_before": before,
        "value_12m_after": after_value,
        "change_percent": change,
        "benchmark_low": BENCHMARK_LOW,
        "benchmark_high": BENCHMARK_HIGH,
    }
    names = {u.pk: u.display_name for u in User.objects.filter(pk__in=list(totals))}
    per = {}
    for receiver, row in totals.items():
        per[receiver] = {
            "receiver": receiver,
            "label": names.get(receiver, ""),
            "clients": row["clients"],
            "retained": row["retained"],
            "lost": row["lost"],
            "retained_rate": _rate(row["retained"], row["clients"]),
            "collected_since": row["collected_since"],
            "surveys_answered": row["ratings"],
            "average_rating": round(row["rating_sum"] / row["ratings"], 1) if row["ratings"] else None,
        }
    after.receivers = sorted(per.values(), key=lambda r: (-r["clients"], r["label"]))
    return after


def after_handover_tables(after: AfterHandover) -> list[Table]:
    def pct(value):
        return f"{value}%" if value is not None else "—"

    retention = [
        [
            _("%(days)d days") % {"days": r["days"]},
            r["handed_over"],
            pct(r["handed_over_rate"]),
            r["others"],
            pct(r["others_rate"]),
        ]
        for r in after.retention
    ]
    c = after.collected
    collected = [
        [_("outstanding at handover"), c["outstanding_at_handover"]],
        [_("collected since"), c["collected_since"]],
        [_("outstanding now"), c["outstanding_now"]],
    ]
    v = after.value
    value = [
        [_("clients with 12 months since handover"), v["clients"]],
        [_("contract value, 12 months before"), v["value_12m_before"]],
        [_("contract value, 12 months after"), v["value_12m_after"]],
        [_("change"), pct(v["change_percent"])],
        [_("benchmark (Shi et al., 2017)"), f"{v['benchmark_low']}% ～ {v['benchmark_high']}%"],
    ]
    receivers = [
        [
            r["label"],
            r["clients"],
            r["retained"],
            r["lost"],
            pct(r["retained_rate"]),
            r["collected_since"],
            r["average_rating"] if r["average_rating"] is not None else "—",
        ]
        for r in after.receivers
    ]
    return [
        Table(
            "retention",
            _("Retention of handed-over clients against the other clients"),
            [_("window"), _("handed-over clients"), _("retained"), _("other clients"), _("active in the window")],
            retention,
            {
                "kind": "bar",
                "percent": True,
                "categories": [str(r[0]) for r in retention],
                "series": [
                    {
                        "name": str(_("handed-over clients")),
                        "data": [float(r["handed_over_rate"] or 0) for r in after.retention],
                    },
                    {"name": str(_("other clients")), "data": [float(r["others_rate"] or 0) for r in after.retention]},
                ],
            },
        ),
        Table(
            "collected",
            _("Receivables collected after handover"),
            [_("figure"), _("sum")],
            collected,
            {
                "kind": "bar",
                "money": True,
                "categories": [str(r[0]) for r in collected],
                "series": [{"name": str(_("sum")), "data": [float(r[1]) for r in collected]}],
            },
        ),
        Table(
            "value",
            _("Change in contract value against the 13–18% benchmark"),
            [_("figure"), _("value")],
            value,
            {
                "kind": "bar",
                "percent": True,
                "categories": [str(_("handed-over clients")), str(_("benchmark low")), str(_("benchmark high"))],
                "series": [
                    {
                        "name": str(_("change")),
                        "data": [
                            float(v["change_percent"] or 0),
                            float(v["benchmark_low"]),
                            float(v["benchmark_high"]),
                        ],
                    }
                ],
            },
        ),
        Table(
            "receivers",
            _("Outcomes per receiver"),
            [
                _("receiver"),
                _("clients"),
                _("retained since handover"),
                _("lost"),
                _("retention"),
                _("collected since"),
                _("average survey rating"),
            ],
            receivers,
            {
                "kind": "bar",
                "categories": [str(r[0]) for r in receivers],
                "series": [
                    {"name": str(_("retained")), "data": [r[2] for r in receivers], "stack": "n"},
                    {"name": str(_("lost")), "data": [r[3] for r in receivers], "stack": "n"},
                    {"name": str(_("other")), "data": [r[1] - r[2] - r[3] for r in receivers], "stack": "n"},
                ],
            },
        ),
    ]
