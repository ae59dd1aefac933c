"""The client's satisfaction survey (客户满意度回访): some days after completion (ClientSurveyTemplate,
by default 30) the periodic scan prepares a survey for every client of the handover and writes its
email (or, to a contact with no email, SMS) in one transaction; the messages are sent exactly once
by the same mechanism as the client notice's (client_links.py). The client answers through their
personal link with no login; a low rating or a "no" tells the receiver and the supervisor.

The reads (the token, the wording, the results) are handover/selectors/surveys.py's.
"""

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.models import Contact

from .. import notify, origin
from ..models import (
    NOTICE_SEND_ATTEMPTS,
    SURVEY_LOW_RATING,
    ClientSurvey,
    ClientSurveyTemplate,
    Event,
    HandoverClient,
    NoticeChannel,
    State,
    SurveyContinue,
    SurveyDelivery,
)
from ..selectors.surveys import SURVEY_LINK, survey_for_token, survey_state, survey_texts
from . import client_links
from .client_notices import LinkClosed
from .common import log_event
from .errors import InvalidInput

# A handover completed longer than this before its survey fell due gets none (the handovers
# completed long before the survey existed, or a scan that stood still for months).
SURVEY_LATE_DAYS = 30


# ---------------------------------------------------------------------------------------
# Preparing and sending (the periodic scan)


def surveys_send_due(*, now=None) -> int:
    """Prepare and send the surveys that are due: every client of a handover completed at least
    `send_after_days` ago whose survey was not sent yet. Returns how many surveys went out.

    A second run (or two scans at once) writes nothing twice: a sent survey is skipped, and a
    delivery is unique per survey, channel and address."""
    now = now or timezone.now()
    template = ClientSurveyTemplate.current()
    due = now - datetime.timedelta(days=template.send_after_days)
    hc_ids = list(
        HandoverClient.objects.filter(
            handover__state=State.COMPLETED,
            handover__completed_at__lte=due,
            handover__completed_at__gt=due - datetime.timedelta(days=SURVEY_LATE_DAYS),
        )
        .filter(Q(survey__isnull=True) | Q(survey__first_sent_at__isnull=True))
        .values_list("pk", flat=True)
    )
    if not hc_ids:
        return 0
    with transaction.atomic():
        ClientSurvey.objects.bulk_create(
            [SURVEY_LINK.new(handover_client_id=pk, prepared_at=now) for pk in hc_ids],
            ignore_conflicts=True,
        )
        surveys = list(
            ClientSurvey.objects.filter(handover_client_id__in=hc_ids, first_sent_at__isnull=True).select_related(
                "handover_client__client", "handover_client__receiver", "handover_client__handover__departing"
            )
        )
        contacts: dict[int, list[Contact]] = {}
        for c in Contact.objects.filter(client_id__in={s.handover_client.client_id for s in surveys}).order_by("pk"):
            contacts.setdefault(c.client_id, []).append(c)
        site = origin.site_url()
        deliveries, sent, handovers = [], [], {}
        expires = now + datetime.timedelta(days=template.answer_days)
        for s in surveys:
            s.expires_at = expires  # the wording names the last day
            subject = survey_texts(s, template=template, link="").subject
            reached = 0
            for c in contacts.get(s.handover_client.client_id, []):
                channel, recipient = (NoticeChannel.EMAIL, c.email) if c.email else (NoticeChannel.SMS, c.phone)
                if not recipient:
                    continue
                deliveries.append(
                    SurveyDelivery(
                        survey=s,
                        channel=channel,
                        recipient=recipient,
                        contact=c,
                        subject=subject if channel == NoticeChannel.EMAIL else "",
                        created_at=now,
                        site_url=site,
                    )
                )
                reached += 1
            if reached:
                sent.append(s.pk)
                handovers.setdefault(s.handover_client.handover_id, [s.handover_client.handover, 0, 0])
                handovers[s.handover_client.handover_id][1] += 1
                handovers[s.handover_client.handover_id][2] += reached
        SurveyDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        ClientSurvey.objects.filter(pk__in=sent, first_sent_at__isnull=True).update(
            first_sent_at=now, expires_at=expires
        )
        # One timeline event per handover, written at once whatever their number.
        Event.objects.bulk_create(
            Event(handover=h, at=now, kind="client_survey_sent", data={"clients": n, "recipients": r})
            for h, n, r in handovers.values()
        )
        SENDER.queue_after_commit()
    return len(sent)


# ---------------------------------------------------------------------------------------
# Delivering (the task), exactly once: the notice's mechanism


MAX_ATTEMPTS = NOTICE_SEND_ATTEMPTS

SURVEY = client_links.LinkUse(
    name="client survey",
    delivery_model=SurveyDelivery,
    load_link=lambda pk: SURVEY_LINK.rows().get(pk=pk),
    texts=lambda survey, site: survey_texts(survey, recorded_site=site),
    link_field="survey",
    attempts=MAX_ATTEMPTS,
)
SENDER = client_links.LinkSender(SURVEY)

# HandoverConfig.ready() hands the Celery task's queueing down here (tasks sit above services).
deliver_surveys_with = SENDER.connect
pending_delivery_ids = SENDER.pending_ids
queue_pending_now = SENDER.queue_pending_now


def survey_deliver(*, delivery_id: int) -> bool:
    """Send one survey message if it is still owed; True when this call sent it."""
    return SENDER.deliver(delivery_id)


# ---------------------------------------------------------------------------------------
# The client's answer


def _rating(value) -> int:
    try:
        rating = int(str(value).strip())
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise InvalidInput(_("Choose a rating from 1 to 5."), field="rating")
    return rating


@transaction.atomic
def survey_answer(*, token: str, rating, will_continue: str, comment: str = "") -> ClientSurvey:
    """The client answers their survey: a rating of the handover from 1 to 5, whether they will keep
    working with us, a comment (required with a rating of 2 or less). Once only, while the link is
    open. A low rating or a "no" notifies the receiver and the supervisor, in this transaction."""
    found = survey_for_token(token)
    if found is None:
        raise LookupError(token)
    rating = _rating(rating)
    if will_continue not in SurveyContinue.values:
        raise InvalidInput(_("Tell us whether you will continue working with us."), field="will_continue")
    comment = (comment or "").strip()
    if rating <= SURVEY_LOW_RATING and not comment:
        raise InvalidInput(_("Please tell us in a few words what went wrong."), field="comment")
    survey = ClientSurvey.objects.select_for_update().get(pk=found.pk)
    state = survey_state(survey)
    if state != "open":
        raise LinkClosed(state)
    now = timezone.now()
    done = ClientSurvey.objects.filter(pk=survey.pk, answered_at__isnull=True).update(
        rating=rating, will_continue=will_continue, comment=comment, answered_at=now
    )
    if not done:
        raise LinkClosed("answered")
    survey.refresh_from_db()
    survey.handover_client = found.handover_client
    hc = found.handover_client
    h = hc.handover
    event = log_event(
        h,
        actor=None,
        kind="client_survey_answered",
        comment=comment,
        client=hc.client.name,
        rating=rating,
        will_continue=will_continue,
    )
    if survey.is_low:
        notify.survey_answer_low(h, event_id=event.pk, handover_client=hc, survey=survey)
    return survey
