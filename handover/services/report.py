"""The report: the departing person writes it; its figures are fixed when it is submitted."""

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.models import User
from clients.money import format_money

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


def draft_report(h: Handover, user: User) -> None:
    """Once the spot-check is over, a blank report summary starts as a draft from the handover's
    own figures; the departing person reads it, adds what only they know, and submits it."""
    report = Report.objects.filter(handover=h).first()
    if report is None or report.summary.strip():
        return
    f = selectors.report_figures(h)
    grades = pgettext("list separator", ", ").join(
        _("grade %(grade)s: %(n)s") % {"grade": g, "n": n} for g, n in sorted(f["clients_by_grade"].items())
    )
    report.summary = _(
        "The handover covers %(clients)s clients (%(grades)s), handed to %(receivers)s receivers; "
        "%(visits)s joint visits (%(in_person)s in person); %(sampled)s clients phoned in the spot-check. "
        "%(contracts)s contracts worth %(value)s; receivables outstanding %(outstanding)s (overdue %(overdue)s)."
    ) % {
        "clients": f["clients"],
        "grades": grades,
        "receivers": f["receivers"],
        "visits": f["visits"],
        "in_person": f["visits_in_person"],
        "sampled": f["sampled_clients"],
        "contracts": f["contracts"],
        "value": format_money(f["contract_value"]),
        "outstanding": format_money(f["outstanding"]),
        "overdue": format_money(f["overdue"]),
    }
    report.save(update_fields=["summary"])


def fill_report_figures(h: Handover, user: User) -> None:
    Report.objects.filter(handover=h).update(figures=selectors.report_figures(h))
