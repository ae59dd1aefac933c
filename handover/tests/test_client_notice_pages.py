"""The client notice in the pages: the "客户告知" tab and its actions, and the client's own answer page
(no login, only its own notice, rate-limited, logged)."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccessLog
from clients.models import Contact
from handover import services
from handover.models import ClientNotice, NoticeDelivery, State
from tests.walk import advance_to


@pytest.fixture(autouse=True)
def _outboxes(settings, monkeypatch):
    from handover.services import client_notices

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "handover.sms.LocmemSMSBackend"
    monkeypatch.setattr(client_notices.SENDER, "eager", lambda: False)


@pytest.fixture
def approved(handover):
    h = advance_to(handover, State.MATERIALS)
    Contact.objects.filter(client__in=[hc.client for hc in h.clients.all()]).update(email="buyer@example.cn")
    return h


def _sent(h, user, hc=None):
    hc = hc or h.clients.order_by("pk").first()
    services.notice_mark_sent(handover_client=hc, user=user, channel="paper")
    notice = ClientNotice.objects.get(handover_client=hc)
    return notice, services.notice_token(notice)


def _url(token):
    return reverse("handover:client_answer", args=[token])


# --- the client's page ---------------------------------------------------------------------------


def test_the_client_opens_their_notice_without_a_login_and_sees_only_their_own(client, approved, people):
    notice, token = _sent(approved, people.departing)
    other = approved.clients.exclude(pk=notice.handover_client_id).first()
    response = client.get(_url(token))
    assert response.status_code == 200
    body = response.content.decode()
    assert notice.handover_client.client.name in body
    assert people.receiver.display_name in body
    assert other.client.name not in body
    assert approved.number not in body
    assert 'id="answer-form"' in body
    # The site's strict policy holds here too: no inline script, no outside resource.
    assert "script-src 'self'" in response["Content-Security-Policy"]
    row = AccessLog.objects.get(action="client_answer")
    assert row.user is None and not row.refused and str(notice.pk) in row.detail
    assert token not in row.detail


def test_a_wrong_token_is_404_and_logged_as_refused(client, approved):
    assert client.get(_url("x" * 40)).status_code == 404
    assert AccessLog.objects.get(action="client_answer").refused


def test_the_client_confirms_and_the_link_then_says_so(client, approved, people):
    notice, token = _sent(approved, people.departing)
    response = client.post(_url(token), {"answer": "confirmed"})
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.answer == "confirmed"
    page = client.get(_url(token)).content.decode()
    assert 'id="answer-done"' in page and 'id="answer-form"' not in page


def test_answered_twice_is_refused(client, approved, people):
    notice, token = _sent(approved, people.departing)
    client.post(_url(token), {"answer": "confirmed"})
    response = client.post(_url(token), {"answer": "concern", "text": "换人"})
    assert response.status_code == 409
    assert 'id="answer-done"' in response.content.decode()
    notice.refresh_from_db()
    assert notice.answer == "confirmed" and notice.answer_text == ""


def test_an_expired_link_says_so_and_takes_no_answer(client, approved, people):
    notice, token = _sent(approved, people.departing)
    ClientNotice.objects.filter(pk=notice.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    assert 'id="answer-expired"' in client.get(_url(token)).content.decode()
    response = client.post(_url(token), {"answer": "confirmed"})
    assert response.status_code == 409
    notice.refresh_from_db()
    assert notice.answer == ""


def test_an_objection_without_words_keeps_the_choice_and_says_why_at_the_field(client, approved, people):
    notice, token = _sent(approved, people.departing)
    response = client.post(_url(token), {"answer": "other_contact", "text": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="text-error"' in body
    assert 'value="other_contact"' in body and "checked" in body
    notice.refresh_from_db()
    assert notice.answer == ""


def test_another_clients_token_cannot_answer_this_notice(client, approved, people):
    first, first_token = _sent(approved, people.departing)
    second_hc = approved.clients.exclude(pk=first.handover_client_id).first()
    second, _second_token = _sent(approved, people.departing, second_hc)
    client.post(_url(first_token), {"answer": "concern", "text": "不放心"})
    second.refresh_from_db()
    assert second.answer == ""
    first.refresh_from_db()
    assert first.answer == "concern"


def test_an_objection_through_the_page_reaches_the_supervisor_and_the_sample(client, approved, people):
    notice, token = _sent(approved, people.departing)
    client.post(_url(token), {"answer": "other_contact", "text": "希望换人"})
    notice.handover_client.refresh_from_db()
    assert notice.handover_client.in_sample
    assert people.supervisor.notifications.filter(body="希望换人").exists()


def test_the_rate_limit_answers_429_in_chinese(client, approved, people, settings):
    settings.CLIENT_ANSWER_RATE_PER_TOKEN = 3
    _notice, token = _sent(approved, people.departing)
    for _ in range(3):
        assert client.get(_url(token)).status_code == 200
    response = client.get(_url(token))
    assert response.status_code == 429
    assert "请求过于频繁" in response.content.decode()
    assert AccessLog.objects.filter(action="client_answer", refused=True).exists()


def test_the_rate_limit_by_address_stops_guessing_tokens(client, approved, settings):
    settings.CLIENT_ANSWER_RATE_PER_IP = 5
    codes = [client.get(_url(f"guess{i:035d}")).status_code for i in range(7)]
    assert codes[:5] == [404] * 5 and codes[5:] == [429, 429]


# --- the tab and its actions -----------------------------------------------------------------------


def _tab(h):
    return reverse("handover:detail", args=[h.pk]) + "?tab=notices"


def test_the_tab_before_the_stage_says_not_yet(login, handover, people):
    body = login(people.departing).get(_tab(handover)).content.decode()
    assert 'id="notices-not-yet"' in body and 'id="notices-email"' not in body


def test_the_tab_lists_each_client_with_its_status_and_the_short_text(login, approved, people):
    _sent(approved, people.departing)
    body = login(people.departing).get(_tab(approved)).content.decode()
    assert body.count('class="notice-row"') == approved.clients.count()
    assert 'data-status="sent"' in body and 'data-status="not_sent"' in body
    assert 'id="notices-email"' in body and "copy-sms" in body


def test_the_witness_sees_the_tab_but_no_buttons(login, approved, people):
    body = login(people.witness).get(_tab(approved)).content.decode()
    assert 'class="notice-row"' in body and 'id="notices-email"' not in body and "notice-mark" not in body


def test_the_departing_person_emails_every_client(login, approved, people):
    c = login(people.departing)
    response = c.post(reverse("handover:notices_email", args=[approved.pk]), {"version": approved.version})
    assert response.status_code == 302
    assert NoticeDelivery.objects.filter(channel="email").count() == approved.clients.count()


def test_the_supervisor_emails_the_ticked_clients_only(login, approved, people):
    hcs = list(approved.clients.order_by("pk")[:2])
    c = login(people.supervisor)
    c.post(
        reverse("handover:notices_email", args=[approved.pk]),
        {"version": approved.version, "clients": [hc.pk for hc in hcs]},
    )
    assert set(NoticeDelivery.objects.values_list("notice__handover_client", flat=True)) == {hc.pk for hc in hcs}


def test_the_witness_cannot_send(login, approved, people):
    c = login(people.witness)
    response = c.post(reverse("handover:notices_sms", args=[approved.pk]), {"version": approved.version})
    assert response.status_code == 302
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]
    assert not NoticeDelivery.objects.exists()


def test_an_outsider_gets_404(login, approved, people):
    c = login(people.other_sales)
    assert c.post(reverse("handover:notices_email", args=[approved.pk]), {"version": 1}).status_code == 404
    hc = approved.clients.first()
    assert c.get(reverse("handover:notice_letter", args=[approved.pk, hc.pk])).status_code == 404


def test_sending_before_the_plan_is_approved_is_refused(login, handover, people):
    c = login(people.departing)
    response = c.post(reverse("handover:notices_email", args=[handover.pk]), {"version": handover.version})
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]
    assert not ClientNotice.objects.exists()


def test_marked_sent_by_wechat(login, approved, people):
    hc = approved.clients.first()
    c = login(people.receiver)
    c.post(
        reverse("handover:notice_mark", args=[approved.pk, hc.pk]),
        {"version": approved.version, "channel": "wechat", "note": "已发微信"},
    )
    d = NoticeDelivery.objects.get()
    assert d.channel == "wechat" and d.created_by == people.receiver and d.sent_at


def test_the_letter_prints_for_the_receiver_not_for_the_witness(login, approved, people):
    hc = approved.clients.first()
    url = reverse("handover:notice_letter", args=[approved.pk, hc.pk])
    response = login(people.receiver).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert login(people.witness).get(url).status_code == 403


# --- the API -----------------------------------------------------------------------------------------


def _api(client, user, method, name, args=(), data=None):
    from accounts.tokens import api_token_create

    headers = {"HTTP_AUTHORIZATION": f"Token {api_token_create(user=user)[0]}"} if user else {}
    url = reverse(name, args=list(args))
    if method == "get":
        return client.get(url, **headers)
    return client.post(url, data or {}, content_type="application/json", **headers)


def test_api_lists_the_notices_and_gives_the_short_text_only_to_senders(client, approved, people):
    body = _api(client, people.receiver, "get", "api:notice-list", [approved.pk]).json()
    assert body["reached"] and len(body["rows"]) == approved.clients.count()
    assert all(len(r["short_text"]) <= 200 and r["short_text"] for r in body["rows"])
    witness = _api(client, people.witness, "get", "api:notice-list", [approved.pk]).json()
    assert {r["short_text"] for r in witness["rows"]} == {""}


def test_api_sends_and_refuses_before_the_stage_and_for_outsiders(client, handover, people):
    response = _api(client, people.departing, "post", "api:notices-send", [handover.pk], {"channel": "email"})
    assert response.status_code == 409
    h = advance_to(handover, State.MATERIALS)
    assert _api(client, people.witness, "post", "api:notices-send", [h.pk], {"channel": "sms"}).status_code == 403
    assert _api(client, people.other_sales, "post", "api:notices-send", [h.pk], {"channel": "sms"}).status_code == 404
    response = _api(client, people.receiver, "post", "api:notices-send", [h.pk], {"channel": "sms"})
    assert response.status_code == 202 and response.json()["clients"] == h.clients.count()


def test_api_answer_refuses_a_wrong_token_a_second_answer_and_too_many_requests(client, approved, people, settings):
    _notice, token = _sent(approved, people.departing)
    wrong = _api(client, None, "post", "api:notice-answer", data={"token": "y" * 40, "answer": "confirmed"})
    assert wrong.status_code == 404
    empty = _api(client, None, "post", "api:notice-answer", data={"token": token, "answer": "concern", "text": ""})
    assert empty.status_code == 400 and empty.json()["field"] == "text"
    ok = _api(client, None, "post", "api:notice-answer", data={"token": token, "answer": "confirmed"})
    assert ok.status_code == 200 and ok.json()["answer"] == "confirmed"
    again = _api(client, None, "post", "api:notice-answer", data={"token": token, "answer": "concern", "text": "x"})
    assert again.status_code == 409
    settings.CLIENT_ANSWER_RATE_PER_TOKEN = 1
    limited = _api(client, None, "post", "api:notice-answer", data={"token": token, "answer": "confirmed"})
    assert limited.status_code == 429
    assert AccessLog.objects.filter(action="client_answer", user=None).count() >= 4


def test_a_delivery_that_failed_every_try_says_so(login, approved, people):
    hc = approved.clients.order_by("pk").first()
    services.notices_send(handover=approved, user=people.departing, channel="email", handover_client_ids=[hc.pk])
    NoticeDelivery.objects.update(attempts=5, error="550 mailbox unavailable")
    body = login(people.departing).get(_tab(approved)).content.decode()
    assert "550 mailbox unavailable" in body and "text-bg-danger" in body


def test_the_timeline_names_the_sending_and_the_answer(login, approved, people, client):
    notice, token = _sent(approved, people.departing)
    client.post(_url(token), {"answer": "concern", "text": "担心交期"})
    url = reverse("handover:detail", args=[approved.pk]) + "?tab=timeline"
    body = login(people.supervisor).get(url).content.decode()
    assert "已发送客户告知函" in body and "纸质信函" in body
    assert "客户答复了告知函" in body and "提出顾虑" in body and "担心交期" in body


def test_a_cancelled_handover_closes_the_link(client, approved, people):
    _notice, token = _sent(approved, people.departing)
    services.handover_transition(handover=approved, name="cancel", user=people.hr, comment="员工撤回离职")
    response = client.post(_url(token), {"answer": "confirmed"})
    assert response.status_code == 409 and 'id="answer-expired"' in response.content.decode()
