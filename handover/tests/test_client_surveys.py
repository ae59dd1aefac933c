"""The client's satisfaction survey (客户满意度回访): prepared and sent by the periodic scan some days
after completion, exactly once, through the client notice's link mechanism; answered once by the
client through their own link; a low rating or a "no" tells the receiver and the supervisor."""

import datetime

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import Contact
from handover import selectors, services, sms
from handover.models import (
    ClientNotice,
    ClientSurvey,
    ClientSurveyTemplate,
    Event,
    State,
    SurveyDelivery,
    SurveyStatus,
)
from handover.services import client_surveys
from notifications.models import Notification
from tests.walk import advance_to


@pytest.fixture(autouse=True)
def _outboxes(settings, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "handover.sms.LocmemSMSBackend"
    sms.LocmemSMSBackend.outbox.clear()
    # As with a broker: the task (run eagerly by the tests' Celery) rather than this process's thread.
    monkeypatch.setattr(client_surveys.SENDER, "eager", lambda: False)


@pytest.fixture
def completed(handover):
    h = advance_to(handover, State.COMPLETED)
    h.refresh_from_db()
    # One client reached by email, one by SMS only, the others by nothing.
    hcs = list(h.clients.order_by("pk"))
    Contact.objects.filter(client__in=[hc.client for hc in hcs]).update(email="", phone="")
    Contact.objects.filter(client=hcs[0].client).update(email="buyer@example.cn")
    Contact.objects.filter(client=hcs[1].client).update(phone="13800000001")
    return h


def _days_after(h, days: int, hours: int = 1):
    return h.completed_at + datetime.timedelta(days=days, hours=hours)


def _survey(hc) -> ClientSurvey:
    return ClientSurvey.objects.select_related("handover_client__handover").get(handover_client=hc)


def _sent(h, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.surveys_send_due(now=_days_after(h, 30))
    hc = h.clients.order_by("pk").first()
    s = _survey(hc)
    return hc, s, selectors.survey_token(s)


# --- sent by the scan, once, not before completion + 30 days ------------------------------------


def test_nothing_before_completion_plus_30_days(completed):
    assert services.surveys_send_due(now=_days_after(completed, 29, hours=23)) == 0
    assert not ClientSurvey.objects.exists()
    assert mail.outbox == []


def test_nothing_for_an_open_handover(handover):
    advance_to(handover, State.MATERIALS)
    assert services.surveys_send_due(now=timezone.now() + datetime.timedelta(days=400)) == 0
    assert not ClientSurvey.objects.exists()


def test_a_handover_completed_long_before_gets_none(completed):
    late = client_surveys.SURVEY_LATE_DAYS
    assert services.surveys_send_due(now=_days_after(completed, 30 + late + 1)) == 0
    assert not ClientSurvey.objects.exists()


def test_sent_by_email_and_sms_to_the_contacts_with_the_window(completed, django_capture_on_commit_callbacks):
    ClientSurveyTemplate.objects.create(answer_days=10)
    now = _days_after(completed, 30)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.surveys_send_due(now=now) == 2
    hcs = list(completed.clients.order_by("pk"))
    first = _survey(hcs[0])
    assert first.first_sent_at == now and first.expires_at == now + datetime.timedelta(days=10)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["buyer@example.cn"]
    assert selectors.surveys.survey_path(first) in mail.outbox[0].body
    assert [phone for phone, _text in sms.LocmemSMSBackend.outbox] == ["13800000001"]
    assert all(len(text) <= 200 for _p, text in sms.LocmemSMSBackend.outbox)
    # A client with no address: prepared, not sent, shown so.
    assert _survey(hcs[2]).status() == SurveyStatus.NOT_SENT
    assert Event.objects.filter(handover=completed, kind="client_survey_sent").count() == 1


def test_sent_once_even_if_the_scan_and_the_task_run_twice(completed, django_capture_on_commit_callbacks):
    from handover import tasks

    now = _days_after(completed, 30)
    with django_capture_on_commit_callbacks(execute=True):
        services.surveys_send_due(now=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.surveys_send_due(now=now + datetime.timedelta(hours=1)) == 0
    assert SurveyDelivery.objects.count() == 2
    d = SurveyDelivery.objects.get(channel="email")
    tasks.deliver_client_survey.apply(args=[d.pk])
    assert services.survey_deliver(delivery_id=d.pk) is False
    assert len(mail.outbox) == 1
    # The unique key settles two scans at once.
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyDelivery.objects.create(survey=d.survey, channel=d.channel, recipient=d.recipient)


def test_a_broker_outage_loses_nothing(completed, django_capture_on_commit_callbacks, monkeypatch):
    def down(pk):
        raise ConnectionError("broker down")

    monkeypatch.setattr(client_surveys.SENDER, "queue", down)
    with django_capture_on_commit_callbacks(execute=True):
        services.surveys_send_due(now=_days_after(completed, 30))
    assert mail.outbox == [] and len(client_surveys.pending_delivery_ids()) == 2
    monkeypatch.undo()
    monkeypatch.setattr(client_surveys.SENDER, "eager", lambda: False)
    client_surveys.queue_pending_now()
    assert len(mail.outbox) == 1
    assert client_surveys.pending_delivery_ids() == []


def test_the_scan_task_sends_the_due_surveys(completed, monkeypatch):
    from handover import tasks

    later = _days_after(completed, 31)
    monkeypatch.setattr(client_surveys.timezone, "now", lambda: later)
    result = tasks.scan_reminders.apply().get()
    assert result["client_surveys_sent"] == 2


# --- the client's answer -------------------------------------------------------------------------


def test_answered_once(completed, django_capture_on_commit_callbacks):
    hc, s, token = _sent(completed, django_capture_on_commit_callbacks)
    services.survey_answer(token=token, rating="4", will_continue="yes")
    s.refresh_from_db()
    assert (s.rating, s.will_continue, s.status()) == (4, "yes", SurveyStatus.ANSWERED)
    with pytest.raises(services.LinkClosed) as closed:
        services.survey_answer(token=token, rating=5, will_continue="yes")
    assert closed.value.reason == "answered"
    s.refresh_from_db()
    assert s.rating == 4
    # A good answer tells no one.
    assert not Notification.objects.filter(source__startswith="event:", title__contains="/5").exists()


@pytest.mark.parametrize("rating", ["0", "6", "-1", "", "x", "3.5", None])
def test_a_rating_out_of_range_is_refused(completed, django_capture_on_commit_callbacks, rating):
    hc, s, token = _sent(completed, django_capture_on_commit_callbacks)
    with pytest.raises(services.InvalidInput) as refused:
        services.survey_answer(token=token, rating=rating, will_continue="yes", comment="x")
    assert refused.value.field == "rating"
    s.refresh_from_db()
    assert s.answered_at is None


def test_continue_must_be_one_of_the_choices(completed, django_capture_on_commit_callbacks):
    hc, s, token = _sent(completed, django_capture_on_commit_callbacks)
    with pytest.raises(services.InvalidInput) as refused:
        services.survey_answer(token=token, rating=4, will_continue="maybe")
    assert refused.value.field == "will_continue"


def test_a_low_rating_needs_a_comment(completed, django_capture_on_commit_callbacks):
    hc, s, token = _sent(completed, django_capture_on_commit_callbacks)
    with pytest.raises(services.InvalidInput) as refused:
        services.survey_answer(token=token, rating=2, will_continue="unsure", comment="  ")
    assert refused.value.field == "comment"


def test_the_database_refuses_a_rating_out_of_range(completed, django_capture_on_commit_callbacks):
    hc, s, token = _sent(completed, django_capture_on_commit_callbacks)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientSurvey.objects.filter(pk=s.pk).update(rating=6)


def test_an_expired_link_takes_no_answer(completed, django_capture_on_commit_callbacks):
    hc, s, token = _sent(completed, django_capture_on_commit_callbacks)
    ClientSurvey.objects.filter(pk=s.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    with pytest.raises(services.LinkClosed) as closed:
        services.survey_answer(token=token, rating=5, will_continue="yes")
    assert closed.value.reason == "expired"
    s.refresh_from_db()
    assert s.status() == SurveyStatus.EXPIRED


def test_an_unsent_survey_takes_no_answer(completed, django_capture_on_commit_callbacks):
    _sent(completed, django_capture_on_commit_callbacks)
    unsent = _survey(completed.clients.order_by("pk")[2])
    with pytest.raises(services.LinkClosed):
        services.survey_answer(token=selectors.survey_token(unsent), rating=5, will_continue="yes")


def test_a_wrong_token_or_a_notices_token_opens_nothing(completed, django_capture_on_commit_callbacks):
    hc, s, token = _sent(completed, django_capture_on_commit_callbacks)
    for wrong in ["", "x" * 40, token[:-1], token + "0", "a" * 500]:
        assert selectors.survey_for_token(wrong) is None
        with pytest.raises(LookupError):
            services.survey_answer(token=wrong, rating=5, will_continue="yes")
    # The same client's notice (same nonce or not): its token is not the survey's.
    notice = ClientNotice.objects.get(handover_client=hc)
    assert selectors.survey_for_token(services.notice_token(notice)) is None
    assert selectors.notice_for_token(token) is None


def test_a_low_rating_or_a_no_notifies_the_receiver_and_the_supervisor(
    completed, people, django_capture_on_commit_callbacks
):
    hc, s, token = _sent(completed, django_capture_on_commit_callbacks)
    services.survey_answer(token=token, rating=2, will_continue="unsure", comment="交接后没人联系我们")
    told = Notification.objects.filter(title__contains="2/5")
    assert set(told.values_list("user_id", flat=True)) == {hc.receiver_id, people.supervisor.pk}
    assert told.first().body == "交接后没人联系我们"
    assert "tab=surveys" in told.first().url
    other = completed.clients.order_by("pk")[1]
    services.survey_answer(token=selectors.survey_token(_survey(other)), rating=5, will_continue="no")
    assert Notification.objects.filter(title__contains="5/5").count() == 2


def test_results_for_many_clients_in_one_query(
    completed, django_capture_on_commit_callbacks, django_assert_num_queries
):
    hc, s, token = _sent(completed, django_capture_on_commit_callbacks)
    services.survey_answer(token=token, rating=3, will_continue="yes", comment="还行")
    ids = list(completed.clients.values_list("pk", flat=True))
    with django_assert_num_queries(1):
        results = selectors.survey_results_for(ids + [999999])
    assert results[hc.pk].rating == 3 and results[hc.pk].status == "answered" and not results[hc.pk].low
    assert results[999999].status == "not_sent"
    assert selectors.survey_results_for([]) == {}


def test_the_template_refuses_an_unknown_placeholder():
    from django.core.exceptions import ValidationError

    t = ClientSurveyTemplate(short_text="{client} {nope}")
    with pytest.raises(ValidationError) as refused:
        t.full_clean()
    assert "short_text" in refused.value.message_dict


def test_the_scan_runs_in_constant_queries(completed):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clients.tests.factories import ClientFactory, ContactFactory
    from handover.models import HandoverClient

    def scan() -> int:
        ClientSurvey.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            services.surveys_send_due(now=_days_after(completed, 30))
        return len(queries)

    few = scan()
    hc = completed.clients.first()
    for _ in range(15):
        c = ClientFactory(owner=hc.receiver)
        ContactFactory(client=c, email="more@example.cn")
        HandoverClient.objects.create(handover=completed, client=c, receiver=hc.receiver, grade="C")
    assert scan() == few
