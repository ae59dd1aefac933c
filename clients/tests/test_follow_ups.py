"""添加跟进: the client's owner records a follow-up on the client page and through the API; it closes
the duties after a handover that it proves, in its transaction. Everyone else is refused."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AccessLog
from accounts.tokens import api_token_create
from clients.models import FollowUp, FollowUpKind
from clients.tests.factories import ClientFactory, ContactFactory
from handover.models import Duty, DutyKind, State
from tests.walk import advance_to


@pytest.fixture
def completed(handover):
    return advance_to(handover, State.COMPLETED)


@pytest.fixture
def received(completed, people):
    """A client the receiver got in the completed handover, with its contact."""
    client = completed.clients.first().client
    client.refresh_from_db()
    assert client.owner_id == people.receiver.pk
    return client


def _form(client, **overrides) -> dict:
    data = {
        "date": timezone.localdate().isoformat(),
        "kind": FollowUpKind.PHONE,
        "contact": client.contacts.first().pk,
        "content": "电话告知新对接人，客户表示认可。",
        "objections": "",
        "commitments": "下周寄送新报价单",
        "next_plan": "月内上门拜访",
    }
    return data | overrides


def _url(client) -> str:
    return reverse("clients:follow_up_add", args=[client.pk])


def _duty(h, client, kind) -> Duty:
    return Duty.objects.get(handover=h, client=client, kind=kind)


def _api(user):
    api = APIClient()
    token, _expiry = api_token_create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


# ---------------------------------------------------------------------------------------
# The page


def test_the_owner_records_a_call_which_closes_the_contact_duty_not_the_visit(completed, received, people, login):
    browser = login(people.receiver)
    page = browser.get(reverse("clients:detail", args=[received.pk])).content.decode()
    assert "添加跟进" in page and _url(received) in page
    response = browser.post(_url(received), _form(received))
    assert response.status_code == 302
    assert response["Location"] == reverse("clients:detail", args=[received.pk]) + "#follow-ups"
    f = FollowUp.objects.get(client=received)
    assert (f.kind, f.created_by, f.commitments) == (FollowUpKind.PHONE, people.receiver, "下周寄送新报价单")
    contact = _duty(completed, received, DutyKind.CONTACT_CLIENT)
    assert contact.done_at is not None and contact.done_by == people.receiver
    assert _duty(completed, received, DutyKind.VISIT_CLIENT).done_at is None
    # Only that client's duties: the receiver's other clients are still to contact.
    others = Duty.objects.filter(handover=completed, kind=DutyKind.CONTACT_CLIENT).exclude(client=received)
    assert others.exists() and not others.filter(done_at__isnull=False).exists()
    shown = browser.get(reverse("clients:detail", args=[received.pk])).content.decode()
    assert "电话告知新对接人" in shown


def test_a_visit_closes_both_the_visit_and_the_contact_duty(completed, received, people, login):
    login(people.receiver).post(_url(received), _form(received, kind=FollowUpKind.VISIT))
    assert _duty(completed, received, DutyKind.CONTACT_CLIENT).done_at is not None
    assert _duty(completed, received, DutyKind.VISIT_CLIENT).done_at is not None


def test_the_form_keeps_the_input_and_says_what_is_wrong(completed, received, people, login):
    browser = login(people.receiver)
    foreign = ContactFactory(client=ClientFactory(owner=people.receiver))
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    cases = [
        ({"date": tomorrow}, "日期不能晚于今天"),
        ({"contact": foreign.pk}, "该联系人不是此客户的联系人"),
        ({"content": ""}, "请填写与客户沟通的内容"),
        ({"date": "1899-12-31"}, "超出范围"),
    ]
    for change, message in cases:
        response = browser.post(_url(received), _form(received, **change))
        page = response.content.decode()
        assert response.status_code == 400, change
        assert message in page, (change, page[:3000])
        assert "下周寄送新报价单" in page  # the input is kept
    assert not FollowUp.objects.filter(client=received).exists()
    assert _duty(completed, received, DutyKind.CONTACT_CLIENT).done_at is None


def test_a_follow_up_dated_before_the_completion_closes_nothing(completed, received, people, login):
    before = (completed.completed_at.astimezone(timezone.get_current_timezone()).date()) - datetime.timedelta(days=1)
    login(people.receiver).post(_url(received), _form(received, date=before.isoformat(), kind=FollowUpKind.VISIT))
    assert FollowUp.objects.filter(client=received).exists()
    assert not Duty.objects.filter(handover=completed, client=received, done_at__isnull=False).exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("supervisor", 403),  # sees the client (their department's book) but does not talk to it for its owner
        ("manager", 403),  # sees every client, same
        ("hr", 403),
        ("departing", 404),  # the departed person's clients moved: no longer theirs to see
        ("witness", 404),  # the handover is over: nothing granted any more
        ("other_sales", 404),
    ],
)
def test_only_the_owner_records(completed, received, people, login, who, status):
    browser = login(getattr(people, who))
    assert browser.get(_url(received)).status_code == status
    assert browser.post(_url(received), _form(received)).status_code == status
    assert not FollowUp.objects.filter(client=received).exists()
    assert _duty(completed, received, DutyKind.CONTACT_CLIENT).done_at is None
    if status == 403:
        page = browser.get(reverse("clients:detail", args=[received.pk])).content.decode()
        assert _url(received) not in page


def test_refusals_are_logged(completed, received, people, login):
    login(people.other_sales).post(_url(received), _form(received))
    assert AccessLog.objects.filter(user=people.other_sales, refused=True, action=AccessLog.Action.VIEW_CLIENT).exists()


def test_the_departed_person_deactivated_cannot_even_log_in_to_record(completed, received, people, login):
    from handover import services

    services.handover_revoke_access(handover=completed, user=people.hr)
    people.departing.refresh_from_db()
    response = login(people.departing).post(_url(received), _form(received))
    assert response.status_code in (302, 403, 404)
    assert not FollowUp.objects.filter(client=received).exists()


def test_next_returns_to_the_duty_page_only_on_this_site(completed, received, people, login):
    browser = login(people.receiver)
    back = reverse("handover:duties")
    response = browser.post(_url(received), _form(received, next=back))
    assert response["Location"] == back
    response = browser.post(_url(received), _form(received, next="https://evil.example/"))
    assert response["Location"].startswith(reverse("clients:detail", args=[received.pk]))


def test_the_form_page_prefills_the_kind(completed, received, people, login):
    page = login(people.receiver).get(_url(received) + "?kind=visit").content.decode()
    assert 'value="visit" selected' in page
    assert received.contacts.first().name in page


# ---------------------------------------------------------------------------------------
# The API


def test_api_the_owner_records_and_lists(completed, received, people):
    api = _api(people.receiver)
    url = reverse("api:client-follow-ups", args=[received.pk])
    response = api.post(url, _form(received), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["duties_closed"] == 1
    assert body["follow_up"]["kind"] == "phone" and body["follow_up"]["created_by"]["id"] == people.receiver.pk
    assert _duty(completed, received, DutyKind.CONTACT_CLIENT).done_at is not None
    assert _duty(completed, received, DutyKind.VISIT_CLIENT).done_at is None
    listed = api.get(url).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["id"] for r in rows] == [body["follow_up"]["id"]]
    # The supervisor reads them (the client is in their department's book), logged as a client read.
    AccessLog.objects.all().delete()
    assert _api(people.supervisor).get(url).status_code == 200
    assert AccessLog.objects.filter(user=people.supervisor, action=AccessLog.Action.VIEW_CLIENT, refused=False).count()


def test_api_refuses_a_foreign_contact_and_a_future_date_in_the_error_shape(completed, received, people):
    api = _api(people.receiver)
    url = reverse("api:client-follow-ups", args=[received.pk])
    foreign = ContactFactory(client=ClientFactory(owner=people.receiver))
    response = api.post(url, _form(received, contact=foreign.pk), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["field"] == "contact" and "该联系人" in body["detail"]
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    body = api.post(url, _form(received, date=tomorrow), format="json").json()
    assert body["field"] == "date"
    body = api.post(url, _form(received, content=""), format="json").json()
    assert body["field"] == "content"
    assert not FollowUp.objects.filter(client=received).exists()


@pytest.mark.parametrize(("who", "status"), [("supervisor", 403), ("departing", 404), ("other_sales", 404)])
def test_api_others_are_refused(completed, received, people, who, status):
    url = reverse("api:client-follow-ups", args=[received.pk])
    response = _api(getattr(people, who)).post(url, _form(received), format="json")
    assert response.status_code == status
    assert response.json()["code"] in ("not_allowed", "not_found")
    assert not FollowUp.objects.filter(client=received).exists()
    if who != "supervisor":
        assert _api(getattr(people, who)).get(url).status_code == 404
    assert APIClient().get(url).status_code == 401


def test_api_refuses_a_body_that_is_not_an_object_of_plain_values(completed, received, people):
    api = _api(people.receiver)
    url = reverse("api:client-follow-ups", args=[received.pk])
    response = api.post(url, [_form(received)], format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    response = api.post(url, _form(received, content={"text": "x"}), format="json")
    assert response.status_code == 400 and response.json()["field"] == "content"
    assert not FollowUp.objects.filter(client=received).exists()
