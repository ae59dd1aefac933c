"""The client's satisfaction survey (客户满意度回访) as it is read: its link (the same mechanism as the
client notice's, selectors/links.py, under its own salt), its wording, each client's result for
the handover's "满意度回访" tab, and survey_results_for(): the results of any set of handed-over
clients in one query, for the clients' outcomes and the dashboard.
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from .. import policy
from ..models import (
    SURVEY_LOW_RATING,
    ClientSurvey,
    ClientSurveyTemplate,
    Handover,
    HandoverClient,
    State,
    SurveyContinue,
    SurveyStatus,
)
from .links import Keep, LinkKind, LinkTexts, link_texts

SURVEY_TOKEN_SALT = "handover.client_survey"  # noqa: S105 - a salt, not a secret
SURVEY_LINK = LinkKind(ClientSurvey, SURVEY_TOKEN_SALT, "handover:client_survey")

# The survey's link (selectors/links.py): its token, the survey a token opens, the client's page.
survey_token = SURVEY_LINK.token
survey_for_token = SURVEY_LINK.for_token
survey_path = SURVEY_LINK.path
survey_link = SURVEY_LINK.url


def survey_texts(survey: ClientSurvey, *, template=None, recorded_site: str = "", link: str | None = None) -> LinkTexts:
    """The survey's wording for this client, the placeholders filled in (the SMS at most 200 characters)."""
    template = template or ClientSurveyTemplate.current()
    hc = survey.handover_client
    link = survey_link(survey, recorded_site) if link is None else link
    until = survey.expires_at or (timezone.now() + datetime.timedelta(days=template.answer_days))
    values = Keep(
        company=settings.COMPANY_NAME,
        client=hc.client.name,
        receiver=hc.receiver.display_name,
        receiver_phone=hc.receiver.phone or "—",
        departing=hc.handover.departing.display_name,
        link=link,
        until=f"{timezone.localtime(until):%Y-%m-%d}",
    )
    return link_texts(template, values, link)


def survey_state(survey: ClientSurvey, now=None) -> str:
    """ "open", "answered", "expired" (its window is over, or it was never sent)."""
    if survey.answered_at:
        return "answered"
    if survey.expires_at is None or (now or timezone.now()) >= survey.expires_at:
        return "expired"
    return "open"


# ---------------------------------------------------------------------------------------
# The results


@dataclass(frozen=True)
class SurveyResult:
    handover_client_id: int
    status: str  # SurveyStatus
    rating: int | None
    will_continue: str  # SurveyContinue, or "" unanswered
    comment: str
    sent_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    answered_at: datetime.datetime | None

    @property
    def low(self) -> bool:
        return (self.rating is not None and self.rating <= SURVEY_LOW_RATING) or self.will_continue == SurveyContinue.NO

    @property
    def status_label(self) -> str:
        return str(SurveyStatus(self.status).label)

    @property
    def will_continue_label(self) -> str:
        return str(SurveyContinue(self.will_continue).label) if self.will_continue else ""


def _result(hc_id: int, s: ClientSurvey | None, now) -> SurveyResult:
    if s is None:
        return SurveyResult(hc_id, SurveyStatus.NOT_SENT, None, "", "", None, None, None)
    return SurveyResult(
        hc_id, s.status(now), s.rating, s.will_continue, s.comment, s.first_sent_at, s.expires_at, s.answered_at
    )


def survey_results_for(handover_client_ids) -> dict[int, SurveyResult]:
    """Each handed-over client's survey result, by HandoverClient id, in one query whatever their
    number (a client with no survey yet: not_sent). For the clients' outcomes and the dashboard."""
    ids = list(handover_client_ids)
    if not ids:
        return {}
    now = timezone.now()
    found = {s.handover_client_id: s for s in ClientSurvey.objects.filter(handover_client_id__in=ids)}
    return {hc_id: _result(hc_id, found.get(hc_id), now) for hc_id in ids}


@dataclass
class SurveyRow:
    pk: int  # the handover client's
    client: str
    client_id: int
    grade: str
    receiver: str
    result: SurveyResult


@dataclass
class SurveysTab:
    completed: bool
    withheld: bool = False
    send_after_days: int = 30
    answer_days: int = 14
    due_on: datetime.date | None = None
    rows: list[SurveyRow] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    average: float | None = None


def surveys_tab(h: Handover, user) -> SurveysTab:
    """Each client's survey on a completed handover: status, rating, continuing, comment (3 queries)."""
    template = ClientSurveyTemplate.current()
    tab = SurveysTab(
        completed=h.state == State.COMPLETED,
        send_after_days=template.send_after_days,
        answer_days=template.answer_days,
    )
    if not tab.completed:
        return tab
    if not policy.may_read_client_data(h, user):
        tab.withheld = True
        return tab
    if h.completed_at:
        tab.due_on = timezone.localdate(h.completed_at) + datetime.timedelta(days=template.send_after_days)
    hcs = list(
        HandoverClient.objects.filter(handover=h)
        .select_related("client", "receiver")
        .order_by("grade", "client__name", "pk")
    )
    results = survey_results_for([hc.pk for hc in hcs])
    tab.rows = [
        SurveyRow(hc.pk, hc.client.name, hc.client_id, hc.grade, hc.receiver.display_name, results[hc.pk]) for hc in hcs
    ]
    tab.counts = {key: sum(1 for r in tab.rows if r.result.status == key) for key, _label in SurveyStatus.choices}
    ratings = [r.result.rating for r in tab.rows if r.result.rating is not None]
    tab.average = round(sum(ratings) / len(ratings), 1) if ratings else None
    return tab


def client_survey_answers(client_id: int) -> list[dict]:
    """The client's answers to the surveys of the handovers it was in, newest first (the client page)."""
    rows = (
        ClientSurvey.objects.filter(handover_client__client_id=client_id, answered_at__isnull=False)
        .select_related("handover_client__handover", "handover_client__receiver")
        .order_by("-answered_at")
    )
    return [
        {
            "handover": s.handover_client.handover.number,
            "handover_id": s.handover_client.handover_id,
            "receiver": s.handover_client.receiver.display_name,
            "rating": s.rating,
            "will_continue": str(SurveyContinue(s.will_continue).label) if s.will_continue else "",
            "comment": s.comment,
            "answered_at": s.answered_at,
            "low": s.is_low,
        }
        for s in rows
    ]
