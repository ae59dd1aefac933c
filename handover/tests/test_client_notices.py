"""The client notice (客户告知函): prepared at the company's stage, sent by email and SMS exactly once,
marked sent by hand, printed, and answered by the client through their own link."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from clients.models import Contact
from handover import selectors, services, sms
from handover.models import (
    SHORT_TEXT_MAX,
    ClientNotice,
    ClientNoticeTemplate,
    HandoverClient,
    NoticeDelivery,
    NoticeStatus,
    State,
)
from handover.services import client_links, client_notices
from notifications.models import Notification
from tests.walk import advance_to


@pytest.fixture(autouse=True)
def _outboxes(settings, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "handover.sms.LocmemSMSBackend"
    sms.LocmemSMSBackend.outbox.clear()
    # As with a broker: the task (run eagerly by the tests' Celery) rather than this process's thread.
    monkeypatch.setattr(client_notices.SENDER, "eager", lambda: False)


@pytest.fixture
def approved(handover):
    """A handover whose plan the manager approved (the default stage of the notices)."""
    h = advance_to(handover, State.MATERIALS)
    hc = h.clients.order_by("pk").first()
    Contact.objects.filter(client=hc.client).update(email="buyer@example.cn")
    return h


def _notice(h, hc=None) -> ClientNotice:
    hc = hc or h.clients.order_by("pk").first()
    return ClientNotice.objects.select_related("handover_client__handover").get(handover_client=hc)


def _send(h, user, channel="email", hcs=(), capture=None):
    return services.notices_send(handover=h, user=user, channel=channel, handover_client_ids=[hc.pk for hc in hcs])


# --- prepared at the stage -------------------------------------------------------------------


def test_not_prepared_before_the_plan_is_approved_and_sending_is_refused(handover, people):
    h = advance_to(handover, State.PLAN_APPROVAL)
    assert not ClientNotice.objects.exists()
    with pytest.raises(services.WrongState):
        services.notices_send(handover=h, user=people.departing, channel="email")
    with pytest.raises(services.WrongState):
        services.letters_pdf(handover=h, user=people.departing)
    assert not ClientNotice.objects.exists()


def test_prepared_for_every_client_once_the_plan_is_approved(approved):
    assert ClientNotice.objects.filter(handover_client__handover=approved).count() == approved.clients.count()
    assert {n.status() for n in ClientNotice.objects.all()} == {NoticeStatus.NOT_SENT}


def test_the_stage_is_the_companys(handover, people):
    ClientNoticeTemplate.objects.create(prepare_at=State.VISITS)
    h = advance_to(handover, State.MATERIALS)
    assert not ClientNotice.objects.exists()
    with pytest.raises(services.WrongState):
        services.notices_send(handover=h, user=people.departing, channel="email")
    h = advance_to(h, State.VISITS)
    assert ClientNotice.objects.count() == h.clients.count()


# --- the texts -------------------------------------------------------------------------------


def test_the_texts_name_the_new_contact_and_the_short_text_fits_200_characters(approved, people):
    notice = _notice(approved)
    texts = services.notice_texts(notice)
    assert people.receiver.display_name in texts.letter
    assert people.departing.display_name in texts.letter
    assert texts.link.endswith(selectors.notices.answer_path(notice))
    assert len(texts.short) <= SHORT_TEXT_MAX
    assert texts.link in texts.short


def test_a_long_short_text_is_cut_before_the_link(approved):
    ClientNoticeTemplate.objects.create(short_text="{client}" + "很长的话" * 60 + "{link}")
    notice = _notice(approved)
    texts = services.notice_texts(notice)
    assert len(texts.short) <= SHORT_TEXT_MAX
    assert texts.short.endswith(texts.link)


def test_an_unknown_placeholder_is_refused_in_the_admin():
    from django.core.exceptions import ValidationError

    template = ClientNoticeTemplate(short_text="{clent} {link}")
    with pytest.raises(ValidationError) as exc:
        template.full_clean()
    assert "short_text" in exc.value.message_dict


# --- who sends -------------------------------------------------------------------------------


def test_an_outsider_cannot_send(approved, people):
    for user in (people.other_sales, people.witness, people.manager, people.hr):
        with pytest.raises(services.NotAllowed):
            services.notices_send(handover=approved, user=user, channel="email")
    assert not NoticeDelivery.objects.exists()


def test_a_receiver_sends_only_for_their_own_clients(approved, people, receiver2):
    hc = approved.clients.order_by("pk").first()
    HandoverClient.objects.filter(pk=hc.pk).update(receiver=receiver2)
    with pytest.raises(services.NotAllowed):
        _send(approved, people.receiver, hcs=[hc])
    assert _send(approved, receiver2, hcs=[hc])


def test_a_client_of_another_handover_is_refused(approved, people, start):
    with pytest.raises(services.InvalidInput):
        services.notices_send(handover=approved, user=people.departing, channel="email", handover_client_ids=[999999])


# --- email and SMS: written now, sent after the commit, exactly once ----------------------------


def test_email_is_written_in_the_transaction_and_sent_after_the_commit(
    approved, people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliveries = _send(approved, people.departing)
    # Only the client whose contact has an address.
    assert [d.recipient for d in deliveries] == ["buyer@example.cn"]
    assert mail.outbox == []
    assert NoticeDelivery.objects.get().sent_at is None
    assert _notice(approved).status() == NoticeStatus.SENT
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["buyer@example.cn"]
    assert selectors.notices.answer_path(_notice(approved)) in message.body
    assert NoticeDelivery.objects.get().sent_at is not None


def test_a_delivery_is_sent_once_even_if_the_task_runs_twice(approved, people):
    from handover import tasks

    delivery = _send(approved, people.departing)[0]
    tasks.deliver_client_notice.apply(args=[delivery.pk])
    tasks.deliver_client_notice.apply(args=[delivery.pk])
    assert services.notice_deliver(delivery_id=delivery.pk) is False
    assert len(mail.outbox) == 1


def test_a_broker_outage_loses_nothing(approved, people, django_capture_on_commit_callbacks):
    def down(pk):
        raise ConnectionError("broker down")

    saved = client_notices.SENDER.queue
    client_notices.deliver_notices_with(down)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            delivery = _send(approved, people.departing)[0]
    finally:
        client_notices.SENDER.connect(saved)
    assert mail.outbox == []
    assert delivery.pk in client_notices.pending_delivery_ids()
    # The periodic scan queues it again.
    client_notices.queue_pending_now()
    assert len(mail.outbox) == 1
    assert client_notices.pending_delivery_ids() == []


def test_a_failing_channel_is_retried_and_counted(approved, people, settings):
    settings.EMAIL_BACKEND = "handover.tests.test_client_notices.FailingBackend"
    delivery = _send(approved, people.departing)[0]
    from handover import notify

    with pytest.raises(notify.DeliveryError):
        services.notice_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.sent_at is None and delivery.attempts == 1 and "refused" in delivery.error


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("smtp refused")


def test_sms_goes_through_the_pluggable_backend_at_most_200_characters(approved, people):
    hc = approved.clients.order_by("pk").first()
    deliveries = _send(approved, people.supervisor, channel="sms", hcs=[hc])
    for d in deliveries:
        services.notice_deliver(delivery_id=d.pk)
    assert sms.LocmemSMSBackend.outbox
    assert all(len(text) <= SHORT_TEXT_MAX for _phone, text in sms.LocmemSMSBackend.outbox)


def test_no_contact_with_an_address_is_refused(approved, people):
    hc = approved.clients.order_by("pk").last()
    with pytest.raises(services.InvalidInput):
        _send(approved, people.departing, hcs=[hc])


def test_marked_sent_by_hand(approved, people):
    hc = approved.clients.order_by("pk").last()
    d = services.notice_mark_sent(handover_client=hc, user=people.receiver, channel="wechat", note="发了微信")
    assert d.sent_at is not None and d.created_by == people.receiver
    assert _notice(approved, hc).status() == NoticeStatus.SENT
    with pytest.raises(services.InvalidInput):
        services.notice_mark_sent(handover_client=hc, user=people.receiver, channel="email")
    with pytest.raises(services.NotAllowed):
        services.notice_mark_sent(handover_client=hc, user=people.witness, channel="paper")


def test_the_letters_print_as_one_pdf(approved, people):
    data = services.letters_pdf(handover=approved, user=people.supervisor)
    assert data.startswith(b"%PDF")


# --- the client's answer -----------------------------------------------------------------------


def _sent_notice(h, user):
    hc = h.clients.order_by("pk").last()
    services.notice_mark_sent(handover_client=hc, user=user, channel="paper")
    return _notice(h, hc)


def test_confirmed(approved, people):
    notice = _sent_notice(approved, people.departing)
    services.notice_answer(token=services.notice_token(notice), answer="confirmed")
    notice.refresh_from_db()
    assert notice.status() == NoticeStatus.CONFIRMED
    assert not notice.handover_client.in_sample


def test_a_wrong_token_opens_nothing(approved):
    assert services.notice_for_token("0" * 40) is None
    with pytest.raises(LookupError):
        services.notice_answer(token="0" * 40, answer="confirmed")


def test_answered_twice_is_refused(approved, people):
    notice = _sent_notice(approved, people.departing)
    token = services.notice_token(notice)
    services.notice_answer(token=token, answer="confirmed")
    with pytest.raises(services.LinkClosed) as exc:
        services.notice_answer(token=token, answer="concern", text="换人")
    assert exc.value.reason == "answered"
    notice.refresh_from_db()
    assert notice.answer == "confirmed"


def test_an_expired_link_is_refused_and_shows_no_answer(approved, people):
    notice = _sent_notice(approved, people.departing)
    ClientNotice.objects.filter(pk=notice.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(services.LinkClosed) as exc:
        services.notice_answer(token=services.notice_token(notice), answer="confirmed")
    assert exc.value.reason == "expired"
    notice.refresh_from_db()
    assert notice.status() == NoticeStatus.NO_ANSWER


def test_a_link_never_sent_is_not_open(approved):
    notice = _notice(approved)
    with pytest.raises(services.LinkClosed):
        services.notice_answer(token=services.notice_token(notice), answer="confirmed")


def test_an_objection_notifies_the_supervisor_and_puts_the_client_in_the_sample(approved, people):
    notice = _sent_notice(approved, people.departing)
    services.notice_answer(token=services.notice_token(notice), answer="other_contact", text="希望换王经理")
    notice.refresh_from_db()
    assert notice.status() == NoticeStatus.OBJECTED
    assert HandoverClient.objects.get(pk=notice.handover_client_id).in_sample
    told = Notification.objects.filter(user=people.supervisor, handover=approved, body="希望换王经理")
    assert told.count() == 1
    assert "notices" in told.get().url


def test_an_objection_needs_words(approved, people):
    notice = _sent_notice(approved, people.departing)
    with pytest.raises(services.InvalidInput):
        services.notice_answer(token=services.notice_token(notice), answer="concern", text=" ")


def test_the_draw_stays_reproducible_with_the_objecting_client_added(approved, people):
    notice = _sent_notice(approved, people.departing)
    services.notice_answer(token=services.notice_token(notice), answer="concern", text="不放心")
    h = advance_to(approved, State.SPOT_CHECK)
    drawn = services.draw_sample(list(h.clients.all()), h.sample_seed)
    sampled = set(h.clients.filter(in_sample=True).values_list("pk", flat=True))
    assert sampled == drawn | {notice.handover_client_id}


def test_one_clients_token_answers_only_its_own_notice(approved, people):
    first = _sent_notice(approved, people.departing)
    other_hc = approved.clients.order_by("pk").first()
    services.notice_mark_sent(handover_client=other_hc, user=people.departing, channel="paper")
    services.notice_answer(token=services.notice_token(first), answer="confirmed")
    assert _notice(approved, other_hc).answer == ""


def test_without_a_broker_a_thread_sends_not_the_request(
    approved, people, monkeypatch, django_capture_on_commit_callbacks
):
    started = []

    class Thread:
        def __init__(self, target, args, **kwargs):
            started.append((target, args))

        def start(self):
            pass

    monkeypatch.setattr(client_notices.SENDER, "eager", lambda: True)
    monkeypatch.setattr(client_links.threading, "Thread", Thread)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = _send(approved, people.departing)[0]
    assert mail.outbox == []
    assert started == [(client_notices.SENDER.deliver_in_thread, ([delivery.pk],))]
