"""A client notice sent, then the client's receiver changed: the notice is outdated (it names a
receiver the client no longer has), the tab and the API say so, and it is sent again exactly once
per change, naming the new receiver. A notice still right is not sent twice by a channel.

The company's stage for the notices is set to the plan here: the plan is where receivers change.
"""

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from clients.models import Contact
from handover import services, sms
from handover.models import ClientNotice, ClientNoticeTemplate, NoticeDelivery, NoticeStatus, State
from handover.services import client_notices

OUTDATED_LABEL = "接收人已变更，需重新告知"


@pytest.fixture(autouse=True)
def _outboxes(settings, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "handover.sms.LocmemSMSBackend"
    sms.LocmemSMSBackend.outbox.clear()
    monkeypatch.setattr(client_notices.SENDER, "eager", lambda: False)


@pytest.fixture
def at_plan(handover):
    """A handover at the plan whose notices the company prepares at the plan; one client's contact has an email."""
    ClientNoticeTemplate.objects.create(prepare_at=State.PLAN)
    hc = _hc(handover)
    Contact.objects.filter(client=hc.client).update(email="buyer@example.cn", phone="13800000000")
    return handover


def _hc(h):
    return h.clients.select_related("client").order_by("pk").first()


def _notice(h) -> ClientNotice:
    return ClientNotice.objects.select_related("handover_client__handover").get(handover_client=_hc(h))


def _email(h, user):
    return services.notices_send(handover=h, user=user, channel="email", handover_client_ids=[_hc(h).pk])


def _change(h, user, receiver):
    services.handover_client_set_receiver(handover_client=_hc(h), user=user, receiver=receiver)


def _answer_url(notice):
    return reverse("handover:client_answer", args=[services.notice_token(notice)])


# --- outdated: when, and when not ----------------------------------------------------------------------


def test_a_receiver_changed_after_sending_makes_the_notice_outdated(at_plan, people, receiver2):
    _email(at_plan, people.departing)
    assert _notice(at_plan).status() == NoticeStatus.SENT
    _change(at_plan, people.departing, receiver2)
    notice = _notice(at_plan)
    assert notice.outdated() and notice.status() == NoticeStatus.OUTDATED
    assert notice.told_receiver == people.receiver


def test_a_receiver_changed_before_any_sending_outdates_nothing(at_plan, people, receiver2):
    services.notices_prepare(at_plan)
    _change(at_plan, people.departing, receiver2)
    assert _notice(at_plan).status() == NoticeStatus.NOT_SENT
    deliveries = _email(at_plan, receiver2)
    assert [d.receiver for d in deliveries] == [receiver2]
    assert _notice(at_plan).status() == NoticeStatus.SENT


def test_a_change_back_to_the_receiver_told_is_not_outdated(at_plan, people, receiver2):
    _email(at_plan, people.departing)
    _change(at_plan, people.departing, receiver2)
    _change(at_plan, people.departing, people.receiver)
    assert _notice(at_plan).status() == NoticeStatus.SENT


def test_its_senders_hear_that_it_is_outdated_and_the_one_who_changed_it_does_not(at_plan, people, receiver2):
    from notifications.models import Notification

    _email(at_plan, people.departing)
    _change(at_plan, people.supervisor, receiver2)
    told = Notification.objects.filter(handover=at_plan, title__contains="请重新告知")
    assert set(told.values_list("user__username", flat=True)) == {"departing", "receiver2"}
    assert f"告知函写的是{people.receiver.display_name}" in told.first().title


def test_a_change_before_any_sending_tells_nobody(at_plan, people, receiver2):
    from notifications.models import Notification

    services.notices_prepare(at_plan)
    _change(at_plan, people.supervisor, receiver2)
    assert not Notification.objects.filter(handover=at_plan, title__contains="请重新告知").exists()


# --- sent again, exactly once per change ---------------------------------------------------------------


def test_a_notice_not_outdated_is_not_sent_twice_by_a_channel(at_plan, people):
    _email(at_plan, people.departing)
    with pytest.raises(services.WrongState):
        _email(at_plan, people.supervisor)
    # With no client chosen (all the clients this person may send for) it is the same.
    with pytest.raises(services.WrongState):
        services.notices_send(handover=at_plan, user=people.departing, channel="email")
    assert NoticeDelivery.objects.count() == 1
    services.notice_mark_sent(handover_client=_hc(at_plan), user=people.departing, channel="wechat")
    with pytest.raises(services.WrongState):
        services.notice_mark_sent(handover_client=_hc(at_plan), user=people.departing, channel="wechat")
    assert NoticeDelivery.objects.count() == 2


def test_another_channel_a_new_contact_and_a_failed_sending_still_go(at_plan, people):
    first = _email(at_plan, people.departing)[0]
    # Another channel is not the same sending twice.
    assert services.notices_send(
        handover=at_plan, user=people.departing, channel="sms", handover_client_ids=[_hc(at_plan).pk]
    )
    # A contact with an address added since is reached, the one reached before is not.
    Contact.objects.create(client=_hc(at_plan).client, name="新联系人", email="new@example.cn")
    assert [d.recipient for d in _email(at_plan, people.departing)] == ["new@example.cn"]
    # A sending that failed every try can be sent again.
    NoticeDelivery.objects.filter(pk=first.pk).update(attempts=client_notices.MAX_ATTEMPTS, error="550")
    assert [d.recipient for d in _email(at_plan, people.departing)] == ["buyer@example.cn"]


def test_an_outdated_notice_is_sent_again_once_naming_the_new_receiver(at_plan, people, receiver2):
    _email(at_plan, people.departing)
    mail.outbox.clear()
    _change(at_plan, people.departing, receiver2)
    again = _email(at_plan, receiver2)
    assert [(d.recipient, d.receiver, d.round) for d in again] == [("buyer@example.cn", receiver2, 2)]
    notice = _notice(at_plan)
    assert notice.status() == NoticeStatus.SENT and notice.told_receiver == receiver2
    services.notice_deliver(delivery_id=again[0].pk)
    assert receiver2.display_name in mail.outbox[0].body
    # Once per change: the same sending a second time (another sender, or all clients) is refused.
    with pytest.raises(services.WrongState):
        _email(at_plan, people.supervisor)
    assert NoticeDelivery.objects.count() == 2
    # A second change is a new change: sent again once more.
    _change(at_plan, people.departing, people.receiver)
    assert _notice(at_plan).status() == NoticeStatus.OUTDATED
    assert [d.round for d in _email(at_plan, people.departing)] == [3]


def test_an_outdated_notice_marked_given_by_hand_is_told_again(at_plan, people, receiver2):
    services.notice_mark_sent(handover_client=_hc(at_plan), user=people.departing, channel="phone")
    _change(at_plan, people.departing, receiver2)
    d = services.notice_mark_sent(handover_client=_hc(at_plan), user=receiver2, channel="phone", note="已电话告知")
    assert (d.receiver, d.round) == (receiver2, 2)
    assert _notice(at_plan).status() == NoticeStatus.SENT


def test_the_old_receiver_can_no_longer_send_it(at_plan, people, receiver2):
    _email(at_plan, people.departing)
    _change(at_plan, people.departing, receiver2)
    with pytest.raises(services.NotAllowed):
        _email(at_plan, people.receiver)
    assert _notice(at_plan).status() == NoticeStatus.OUTDATED


# --- the client's answer and their link ----------------------------------------------------------------


def test_an_answer_about_the_earlier_receiver_is_asked_again_in_a_new_window(at_plan, people, receiver2):
    _email(at_plan, people.departing)
    services.notice_answer(token=services.notice_token(_notice(at_plan)), answer="confirmed")
    assert _notice(at_plan).status() == NoticeStatus.CONFIRMED
    _change(at_plan, people.departing, receiver2)
    assert _notice(at_plan).status() == NoticeStatus.OUTDATED
    # Far into the first window: sending again opens a whole new one.
    later = timezone.now() + datetime.timedelta(days=6)
    ClientNotice.objects.filter(pk=_notice(at_plan).pk).update(expires_at=later - datetime.timedelta(hours=1))
    _email(at_plan, receiver2)
    notice = _notice(at_plan)
    assert (notice.answer, notice.answered_at, notice.status()) == ("", None, NoticeStatus.SENT)
    assert notice.expires_at > later
    # The earlier answer stays on the timeline.
    assert at_plan.events.filter(kind="client_notice_answered", data__answer="confirmed").exists()
    services.notice_answer(token=services.notice_token(notice), answer="confirmed")
    assert _notice(at_plan).status() == NoticeStatus.CONFIRMED


def test_the_old_link_shows_the_receiver_now_and_says_it_changed(client, at_plan, people, receiver2):
    _email(at_plan, people.departing)
    url = _answer_url(_notice(at_plan))
    before = client.get(url).content.decode()
    assert people.receiver.display_name in before and 'id="contact-changed"' not in before
    _change(at_plan, people.departing, receiver2)
    after = client.get(url).content.decode()
    assert 'id="contact-changed"' in after
    assert receiver2.display_name in after and people.receiver.display_name not in after
    # The same link, sent again: it names the new receiver and no longer says it changed.
    _email(at_plan, receiver2)
    again = client.get(url).content.decode()
    assert receiver2.display_name in again and 'id="contact-changed"' not in again


def test_an_answer_on_the_page_after_the_change_is_about_the_receiver_it_showed(client, at_plan, people, receiver2):
    _email(at_plan, people.departing)
    services.notice_answer(token=services.notice_token(_notice(at_plan)), answer="confirmed")
    _change(at_plan, people.departing, receiver2)
    url = _answer_url(_notice(at_plan))
    assert 'id="answer-form"' in client.get(url).content.decode()
    client.post(url, {"answer": "confirmed"})
    notice = _notice(at_plan)
    assert notice.told_receiver == receiver2 and notice.status() == NoticeStatus.CONFIRMED
    # The client knows the receiver now: no sending again by the channel of this round.
    with pytest.raises(services.WrongState):
        _email(at_plan, receiver2)


def test_an_answered_notice_not_outdated_stays_answered(at_plan, people):
    _email(at_plan, people.departing)
    token = services.notice_token(_notice(at_plan))
    services.notice_answer(token=token, answer="confirmed")
    with pytest.raises(services.LinkClosed):
        services.notice_answer(token=token, answer="concern", text="x")


# --- the tab and the API -------------------------------------------------------------------------------


def test_the_tab_says_the_receiver_changed_and_names_who_was_told(login, at_plan, people, receiver2):
    _email(at_plan, people.departing)
    _change(at_plan, people.departing, receiver2)
    body = login(people.supervisor).get(reverse("handover:detail", args=[at_plan.pk]) + "?tab=notices")
    html = body.content.decode()
    assert OUTDATED_LABEL in html and 'data-status="outdated"' in html
    assert f"告知函写的是{people.receiver.display_name}" in html
    assert "客户的接收人变更后重新发送的告知函会写明新的接收人" in html


def test_the_tab_sends_it_again_and_refuses_a_second_time(login, at_plan, people, receiver2):
    _email(at_plan, people.departing)
    _change(at_plan, people.departing, receiver2)
    browser = login(receiver2)
    url = reverse("handover:notices_email", args=[at_plan.pk])
    at_plan.refresh_from_db()
    browser.post(url, {"version": at_plan.version, "clients": [_hc(at_plan).pk]})
    assert NoticeDelivery.objects.filter(receiver=receiver2).count() == 1
    at_plan.refresh_from_db()
    response = browser.post(url, {"version": at_plan.version, "clients": [_hc(at_plan).pk]}, follow=True)
    assert "已通过邮件向这些客户发出告知函" in response.content.decode()
    assert NoticeDelivery.objects.count() == 2


def _api(client, user, method, name, args, data=None):
    from accounts.tokens import api_token_create

    headers = {"HTTP_AUTHORIZATION": f"Token {api_token_create(user=user)[0]}"}
    url = reverse(name, args=args)
    if method == "get":
        return client.get(url, **headers)
    return client.post(url, data or {}, content_type="application/json", **headers)


def test_the_api_lists_it_outdated_and_sends_it_again_once(client, at_plan, people, receiver2):
    _email(at_plan, people.departing)
    _change(at_plan, people.departing, receiver2)
    rows = _api(client, people.supervisor, "get", "api:notice-list", [at_plan.pk]).json()["rows"]
    row = next(r for r in rows if r["handover_client"] == _hc(at_plan).pk)
    assert row["status"] == "outdated" and row["told_receiver"] == people.receiver.display_name
    assert [d["receiver"] for d in row["deliveries"]] == [people.receiver.display_name]
    body = {"channel": "email", "handover_clients": [_hc(at_plan).pk]}
    sent = _api(client, people.supervisor, "post", "api:notices-send", [at_plan.pk], body)
    assert sent.status_code == 202 and sent.json() == {"queued": 1, "clients": 1}
    again = _api(client, people.supervisor, "post", "api:notices-send", [at_plan.pk], body)
    assert again.status_code == 409 and set(again.json()) >= {"detail", "code"}
    rows = _api(client, people.supervisor, "get", "api:notice-list", [at_plan.pk]).json()["rows"]
    row = next(r for r in rows if r["handover_client"] == _hc(at_plan).pk)
    assert row["status"] == "sent" and row["told_receiver"] == receiver2.display_name


# --- the notices sent before the receiver was kept --------------------------------------------------


def test_the_migration_takes_the_receiver_now_for_notices_sent_before(at_plan, people):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("handover.migrations.0020_client_notice_told_receiver")
    _email(at_plan, people.departing)
    services.notices_prepare(at_plan)
    ClientNotice.objects.update(told_receiver=None, round=0)
    NoticeDelivery.objects.update(receiver=None, round=0)
    migration.told_as_now(apps, None)
    sent = _notice(at_plan)
    assert (sent.told_receiver, sent.round, sent.status()) == (people.receiver, 1, NoticeStatus.SENT)
    assert list(NoticeDelivery.objects.values_list("receiver", "round")) == [(people.receiver.pk, 1)]
    unsent = ClientNotice.objects.exclude(pk=sent.pk)
    assert unsent.exists() and set(unsent.values_list("told_receiver", "round")) == {(None, 0)}
