"""The JSON API: the same procedure as the pages, refused to the same people, in JSON."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from accounts.tokens import api_token_create
from clients.tests.factories import ClientFactory
from handover.models import CallResult, Event, Handover, IdempotencyKey, ItemStatus, PhoneCheck, State, Visit, VisitMode
from handover.tests.risk_helpers import calm
from tests.walk import advance_to, do_stage_work


@pytest.fixture
def api(db):
    """api(user) -> an API client sending that user's token; api() -> an anonymous one."""

    def _api(user=None):
        client = APIClient()
        if user is not None:
            token, _expiry = api_token_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return _api


@pytest.fixture
def other_handover(people, start):
    """A second handover, in department north, with one client."""
    north_receiver = UserFactory(
        username="north_receiver", department=people.north, supervisor=people.other_supervisor, roles=[Role.SALES]
    )
    ClientFactory(owner=people.other_sales, grade="B")
    return start(departing=people.other_sales, receiver=north_receiver)


def url(h, rest=""):
    return f"/api/handovers/{h.pk}/{rest}"


def error(response, status, code, field=None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"].strip()
    if field is not None:
        assert body.get("field") == field, body
    return body


def fresh(h) -> Handover:
    return Handover.objects.get(pk=h.pk)


# ---------------------------------------------------------------------------------------
# Authentication


def test_it_issues_a_token_that_opens_the_api(api, people, password, handover):
    response = api().post("/api/auth/token/", {"username": "departing", "password": password}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/handovers/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [handover.pk]


def test_it_refuses_a_token_for_a_wrong_password(api, people):
    response = api().post("/api/auth/token/", {"username": "departing", "password": "wrong"}, format="json")
    body = error(response, 400, "invalid")
    assert "token" not in body


def test_it_issues_a_token_to_a_browser_that_is_logged_in_without_csrf(people, password):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(people.receiver)
    response = client.post("/api/auth/token/", {"username": "departing", "password": password}, format="json")
    assert response.status_code == 200 and response.json()["token"]


@pytest.mark.parametrize(
    "method, path",
    [("get", "/api/handovers/"), ("get", "/api/handovers/1/"), ("post", "/api/handovers/1/transitions/submit_plan/")],
)
def test_it_answers_401_in_json_without_a_token_never_a_redirect(api, db, method, path):
    response = getattr(api(), method)(path)
    error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Token")


def test_it_refuses_an_unknown_token(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    error(client.get("/api/handovers/"), 401, "not_authenticated")


def test_it_accepts_a_session_and_still_checks_csrf_on_writes(people, handover):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(people.departing)
    assert client.get(url(handover)).status_code == 200
    error(client.post(url(handover, "transitions/submit_plan/"), {}, format="json"), 403, "not_allowed")


# ---------------------------------------------------------------------------------------
# Visibility


@pytest.mark.parametrize(
    "role, sees_a, sees_b",
    [
        ("departing", True, False),
        ("receiver", True, False),
        ("supervisor", True, False),
        ("witness", True, True),  # the witness of both
        ("manager", True, True),
        ("hr", True, True),
        ("other_supervisor", False, True),
        ("other_sales", False, True),
        ("admin", False, False),
    ],
)
def test_the_list_shows_only_visible_handovers(api, people, handover, other_handover, role, sees_a, sees_b):
    response = api(getattr(people, role)).get("/api/handovers/")
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {h.pk for h, seen in [(handover, sees_a), (other_handover, sees_b)] if seen}


def test_a_receiver_of_one_client_sees_the_handover(api, people, handover, receiver2, book):
    client = api(receiver2)
    assert client.get("/api/handovers/").json()["count"] == 0
    error(client.get(url(handover)), 404, "not_found")
    hc = handover.clients.get(client=book[0])
    response = api(people.departing).patch(url(handover, f"clients/{hc.pk}/"), {"receiver": receiver2.pk})
    assert response.status_code == 200
    assert client.get(url(handover)).status_code == 200


@pytest.mark.parametrize(
    "method, rest",
    [
        ("get", ""),
        ("get", "items/"),
        ("get", "visits/"),
        ("get", "phone-checks/"),
        ("get", "report/"),
        ("get", "events/"),
        ("post", "transitions/cancel/"),
        ("post", "items/confirm-all/"),
        ("put", "report/"),
    ],
)
def test_an_outsider_gets_404_for_everything(api, people, handover, method, rest):
    response = getattr(api(people.other_sales), method)(url(handover, rest), {"comment": "x"}, format="json")
    error(response, 404, "not_found")


def test_the_list_filters_by_state(api, people, handover, other_handover):
    advance_to(other_handover, State.MATERIALS)
    client = api(people.hr)
    assert [r["id"] for r in client.get("/api/handovers/?state=plan").json()["results"]] == [handover.pk]
    assert [r["id"] for r in client.get("/api/handovers/?state=materials").json()["results"]] == [other_handover.pk]
    error(client.get("/api/handovers/?state=bogus"), 400, "invalid", field="state")


def test_the_list_costs_the_same_queries_for_more_handovers(api, people, handover, other_handover):
    client = api(people.hr)
    with CaptureQueriesContext(connection) as two:
        assert client.get("/api/handovers/").json()["count"] == 2
    other_handover.delete()
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/handovers/").json()["count"] == 1
    assert len(two) == len(one)


# ---------------------------------------------------------------------------------------
# The handover and its transitions


def test_the_detail_shows_people_state_clients_and_deadlines(api, people, handover, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = api(people.departing).get(url(handover))
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == handover.number
    assert body["state"] == "plan" and body["state_display"]
    assert body["version"] == handover.version
    assert body["departing"] == {"id": people.departing.pk, "name": "李离职"}
    assert {body[k]["id"] for k in ("receiver", "supervisor", "witness", "manager", "started_by")} == {
        people.receiver.pk,
        people.supervisor.pk,
        people.witness.pk,
        people.manager.pk,
        people.hr.pk,
    }
    assert body["reason"] == "resignation" and body["notice_date"] and body["last_working_day"]
    assert len(body["clients"]) == 10
    first = body["clients"][0]
    assert {"id", "client", "grade", "receiver", "current_status", "risks", "next_steps", "planned_visit_on"} <= set(
        first
    )
    assert len(body["deadlines"]) == 11
    # The plan is still empty: the departing person can't submit it yet.
    assert body["available_transitions"] == []


@pytest.mark.parametrize(
    "role, expected",
    [
        ("departing", ["submit_plan"]),
        ("receiver", []),
        ("supervisor", []),
        ("witness", []),
        ("manager", ["cancel"]),
        ("hr", ["cancel"]),
    ],
)
def test_available_transitions_depend_on_who_asks(api, people, handover, role, expected):
    do_stage_work(handover)  # fill in the plan
    response = api(getattr(people, role)).get(url(handover))
    assert response.json()["available_transitions"] == expected


def test_the_right_person_runs_a_transition(api, people, handover):
    do_stage_work(handover)
    h = fresh(handover)
    response = api(people.departing).post(url(h, "transitions/submit_plan/"), {"version": h.version}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "plan_review" and body["version"] == h.version + 1
    assert fresh(h).state == State.PLAN_REVIEW
    assert Event.objects.filter(handover=h, kind="transition", data__name="submit_plan").exists()
    # Now it is the supervisor's turn.
    assert api(people.supervisor).get(url(h)).json()["available_transitions"] == [
        "approve_plan_review",
        "return_plan_review",
    ]


def test_a_wrong_person_is_refused(api, people, handover):
    do_stage_work(handover)
    before = fresh(handover)
    error(api(people.receiver).post(url(handover, "transitions/submit_plan/")), 403, "not_allowed")
    after = fresh(handover)
    assert (after.state, after.version) == (before.state, before.version)


def test_a_step_of_another_state_is_409(api, people, handover):
    error(api(people.manager).post(url(handover, "transitions/approve_plan/")), 409, "wrong_state")


def test_a_stale_version_is_409_conflict(api, people, handover):
    do_stage_work(handover)
    h = fresh(handover)
    response = api(people.departing).post(url(h, "transitions/submit_plan/"), {"version": h.version - 1}, format="json")
    error(response, 409, "conflict")
    assert fresh(h).state == State.PLAN


def test_a_return_needs_a_comment(api, people, handover):
    h = advance_to(handover, State.PLAN_REVIEW)
    client = api(people.supervisor)
    error(client.post(url(h, "transitions/return_plan_review/"), {}, format="json"), 400, "invalid", field="comment")
    assert fresh(h).state == State.PLAN_REVIEW
    response = client.post(url(h, "transitions/return_plan_review/"), {"comment": "风险写得太笼统"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "plan" and response.json()["last_return_reason"] == "风险写得太笼统"


def test_an_unmet_condition_is_400_with_what_is_missing(api, people, handover):
    error(api(people.departing).post(url(handover, "transitions/submit_plan/")), 400, "invalid")


def test_an_unknown_transition_is_400(api, people, handover):
    error(api(people.departing).post(url(handover, "transitions/fly_away/")), 400, "invalid")


def test_a_bad_version_is_a_field_error(api, people, handover):
    response = api(people.departing).post(url(handover, "transitions/submit_plan/"), {"version": "x"}, format="json")
    body = error(response, 400, "invalid", field="version")
    assert body["errors"]["version"]


# ---------------------------------------------------------------------------------------
# Starting a handover


def _new_handover_body(people, **overrides):
    today = timezone.localdate()
    body = {
        "departing": people.departing.pk,
        "receiver": people.receiver.pk,
        "witness": people.witness.pk,
        "manager": people.manager.pk,
        "reason": "transfer",
        "notice_date": str(today),
        "last_working_day": str(today + datetime.timedelta(days=30)),
    }
    body.update(overrides)
    return body


def test_hr_starts_a_handover(api, people, book):
    response = api(people.hr).post("/api/handovers/", _new_handover_body(people), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "plan" and body["number"].startswith("JJ")
    assert body["supervisor"]["id"] == people.supervisor.pk  # the departing person's own
    assert body["started_by"]["id"] == people.hr.pk
    assert len(body["clients"]) == len(book)
    assert Handover.objects.get(pk=body["id"]).reason == "transfer"


def test_a_salesperson_may_not_start_a_handover(api, people, book):
    response = api(people.other_sales).post("/api/handovers/", _new_handover_body(people), format="json")
    error(response, 403, "not_allowed")
    assert not Handover.objects.exists()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"receiver": "witness"}, "receiver"),  # not a salesperson
        ({"manager": "departing"}, "manager"),  # the departing person approving their own
        ({"receiver": 999999}, "receiver"),  # no such person
        ({"reason": "holiday"}, "reason"),
        ({"last_working_day": "2000-01-01"}, "last_working_day"),
        ({"notice_date": None}, "notice_date"),
    ],
)
def test_starting_with_invalid_input_is_400_with_the_field(api, people, book, overrides, field):
    overrides = {
        k: getattr(people, v).pk if isinstance(v, str) and hasattr(people, v) else v for k, v in overrides.items()
    }
    response = api(people.hr).post("/api/handovers/", _new_handover_body(people, **overrides), format="json")
    error(response, 400, "invalid", field=field)
    assert not Handover.objects.exists()


def test_starting_without_a_field_names_it(api, people, book):
    body = _new_handover_body(people)
    del body["witness"]
    error(api(people.hr).post("/api/handovers/", body, format="json"), 400, "invalid", field="witness")


# ---------------------------------------------------------------------------------------
# The plan: clients and their receivers


def test_the_departing_person_fills_in_the_plan_field_by_field(api, people, handover):
    hc = handover.clients.first()
    client = api(people.departing)
    response = client.patch(url(handover, f"clients/{hc.pk}/"), {"risks": "竞品接触"}, format="json")
    assert response.status_code == 200
    response = client.patch(
        url(handover, f"clients/{hc.pk}/"), {"current_status": "正常", "planned_visit_on": None}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["risks"], body["current_status"], body["planned_visit_on"]) == ("竞品接触", "正常", None)
    assert client.get(url(handover, f"clients/{hc.pk}/")).json()["risks"] == "竞品接触"


def test_changing_the_receiver_moves_the_clients_items(api, people, handover, receiver2):
    hc = handover.clients.first()
    response = api(people.supervisor).patch(url(handover, f"clients/{hc.pk}/"), {"receiver": receiver2.pk})
    assert response.status_code == 200
    assert response.json()["receiver"]["id"] == receiver2.pk
    assert set(hc.items.values_list("receiver", flat=True)) == {receiver2.pk}


def test_a_plan_change_with_a_bad_receiver_changes_nothing(api, people, handover):
    hc = handover.clients.first()
    risks_before = hc.risks  # prefilled from the book at the start
    before = fresh(handover).version
    response = api(people.departing).patch(
        url(handover, f"clients/{hc.pk}/"), {"risks": "新风险", "receiver": people.witness.pk}, format="json"
    )
    error(response, 400, "invalid", field="receiver")
    hc.refresh_from_db()
    assert hc.risks == risks_before != "新风险" and fresh(handover).version == before


def test_plan_refusals(api, people, handover):
    hc = handover.clients.first()
    path = url(handover, f"clients/{hc.pk}/")
    error(api(people.receiver).patch(path, {"risks": "x"}, format="json"), 403, "not_allowed")
    error(api(people.departing).patch(path, {}, format="json"), 400, "invalid")
    late = str(handover.last_working_day + datetime.timedelta(days=1))
    error(
        api(people.departing).patch(path, {"planned_visit_on": late}, format="json"),
        400,
        "invalid",
        field="planned_visit_on",
    )
    h = advance_to(handover, State.PLAN_REVIEW)
    error(api(people.departing).patch(url(h, f"clients/{hc.pk}/"), {"risks": "x"}, format="json"), 409, "wrong_state")


# ---------------------------------------------------------------------------------------
# Materials


@pytest.fixture
def at_materials(handover):
    return advance_to(handover, State.MATERIALS)


def test_items_are_listed(api, people, at_materials):
    response = api(people.receiver).get(url(at_materials, "items/"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == at_materials.items.count() == 42
    assert body["results"][0]["status"] == "pending" and body["results"][0]["receiver"]["id"] == people.receiver.pk


def test_items_are_handed_over_confirmed_and_disputed(api, people, at_materials):
    h = at_materials
    one, two = h.items.all()[:2]
    departing, receiver = api(people.departing), api(people.receiver)
    for item in (one, two):
        response = departing.post(url(h, f"items/{item.pk}/hand-over/"), {"note": "原件已交"}, format="json")
        assert response.status_code == 200 and response.json()["status"] == "handed_over"

    response = receiver.post(url(h, f"items/{one.pk}/confirm/"))
    assert response.status_code == 200 and response.json()["status"] == "confirmed"

    error(receiver.post(url(h, f"items/{two.pk}/dispute/"), {"reason": " "}, format="json"), 400, "invalid", "reason")
    response = receiver.post(url(h, f"items/{two.pk}/dispute/"), {"reason": "缺少附件"}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["dispute_reason"]) == ("disputed", "缺少附件")

    # Already confirmed: a second confirmation is the wrong state for the item.
    error(receiver.post(url(h, f"items/{one.pk}/confirm/")), 409, "wrong_state")


def test_only_the_receiver_confirms_or_disputes(api, people, at_materials):
    h = at_materials
    item = h.items.first()
    api(people.departing).post(url(h, f"items/{item.pk}/hand-over/"))
    error(api(people.departing).post(url(h, f"items/{item.pk}/confirm/")), 403, "not_allowed")
    error(
        api(people.supervisor).post(url(h, f"items/{item.pk}/dispute/"), {"reason": "x"}, format="json"),
        403,
        "not_allowed",
    )
    error(api(people.receiver).post(url(h, f"items/{item.pk}/hand-over/")), 403, "not_allowed")
    item.refresh_from_db()
    assert item.status == ItemStatus.HANDED_OVER


def test_hand_over_all_and_confirm_all(api, people, at_materials, password):
    h = at_materials
    assert api(people.departing).post(url(h, "items/hand-over-all/")).json() == {"count": 42}
    assert api(people.receiver).post(url(h, "items/confirm-all/")).json() == {"count": 42}
    error(api(people.receiver).post(url(h, "items/confirm-all/")), 400, "invalid")
    # Everything confirmed, but the receiver has not signed the receipt yet.
    error(api(people.departing).post(url(h, "transitions/submit_materials/")), 400, "invalid")
    sign = {"purpose": "materials_receipt", "method": "typed", "typed_name": people.receiver.full_name}
    assert api(people.receiver).post(url(h, "signatures/"), {**sign, "password": password}).status_code == 201
    response = api(people.departing).post(url(h, "transitions/submit_materials/"))
    assert response.status_code == 200 and response.json()["state"] == "materials_review"


def test_items_before_the_materials_stage_are_409(api, people, handover):
    item = handover.items.first()
    error(api(people.departing).post(url(handover, f"items/{item.pk}/hand-over/")), 409, "wrong_state")


def test_objects_of_another_handover_are_404(api, people, handover, other_handover):
    item = other_handover.items.first()
    hc = other_handover.clients.first()
    hr = api(people.hr)
    error(hr.post(url(handover, f"items/{item.pk}/confirm/")), 404, "not_found")
    error(hr.post(url(handover, f"items/{item.pk}/dispute/"), {"reason": "x"}, format="json"), 404, "not_found")
    error(hr.post(url(handover, f"items/{item.pk}/hand-over/")), 404, "not_found")
    error(hr.get(url(handover, f"clients/{hc.pk}/")), 404, "not_found")
    error(hr.patch(url(handover, f"clients/{hc.pk}/"), {"risks": "x"}, format="json"), 404, "not_found")
    error(hr.post(url(handover, "visits/999999/confirm/")), 404, "not_found")


# ---------------------------------------------------------------------------------------
# Joint visits


@pytest.fixture
def at_visits(handover):
    return advance_to(handover, State.VISITS)


def _visit_body(hc, **overrides):
    body = {
        "handover_client": hc.pk,
        "visited_on": str(timezone.localdate() - datetime.timedelta(days=1)),
        "mode": VisitMode.IN_PERSON,
        "contact_met": "王采购",
        "outcome": "介绍了新对接人",
        "concerns": "价格",
    }
    body.update(overrides)
    return body


def test_a_visit_is_recorded_by_one_and_confirmed_by_the_other(api, people, at_visits):
    h = at_visits
    hc = h.clients.first()
    response = api(people.departing).post(url(h, "visits/"), _visit_body(hc), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["departing_confirmed_at"] and not body["receiver_confirmed_at"] and not body["is_confirmed"]
    assert body["recorded_by"]["id"] == people.departing.pk

    error(api(people.departing).post(url(h, f"visits/{body['id']}/confirm/")), 403, "not_allowed")
    response = api(people.receiver).post(url(h, f"visits/{body['id']}/confirm/"))
    assert response.status_code == 200 and response.json()["is_confirmed"]

    listed = api(people.supervisor).get(url(h, "visits/")).json()
    assert [v["id"] for v in listed["results"]] == [body["id"]]


def test_visit_refusals(api, people, at_visits, other_handover):
    h = at_visits
    hc = h.clients.first()
    error(api(people.witness).post(url(h, "visits/"), _visit_body(hc), format="json"), 403, "not_allowed")
    tomorrow = str(timezone.localdate() + datetime.timedelta(days=1))
    error(
        api(people.departing).post(url(h, "visits/"), _visit_body(hc, visited_on=tomorrow), format="json"),
        400,
        "invalid",
        field="visited_on",
    )
    error(
        api(people.departing).post(url(h, "visits/"), _visit_body(hc, mode="carrier_pigeon"), format="json"),
        400,
        "invalid",
        field="mode",
    )
    foreign = other_handover.clients.first()
    error(
        api(people.departing).post(url(h, "visits/"), _visit_body(foreign), format="json"),
        400,
        "invalid",
        field="handover_client",
    )
    assert not Visit.objects.exists()


def test_a_visit_outside_the_visits_stage_is_409(api, people, handover):
    hc = handover.clients.first()
    error(api(people.departing).post(url(handover, "visits/"), _visit_body(hc), format="json"), 409, "wrong_state")


# ---------------------------------------------------------------------------------------
# Phone spot-check


def test_the_witness_records_spot_check_calls(api, people, handover):
    calm(handover)
    h = advance_to(handover, State.SPOT_CHECK)
    sampled = h.clients.filter(in_sample=True).first()
    not_sampled = h.clients.filter(in_sample=False).first()
    witness = api(people.witness)

    response = witness.post(
        url(h, "phone-checks/"), {"handover_client": sampled.pk, "result": CallResult.CONFIRMED}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["result"] == "confirmed" and response.json()["witness"]["id"] == people.witness.pk

    error(
        witness.post(url(h, "phone-checks/"), {"handover_client": sampled.pk, "result": "unaware"}, format="json"),
        400,
        "invalid",
        field="note",
    )
    error(
        witness.post(
            url(h, "phone-checks/"), {"handover_client": not_sampled.pk, "result": "confirmed"}, format="json"
        ),
        400,
        "invalid",
    )
    error(
        api(people.departing).post(
            url(h, "phone-checks/"), {"handover_client": sampled.pk, "result": "confirmed"}, format="json"
        ),
        403,
        "not_allowed",
    )
    assert api(people.supervisor).get(url(h, "phone-checks/")).json()["count"] == 1


def test_a_call_outside_the_spot_check_is_409(api, people, handover):
    hc = handover.clients.first()
    response = api(people.witness).post(
        url(handover, "phone-checks/"), {"handover_client": hc.pk, "result": "confirmed"}, format="json"
    )
    error(response, 409, "wrong_state")


# ---------------------------------------------------------------------------------------
# The report and the timeline


def test_the_report_shows_live_figures(api, people, handover, book):
    response = api(people.supervisor).get(url(handover, "report/"))
    assert response.status_code == 200
    body = response.json()
    assert body["live_figures"]["clients"] == len(book)
    assert {"summary", "open_risks", "advice", "figures", "updated_at"} <= set(body)


def test_the_departing_person_writes_the_report_at_the_report_stage(api, people, handover):
    body = {"summary": "全部交接完毕", "open_risks": "一笔逾期", "advice": "先跟进A类"}
    error(api(people.departing).put(url(handover, "report/"), body, format="json"), 409, "wrong_state")
    h = advance_to(handover, State.REPORT)
    error(api(people.supervisor).put(url(h, "report/"), body, format="json"), 403, "not_allowed")
    error(api(people.departing).put(url(h, "report/"), {"advice": "x"}, format="json"), 400, "invalid", "summary")
    response = api(people.departing).put(url(h, "report/"), {**body, "version": fresh(h).version}, format="json")
    assert response.status_code == 200
    assert (response.json()["summary"], response.json()["advice"]) == ("全部交接完毕", "先跟进A类")
    response = api(people.departing).post(url(h, "transitions/submit_report/"))
    assert response.json()["state"] == "report_review"
    assert api(people.manager).get(url(h, "report/")).json()["figures"]["clients"] == 10


def test_the_timeline_lists_what_happened(api, people, handover):
    advance_to(handover, State.PLAN_REVIEW)
    response = api(people.supervisor).get(url(handover, "events/"))
    assert response.status_code == 200
    kinds = [e["kind"] for e in response.json()["results"]]
    assert kinds[0] == "started" and kinds[-1] == "transition"
    last = response.json()["results"][-1]
    assert (last["from_state"], last["to_state"], last["actor"]["id"]) == ("plan", "plan_review", people.departing.pk)


# ---------------------------------------------------------------------------------------
# Double submission: an Idempotency-Key makes a repeated write act once


def _call(client, h, hc, key=None, **extra):
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = {"handover_client": hc.pk, "result": "confirmed", **extra}
    return client.post(url(h, "phone-checks/"), body, format="json", headers=headers)


@pytest.fixture
def at_spot_check(handover):
    h = advance_to(handover, State.SPOT_CHECK)
    return h, h.clients.filter(in_sample=True).first()


def test_a_repeat_with_the_same_key_acts_once_and_gets_the_first_answer(api, people, at_spot_check):
    h, hc = at_spot_check
    witness = api(people.witness)
    first = _call(witness, h, hc, key="call-1")
    assert first.status_code == 201
    version, events = fresh(h).version, Event.objects.filter(handover=h).count()

    again = _call(witness, h, hc, key="call-1")
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert PhoneCheck.objects.filter(handover_client__handover=h).count() == 1
    assert (fresh(h).version, Event.objects.filter(handover=h).count()) == (version, events)


def test_without_a_key_a_repeat_acts_again(api, people, at_spot_check):
    # The control for the test above: what the key prevents.
    h, hc = at_spot_check
    witness = api(people.witness)
    assert _call(witness, h, hc).status_code == _call(witness, h, hc).status_code == 201
    assert PhoneCheck.objects.filter(handover_client__handover=h).count() == 2


def test_a_new_key_is_a_new_request(api, people, at_spot_check):
    h, hc = at_spot_check
    witness = api(people.witness)
    assert _call(witness, h, hc, key="call-1").status_code == _call(witness, h, hc, key="call-2").status_code == 201
    assert PhoneCheck.objects.filter(handover_client__handover=h).count() == 2


def test_the_same_key_with_another_body_is_422_and_acts_not(api, people, at_spot_check):
    h, hc = at_spot_check
    witness = api(people.witness)
    assert _call(witness, h, hc, key="call-1").status_code == 201
    version = fresh(h).version
    error(_call(witness, h, hc, key="call-1", note="又打了一次"), 422, "idempotency_key_reused")
    assert PhoneCheck.objects.filter(handover_client__handover=h).count() == 1
    assert fresh(h).version == version


def test_the_same_key_on_another_endpoint_is_422(api, people, at_materials):
    h = at_materials
    one, two = h.items.all()[:2]
    departing = api(people.departing)
    headers = {"Idempotency-Key": "k"}
    assert departing.post(url(h, f"items/{one.pk}/hand-over/"), headers=headers).status_code == 200
    error(departing.post(url(h, f"items/{two.pk}/hand-over/"), headers=headers), 422, "idempotency_key_reused")
    two.refresh_from_db()
    assert two.status == ItemStatus.PENDING


def test_keys_are_each_users_own(api, people, at_materials):
    h = at_materials
    item = h.items.first()
    headers = {"Idempotency-Key": "same"}
    assert api(people.departing).post(url(h, f"items/{item.pk}/hand-over/"), headers=headers).status_code == 200
    # The receiver's request with the same key is theirs: judged on its own, never another's answer.
    response = api(people.receiver).post(url(h, f"items/{item.pk}/hand-over/"), headers=headers)
    error(response, 403, "not_allowed")
    response = api(people.receiver).post(url(h, f"items/{item.pk}/confirm/"), headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "confirmed"


def test_a_refused_request_keeps_no_key_so_its_retry_is_judged_again(api, people, at_spot_check):
    h, hc = at_spot_check
    witness = api(people.witness)
    error(_call(witness, h, hc, key="call-1", version=fresh(h).version - 1), 409, "conflict")
    error(_call(witness, h, hc, key="call-1", version=fresh(h).version - 1), 409, "conflict")
    assert not IdempotencyKey.objects.exists()
    # The client reloads and sends the right version, with another body: the key is still free.
    assert _call(witness, h, hc, key="call-1", version=fresh(h).version).status_code == 201


def test_a_key_is_kept_for_the_configured_time(api, people, at_spot_check, settings):
    h, hc = at_spot_check
    witness = api(people.witness)
    assert _call(witness, h, hc, key="call-1").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(seconds=61))
    settings.IDEMPOTENCY_KEY_TTL = 120
    assert "Idempotent-Replayed" in _call(witness, h, hc, key="call-1")
    settings.IDEMPOTENCY_KEY_TTL = 60
    response = _call(witness, h, hc, key="call-1")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert PhoneCheck.objects.filter(handover_client__handover=h).count() == 2
    # The expired one is forgotten, not kept beside the new one.
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "with space", "ключ"])
def test_a_malformed_key_is_400_naming_the_header(api, people, at_spot_check, key):
    h, hc = at_spot_check
    response = api(people.witness).post(
        url(h, "phone-checks/"),
        {"handover_client": hc.pk, "result": "confirmed"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    error(response, 400, "invalid", field="Idempotency-Key")
    assert not PhoneCheck.objects.exists()


def test_the_version_guards_a_double_submission_too(api, people, at_spot_check):
    h, hc = at_spot_check
    witness = api(people.witness)
    version = fresh(h).version
    assert _call(witness, h, hc, version=version).status_code == 201
    error(_call(witness, h, hc, version=version), 409, "conflict")
    assert PhoneCheck.objects.filter(handover_client__handover=h).count() == 1


def test_the_schema_documents_the_key_on_every_write(api, people):
    schema = api(people.departing).get("/api/schema/").json()
    writes = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            # No login, hence no key of one's own: the token and the client's answers (answered once anyway).
            anonymous = path in ("/api/auth/token/", "/api/notices/answer/", "/api/surveys/answer/")
            if method in {"post", "put", "patch", "delete"} and not anonymous:
                writes += 1
                assert "Idempotency-Key" in headers, (method, path)
                assert "422" in operation["responses"], (method, path)
            else:
                assert "Idempotency-Key" not in headers, (method, path)
    assert writes >= 12


# ---------------------------------------------------------------------------------------
# A no-op changes nothing: "hand over all" / "confirm all" with nothing waiting


@pytest.mark.parametrize("action, who", [("hand-over-all", "departing"), ("confirm-all", "receiver")])
def test_an_all_action_with_nothing_waiting_changes_nothing(api, people, at_materials, action, who, login):
    h = at_materials
    assert api(people.departing).post(url(h, "items/hand-over-all/")).json() == {"count": 42}
    assert api(people.receiver).post(url(h, "items/confirm-all/")).json() == {"count": 42}
    version, events = fresh(h).version, Event.objects.filter(handover=h).count()

    body = error(api(getattr(people, who)).post(url(h, f"items/{action}/"), format="json"), 400, "invalid")
    assert (fresh(h).version, Event.objects.filter(handover=h).count()) == (version, events)

    # The page says the same, through the same service.
    page = login(getattr(people, who)).post(
        reverse(f"handover:items_{action.replace('-', '_')}", args=[h.pk]), {"version": version}, follow=True
    )
    assert [str(m) for m in page.context["messages"]] == [body["detail"]]
    assert (fresh(h).version, Event.objects.filter(handover=h).count()) == (version, events)
