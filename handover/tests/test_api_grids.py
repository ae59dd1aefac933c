"""The grids' API equivalents: batch visits, batch confirm, batch calls and the visit sheet upload."""

import datetime
import io

import openpyxl
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from handover.models import CallResult, HandoverClient, PhoneCheck, State, Visit, VisitMode
from handover.tests.risk_helpers import calm
from tests.walk import advance_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    def _api(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
        return client

    return _api


def url(h, rest=""):
    return f"/api/handovers/{h.pk}/{rest}"


def _row(hc, **overrides):
    return {
        "handover_client": hc.pk,
        "visited_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "mode": VisitMode.IN_PERSON,
        "contact_met": "采购经理",
        "outcome": "已介绍新对接人。",
        "row_version": hc.row_version,
    } | overrides


@pytest.fixture
def at_visits(handover):
    return advance_to(handover, State.VISITS)


def _clients(h):
    return list(HandoverClient.objects.filter(handover=h).select_related("client").order_by("grade", "pk"))


def test_batch_visits_all_or_nothing_with_errors_by_row(api, at_visits, people):
    h = at_visits
    a_client, other = _clients(h)[0], _clients(h)[-1]
    assert a_client.grade == "A"
    response = api(people.receiver).post(
        url(h, "visits/rows/"),
        {"rows": [_row(a_client, mode=VisitMode.JOINT_CALL), _row(other)]},
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and body["conflicts"] == []
    assert list(body["rows"]) == [str(a_client.pk)]
    assert a_client.client.name in body["rows"][str(a_client.pk)]["mode"]
    assert not Visit.objects.exists()
    response = api(people.receiver).post(url(h, "visits/rows/"), {"rows": [_row(other)]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1 and response.json()["visits"][0]["handover_client"] == other.pk


def test_batch_visits_conflict_is_409_by_row(api, at_visits, people):
    h = at_visits
    a = _clients(h)[0]
    stale = _row(a)
    assert api(people.receiver).post(url(h, "visits/rows/"), {"rows": [_row(a)]}, format="json").status_code == 200
    response = api(people.departing).post(url(h, "visits/rows/"), {"rows": [stale]}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and response.json()["conflicts"] == [a.pk]


def test_batch_confirm_and_calls(api, at_visits, people):
    h = at_visits
    rows = [_row(hc) for hc in _clients(h)[:3]]
    api(people.departing).post(url(h, "visits/rows/"), {"rows": rows}, format="json")
    response = api(people.receiver).post(url(h, "visits/confirm/"), {}, format="json")
    assert response.status_code == 200 and response.json() == {"count": 3}
    assert api(people.witness).post(url(h, "visits/confirm/"), {}, format="json").status_code == 403


def test_batch_calls_refuse_a_client_outside_the_sample(api, handover, people):
    calm(handover)
    h = advance_to(handover, State.SPOT_CHECK)
    inside = HandoverClient.objects.filter(handover=h, in_sample=True).first()
    outside = HandoverClient.objects.filter(handover=h, in_sample=False).first()
    rows = [
        {"handover_client": inside.pk, "result": CallResult.CONFIRMED},
        {"handover_client": outside.pk, "result": CallResult.CONFIRMED},
    ]
    response = api(people.witness).post(url(h, "phone-checks/rows/"), {"rows": rows}, format="json")
    assert response.status_code == 400 and list(response.json()["rows"]) == [str(outside.pk)]
    assert not PhoneCheck.objects.exists()
    response = api(people.witness).post(url(h, "phone-checks/rows/"), {"rows": rows[:1]}, format="json")
    assert response.status_code == 200 and response.json()["count"] == 1


def test_the_sheet_round_trip_through_the_api(api, at_visits, people):
    h = at_visits
    client = api(people.receiver)
    response = client.get(url(h, "visits/sheet/"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    sheet["E2"] = "2999-01-01"  # a future date: refused, naming the row and column
    sheet["G2"] = "采购经理"
    sheet["H2"] = "客户认可。"
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    buffer.name = "visits.xlsx"
    response = client.post(url(h, "visits/sheet/"), {"file": buffer}, format="multipart")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert list(errors) == [f"2.{sheet['E1'].value}"]
    assert not Visit.objects.exists()
    sheet["E2"] = timezone.localdate()
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    buffer.name = "visits.xlsx"
    response = client.post(url(h, "visits/sheet/"), {"file": buffer}, format="multipart")
    assert response.status_code == 200 and response.json() == {"count": 1}
