"""The report: the departing person writes it; its figures are fixed when it is submitted."""

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy, selectors
from ..models import Handover, Report, State
from .common import bump, lock_handover, log_event, require_state
from .errors import NotAllowed


@transaction.atomic
def report_update(
    *,
    handover: Handover,
    user: User,
    summary: str,
    open_risks: str = "",
    advice: str = "",
    expected_version: int | None = None,
) -> Report:
    h = lock_handover(handover, expected_version)
    if not policy.may_write_report(h, user):
        raise NotAllowed(_("Only the departing salesperson writes the report."))
    require_state(h, State.REPORT)
    report, _created = Report.objects.get_or_create(handover=h)
    report.summary, report.open_risks, report.advice = summary, open_risks, advice
    report.save()
    bump(h)
    log_event(h, actor=user, kind="report_updated")
    return report


def fill_report_figures(h: Handover, user: User) -> None:
    Report.objects.filter(handover=h).update(figures=selectors.report_figures(h))
