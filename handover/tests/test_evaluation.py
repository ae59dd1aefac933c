"""The handover's evaluation (交接评估): the supervisor's, once, from completion on; a duty due a
month after completion reminds them (issue 14, item 3)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tokens import api_token_create
from handover import selectors, services
from handover.models import EVALUATE_AFTER_DAYS, Duty, DutyKind, HandoverEvaluation, State
from tests.walk import advance_to

FORM = {"materials_score": "4", "feedback_score": "5", "adaptation_score": "3", "comment": "材料齐全，客户反馈良好。"}


@pytest.fixture
def done(start):
    return advance_to(start(), State.COMPLETED)


def _duty(h) -> Duty:
    return Duty.objects.get(handover=h, kind=DutyKind.EVALUATE_HANDOVER)


def test_completion_asks_the_supervisor_to_evaluate_a_month_later(done, people):
    duty = _duty(done)
    assert duty.assignee_id == people.supervisor.pk and duty.client_id is None
    assert duty.due_on == timezone.localdate(done.completed_at) + datetime.timedelta(days=EVALUATE_AFTER_DAYS)
    assert duty.done_at is None
    # It is on the supervisor's to-do, leading to the form, and on the duty page with the link.
    entries = [e for e in selectors.inbox_for(people.supervisor) if e.handover.pk == done.pk]
    assert [e.link for e in entries] == [reverse("handover:outcomes", args=[done.pk]) + "#evaluation"]
    assert not [e for e in selectors.inbox_for(people.receiver) if "evaluation" in e.link]


def test_the_duty_page_links_the_supervisor_to_the_form(done, people, login):
    html = login(people.supervisor).get(reverse("handover:duties")).content.decode()
    assert f'id="handover-{done.pk}-evaluate_handover"' in html and "evaluate-link" in html
    html = login(people.manager).get(reverse("handover:duties")).content.decode()
    assert f'id="handover-{done.pk}-evaluate_handover"' in html and "evaluate-link" not in html


def test_the_supervisor_evaluates_once_and_the_duty_closes(done, people, login):
    browser = login(people.supervisor)
    page = browser.get(reverse("handover:outcomes", args=[done.pk])).content.decode()
    assert "evaluation-form" in page
    response = browser.post(reverse("handover:evaluate", args=[done.pk]), FORM)
    assert response.status_code == 302 and response["Location"].endswith("#evaluation")
    e = HandoverEvaluation.objects.get(handover=done)
    assert (e.materials_score, e.feedback_score, e.adaptation_score) == (4, 5, 3)
    assert e.evaluated_by == people.supervisor
    duty = _duty(done)
    assert duty.done_at is not None and duty.done_by == people.supervisor
    page = browser.get(reverse("handover:outcomes", args=[done.pk])).content.decode()
    assert 'data-evaluated="true"' in page and "材料齐全" in page and "evaluation-form" not in page
    # A second evaluation is refused; the first stays.
    again = browser.post(reverse("handover:evaluate", args=[done.pk]), {**FORM, "comment": "改主意了"})
    assert again.status_code == 302
    assert HandoverEvaluation.objects.get(handover=done).comment == FORM["comment"]


@pytest.mark.parametrize(
    ("who", "status"),
    [("receiver", 403), ("manager", 403), ("hr", 403), ("witness", 403), ("departing", 403), ("other_sales", 404)],
)
def test_nobody_but_the_supervisor_evaluates(done, people, login, who, status):
    response = login(getattr(people, who)).post(reverse("handover:evaluate", args=[done.pk]), FORM)
    assert response.status_code == status
    assert not HandoverEvaluation.objects.filter(handover=done).exists()
    assert _duty(done).done_at is None


def test_not_before_completion(start, people, login):
    h = advance_to(start(), State.REPORT_APPROVAL)
    browser = login(people.supervisor)
    response = browser.post(reverse("handover:evaluate", args=[h.pk]), FORM)
    assert response.status_code == 302
    assert not HandoverEvaluation.objects.exists()
    with pytest.raises(services.WrongState):
        services.handover_evaluate(
            handover=h, user=people.supervisor, materials=4, feedback=4, adaptation=4, comment="太早"
        )


def test_a_refused_form_keeps_what_was_typed(done, people, login):
    browser = login(people.supervisor)
    response = browser.post(
        reverse("handover:evaluate", args=[done.pk]),
        {"materials_score": "2", "feedback_score": "", "adaptation_score": "9", "comment": ""},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-field="feedback_score"' in html and 'data-field="adaptation_score"' in html
    assert 'data-field="comment"' in html
    assert 'name="materials_score" id="id_materials_score_1" value="2" checked' in html
    assert not HandoverEvaluation.objects.exists()
    # Only the comment missing: the scores come back chosen.
    response = browser.post(reverse("handover:evaluate", args=[done.pk]), {**FORM, "comment": "   "})
    assert response.status_code == 400
    assert 'value="5" checked' in response.content.decode()


def test_the_service_refuses_a_score_out_of_range(done, people):
    with pytest.raises(services.InvalidInput) as refused:
        services.handover_evaluate(
            handover=done, user=people.supervisor, materials=6, feedback=4, adaptation=4, comment="好"
        )
    assert refused.value.field == "materials_score"


def _api(client, user, method, url, body=None):
    token = api_token_create(user=user)[0]
    kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
    return getattr(client, method)(url, HTTP_AUTHORIZATION=f"Token {token}", **kwargs)


def test_the_api_evaluates_for_the_supervisor_only(done, people, client):
    url = reverse("api:handover-evaluation", args=[done.pk])
    state = _api(client, people.supervisor, "get", url).json()
    assert state["evaluation"] is None and state["may_evaluate"] is True and state["due_on"]
    assert _api(client, people.receiver, "get", url).json()["may_evaluate"] is False
    body = {"materials_score": 4, "feedback_score": 5, "adaptation_score": 3, "comment": "良好"}
    assert _api(client, people.receiver, "post", url, body).status_code == 403
    assert _api(client, people.departing, "post", url, body).status_code == 403
    bad = _api(client, people.supervisor, "post", url, {**body, "feedback_score": 0})
    assert bad.status_code == 400 and bad.json()["field"] == "feedback_score"
    assert not HandoverEvaluation.objects.exists()
    done_ = _api(client, people.supervisor, "post", url, body)
    assert done_.status_code == 201 and done_.json()["evaluation"]["feedback_score"] == 5
    again = _api(client, people.supervisor, "post", url, body)
    assert again.status_code == 409 and again.json()["code"] == "conflict"
