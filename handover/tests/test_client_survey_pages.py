"""The client's satisfaction survey in the pages: the client's own survey page (no login, only its
own survey, rate-limited, logged, Chinese, input kept on an error), the handover's "客户满意度" tab,
the answers on the client's page, and the API (the results, and the anonymous answer)."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccessLog
from accounts.tokens import api_token_create
from clients.models import Contact
from handover import selectors, services
from handover.models import ClientSurvey, State
from notifications.models import Notification
from tests.walk import advance_to


@pytest.fixture(autouse=True)
def _outboxes(settings, monkeypatch):
    from handover.services import client_surveys

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "handover.sms.LocmemSMSBackend"
    monkeypatch.setattr(client_surveys.SENDER, "eager", lambda: False)


@pytest.fixture
def surveyed(handover):
    """A completed handover whose surveys went out (every client has a contact with an email)."""
    h = advance_to(handover, State.COMPLETED)
    h.refresh_from_db()
    Contact.objects.filter(client__in=[hc.client for hc in h.clients.all()]).update(email="buyer@example.cn")
    services.surveys_send_due(now=h.completed_at + datetime.timedelta(days=30, hours=1))
    return h


def _token(h, n=0):
    hc = h.clients.order_by("pk")[n]
    survey = ClientSurvey.objects.get(handover_client=hc)
    return survey, selectors.survey_token(survey)


def _url(token):
    return reverse("handover:client_survey", args=[token])


# --- the client's own page ------------------------------------------------------------------------


def test_the_page_opens_without_login_in_chinese_and_shows_only_this_client(client, surveyed):
    survey, token = _token(surveyed)
    other, _other_token = _token(surveyed, 1)
    response = client.get(_url(token))
    body = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    assert survey.handover_client.client.name in body
    assert other.handover_client.client.name not in body
    # Nothing of the site: no navigation, no handover number, no other client.
    assert surveyed.number not in body and "navbar" not in body and reverse("handover:list") not in body
    assert 'id="survey-form"' in body and "交接" in body
    for name in ('name="rating"', 'name="will_continue"', 'name="comment"'):
        assert name in body
    row = AccessLog.objects.get(action="client_survey")
    assert row.user is None and not row.refused and f"survey {survey.pk}" in row.detail


def test_an_answer_through_the_page(client, surveyed):
    survey, token = _token(surveyed)
    response = client.post(_url(token), {"rating": "5", "will_continue": "yes", "comment": "很好"})
    assert response.status_code == 302 and response["Location"] == _url(token)
    survey.refresh_from_db()
    assert (survey.rating, survey.will_continue, survey.comment) == (5, "yes", "很好")
    body = client.get(_url(token)).content.decode()
    assert 'id="survey-done"' in body and 'id="survey-form"' not in body


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rating": "6", "will_continue": "yes"}, "rating"),
        ({"rating": "0", "will_continue": "yes"}, "rating"),
        ({"will_continue": "yes", "comment": "留着"}, "rating"),
        ({"rating": "4", "will_continue": "perhaps"}, "will-continue"),
        ({"rating": "2", "will_continue": "no", "comment": ""}, "comment"),
    ],
)
def test_a_wrong_answer_is_refused_with_the_input_kept(client, surveyed, data, field):
    survey, token = _token(surveyed)
    response = client.post(_url(token), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert f'id="{field}-error"' in body
    if data.get("comment"):
        assert data["comment"] in body
    # The choices made are kept.
    if data.get("rating") == "2":
        assert re.search(r'<input type="radio" name="rating" value="2"[^>]* checked', body)
    if data.get("will_continue") == "no":
        assert re.search(r'<input type="radio" name="will_continue" value="no"[^>]* checked', body)
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_one_clients_link_answers_for_that_client_only(client, surveyed):
    survey, token = _token(surveyed)
    other, _other_token = _token(surveyed, 1)
    client.post(_url(token), {"rating": "5", "will_continue": "yes"})
    other.refresh_from_db()
    assert other.answered_at is None and other.rating is None
    # The other client's page is theirs, unanswered; this one's is answered.
    assert 'id="survey-form"' in client.get(_url(_other_token)).content.decode()


def test_the_messages_are_chinese(client, surveyed):
    _survey, token = _token(surveyed)
    body = client.post(_url(token), {"rating": "1", "will_continue": "no"}).content.decode()
    assert "请" in body and "Please" not in body


def test_an_answered_link_says_so_and_takes_no_second_answer(client, surveyed):
    survey, token = _token(surveyed)
    client.post(_url(token), {"rating": "4", "will_continue": "yes"})
    response = client.post(_url(token), {"rating": "1", "will_continue": "no", "comment": "改主意"})
    assert response.status_code == 409  # the page as it is: answered (the form is gone)
    assert 'id="survey-done"' in client.get(_url(token)).content.decode()
    survey.refresh_from_db()
    assert survey.rating == 4


def test_an_expired_link_says_so(client, surveyed):
    survey, token = _token(surveyed)
    ClientSurvey.objects.filter(pk=survey.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    body = client.get(_url(token)).content.decode()
    assert 'id="survey-expired"' in body and 'id="survey-form"' not in body
    response = client.post(_url(token), {"rating": "5", "will_continue": "yes"})
    assert response.status_code == 409
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_a_wrong_token_is_404_and_logged_refused(client, surveyed):
    survey, token = _token(surveyed)
    assert client.get(_url(token[:-1] + ("0" if token[-1] != "0" else "1"))).status_code == 404
    # The client notice's token of the same client opens no survey.
    notice = survey.handover_client.notice
    assert client.get(_url(services.notice_token(notice))).status_code == 404
    assert AccessLog.objects.filter(action="client_survey", refused=True).count() == 2


def test_the_rate_limit_answers_429_in_chinese(client, surveyed, settings):
    settings.CLIENT_ANSWER_RATE_PER_TOKEN = 3
    _survey, token = _token(surveyed)
    for _ in range(3):
        assert client.get(_url(token)).status_code == 200
    response = client.get(_url(token))
    assert response.status_code == 429 and "请求过于频繁" in response.content.decode()
    assert AccessLog.objects.filter(action="client_survey", refused=True, detail="rate limited").exists()


def test_a_low_rating_through_the_page_tells_the_receiver_and_the_supervisor(client, surveyed, people):
    survey, token = _token(surveyed)
    client.post(_url(token), {"rating": "1", "will_continue": "unsure", "comment": "没人联系"})
    told = set(Notification.objects.filter(body="没人联系").values_list("user_id", flat=True))
    assert told == {survey.handover_client.receiver_id, people.supervisor.pk}


# --- the tab, the client's page ------------------------------------------------------------------


def _tab(h):
    return reverse("handover:detail", args=[h.pk]) + "?tab=surveys"


def test_the_tab_before_completion_says_when(login, handover, people):
    body = login(people.supervisor).get(_tab(handover)).content.decode()
    assert 'id="surveys-not-yet"' in body


def test_the_tab_shows_each_clients_status_rating_and_comment(login, surveyed, people):
    survey, token = _token(surveyed)
    services.survey_answer(token=token, rating=2, will_continue="no", comment="服务变差")
    body = login(people.receiver).get(_tab(surveyed)).content.decode()
    assert f'id="survey-{survey.handover_client_id}" data-status="answered"' in body
    assert "2/5" in body and "服务变差" in body and 'data-status="sent"' in body


def test_the_departing_person_no_longer_reads_the_answers(login, surveyed, people):
    body = login(people.departing).get(_tab(surveyed)).content.decode()
    assert "survey-list" not in body


def test_the_clients_page_shows_its_answer(login, surveyed, people):
    survey, token = _token(surveyed)
    services.survey_answer(token=token, rating=4, will_continue="yes", comment="顺利")
    url = reverse("clients:detail", args=[survey.handover_client.client_id])
    body = login(people.receiver).get(url).content.decode()
    assert 'id="client-surveys"' in body and "4/5" in body and "顺利" in body
    other = surveyed.clients.order_by("pk")[1].client_id
    assert (
        'id="client-surveys"'
        not in login(people.receiver).get(reverse("clients:detail", args=[other])).content.decode()
    )


# --- the API --------------------------------------------------------------------------------------


def test_the_api_lists_the_results(client, surveyed, people):
    survey, token = _token(surveyed)
    services.survey_answer(token=token, rating=3, will_continue="unsure")
    key = api_token_create(user=people.supervisor)[0]
    data = client.get(reverse("api:survey-list", args=[surveyed.pk]), HTTP_AUTHORIZATION=f"Token {key}").json()
    assert data["completed"] is True and data["counts"]["answered"] == 1
    row = next(r for r in data["rows"] if r["id"] == survey.handover_client_id)
    assert row["result"]["rating"] == 3 and row["result"]["will_continue"] == "unsure"
    assert row["result"]["status"] == "answered"


def test_the_anonymous_api_answer(client, surveyed):
    survey, token = _token(surveyed)
    url = reverse("api:survey-answer")
    bad = client.post(url, {"token": token, "rating": 9, "will_continue": "yes"}, content_type="application/json")
    assert bad.status_code == 400
    low = client.post(url, {"token": token, "rating": 1, "will_continue": "no"}, content_type="application/json")
    assert low.status_code == 400 and "comment" in low.content.decode()
    ok = client.post(url, {"token": token, "rating": 4, "will_continue": "yes"}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["rating"] == 4
    again = client.post(url, {"token": token, "rating": 5, "will_continue": "yes"}, content_type="application/json")
    assert again.status_code == 409
    wrong = client.post(url, {"token": "x" * 40, "rating": 5, "will_continue": "yes"}, content_type="application/json")
    assert wrong.status_code == 404


def test_the_schema_lists_the_survey_endpoints(client, people):
    key = api_token_create(user=people.hr)[0]
    schema = client.get(reverse("api:schema") + "?format=json", HTTP_AUTHORIZATION=f"Token {key}").json()
    assert "/api/handovers/{id}/surveys/" in schema["paths"] and "/api/surveys/answer/" in schema["paths"]
