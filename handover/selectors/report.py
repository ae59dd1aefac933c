"""The report's figures: worked out live while the report is written, frozen in it afterwards."""

import datetime
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.models import OPEN_STAGES, Contract, Opportunity, OpportunityStage, Receivable
from clients.money import format_money

from ..choices import RiskLevel
from ..models import CallResult, Handover, PhoneCheck, Visit, VisitMode
from .display import labels
from .risk import ClientRisk, client_risks

# The risk levels in the order the figures give them: high first.
RISK_ORDER = (RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)


def report_figures(
    h: Handover, today: datetime.date | None = None, *, risks: dict[int, ClientRisk] | None = None
) -> dict:
    """The report's figures, in seven queries whatever the size of the book (six when the caller
    already has the clients' relationship risks, selectors/risk.py, for the same day)."""
    today = today or timezone.localdate()
    if risks is None:
        risks = client_risks(h, today=today)
    by_risk = dict.fromkeys(RISK_ORDER, 0)
    for risk in risks.values():
        by_risk[risk.level] += 1
    rows = list(h.clients.values_list("client_id", "grade", "receiver_id", "in_sample"))
    clients = h.clients.values("client_id")
    contracts = Contract.objects.filter(client_id__in=clients).aggregate(n=Count("id"), value=Sum("amount"))
    owed = F("amount_due") - F("amount_received")
    money = (
        Receivable.objects.outstanding()
        .filter(contract__client_id__in=clients)
        .aggregate(outstanding=Sum(owed), overdue=Sum(owed, filter=Q(due_date__lt=today)))
    )
    deals = dict(
        Opportunity.objects.filter(client_id__in=clients, stage__in=OPEN_STAGES)
        .values_list("stage")
        .annotate(n=Count("id"))
        .values_list("stage", "n")
    )
    visits = Visit.objects.filter(handover_client__handover=h, superseded=False).aggregate(
        n=Count("id"), in_person=Count("id", filter=Q(mode=VisitMode.IN_PERSON))
    )
    checks = PhoneCheck.objects.filter(handover_client__handover=h)
    by_grade: dict[str, int] = {}
    for _client, grade, _receiver, _sampled in rows:
        by_grade[grade] = by_grade.get(grade, 0) + 1
    cents = Decimal("0.01")
    return {
        "clients": len(rows),
        "clients_by_grade": by_grade,
        "clients_by_risk": {str(level): n for level, n in by_risk.items()},
        "receivers": len({row[2] for row in rows}),
        "contracts": contracts["n"],
        "contract_value": str((contracts["value"] or Decimal("0")).quantize(cents)),
        "outstanding": str((money["outstanding"] or Decimal("0")).quantize(cents)),
        "overdue": str((money["overdue"] or Decimal("0")).quantize(cents)),
        "open_deals_by_stage": deals,
        "visits": visits["n"],
        "visits_in_person": visits["in_person"],
        "spot_checks": dict(checks.values_list("result").annotate(n=Count("id")).values_list("result", "n")),
        "sampled_clients": sum(1 for row in rows if row[3]),
    }


def figure_rows(figures: dict) -> list[tuple[str, str]]:
    """The report's figures (report_figures) as labelled lines."""
    if not figures:
        return []
    stages = labels(OpportunityStage.choices)
    results = labels(CallResult.choices)

    def joined(values: dict, labels: dict) -> str:
        return "，".join(f"{labels.get(k, k)} {v}" for k, v in sorted(values.items())) or "0"

    # Reports frozen before the risk was counted have no such figure: no line rather than a false 0.
    by_risk = figures.get("clients_by_risk")
    risk_line = (
        [
            (
                _("Clients by relationship risk"),
                "，".join(f"{RiskLevel(level).label} {by_risk.get(level, 0)}" for level in RISK_ORDER),
            )
        ]
        if by_risk is not None
        else []
    )
    return [
        (_("Clients"), str(figures.get("clients", 0))),
        (_("Clients by grade"), joined(figures.get("clients_by_grade", {}), {})),
        *risk_line,
        (_("Receivers"), str(figures.get("receivers", 0))),
        (_("Contracts"), str(figures.get("contracts", 0))),
        (_("Contract value"), format_money(figures.get("contract_value") or "0")),
        (_("Outstanding receivables"), format_money(figures.get("outstanding") or "0")),
        (_("Overdue receivables"), format_money(figures.get("overdue") or "0")),
        (_("Open deals by stage"), joined(figures.get("open_deals_by_stage", {}), stages)),
        (_("Joint visits"), str(figures.get("visits", 0))),
        (_("Visits in person"), str(figures.get("visits_in_person", 0))),
        (_("Sampled clients"), str(figures.get("sampled_clients", 0))),
        (_("Spot-check calls"), joined(figures.get("spot_checks", {}), results)),
    ]
