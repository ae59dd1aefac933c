"""The report: live figures while the departing person writes it, the frozen ones afterwards."""

import datetime
from dataclasses import dataclass, field

from ... import policy
from ...models import Handover, State
from ..report import figure_rows, report_figures
from ..risk import ClientRisk


@dataclass(frozen=True)
class ReportSection:
    can_write_report: bool = False
    figures: list[tuple[str, str]] = field(default_factory=list)
    figures_live: bool = False


def report_section(
    h: Handover, user, today: datetime.date, risks: dict[int, ClientRisk] | None = None
) -> ReportSection:
    """`risks`: the clients' relationship risks if the page has them already (the live figures count them)."""
    report = getattr(h, "report", None)
    if h.state == State.REPORT and policy.may_write_report(h, user):
        return ReportSection(True, figure_rows(report_figures(h, today, risks=risks)), True)
    if report is not None and h.state in (State.REPORT_REVIEW, State.REPORT_APPROVAL, State.COMPLETED):
        return ReportSection(False, figure_rows(report.figures), False)
    return ReportSection()
