"""One error shape and the right status (issue 16, item 2): every /api/ answer that is an error is
JSON {"detail", "code"}, whatever the endpoint; refusals are 403, invalid input 400; and the docs
page serves a token user as it serves a signed-in browser."""

import json
import re

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from handover.models import State
from tests.walk import advance_to

from .test_api_errors import shaped


@pytest.fixture
def api(db):
    def _api(user=None):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
        return client

    return _api


# ---------------------------------------------------------------------------------------
# Refusals are 403


@pytest.fixture
def at_materials(handover, people):
    from handover import services

    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    return h


@pytest.mark.parametrize("who", ["departing", "supervisor", "witness", "manager", "hr"])
def test_confirming_all_items_with_none_handed_over_to_you_is_refused_403(api, people, at_materials, who):
    response = api(getattr(people, who)).post(f"/api/handovers/{at_materials.pk}/items/confirm-all/", {}, format="json")
    shaped(response, 403, "not_allowed")
    assert not at_materials.items.filter(status="confirmed").exists()


def test_a_receiver_with_nothing_left_to_confirm_is_told_so_400(api, people, at_materials):
    client = api(people.receiver)
    assert client.post(f"/api/handovers/{at_materials.pk}/items/confirm-all/", {}, format="json").status_code == 200
    response = client.post(f"/api/handovers/{at_materials.pk}/items/confirm-all/", {}, format="json")
    shaped(response, 400, "invalid")


# ---------------------------------------------------------------------------------------
# Every endpoint answers its errors in the one shape


def _api_routes() -> list[str]:
    """Every route under /api/, its parameters filled with ids nothing has."""
    api = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "api")
    routes = []
    for pattern in api.url_patterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        route = re.sub(r"<int:[^>]+>", "999999", route)
        route = re.sub(r"<str:[^>]+>", "nothing", route)
        routes.append(f"/api/{route}")
    return routes


@pytest.mark.parametrize("path", _api_routes())
def test_every_endpoint_answers_a_method_it_does_not_take_in_the_shape(people, path):
    """No endpoint takes DELETE: whoever asks, the answer is an error in JSON (401, 404 or 405)."""
    if path != "/api/docs/":  # a browser without a login goes to the login page (tested below)
        anonymous = Client().delete(path)
        assert anonymous.status_code in (401, 404, 405), (path, anonymous.status_code)
        shaped(anonymous, anonymous.status_code, json.loads(anonymous.content)["code"])
    signed_in = APIClient()
    signed_in.force_authenticate(people.hr)
    response = signed_in.delete(path)
    assert response.status_code in (404, 405), (path, response.status_code)
    shaped(response, response.status_code, json.loads(response.content)["code"])


@pytest.mark.parametrize("path", ["/api/clients/abc/", "/api/people/1/", "/api/archive/1/", "/api/notifications/x/"])
def test_an_unknown_url_beside_the_new_endpoints_is_404_in_json(api, people, path):
    shaped(api(people.hr).get(path), 404, "not_found")


def test_a_malformed_json_body_is_400_in_json(api, people):
    response = api(people.hr).post("/api/archive/verify/", b'{"code": ', content_type="application/json")
    body = shaped(response, 400, "invalid")
    assert "JSON" in body["detail"]


def test_a_multipart_body_without_its_boundary_is_400_in_json(api, people):
    response = api(people.hr).post("/api/archive/verify/", b"--x\r\n", content_type="multipart/form-data")
    shaped(response, 400, "invalid")


def test_a_body_the_api_does_not_read_is_415_in_json(api, people):
    response = api(people.hr).post("/api/archive/verify/", "x", content_type="text/plain")
    shaped(response, 415, "unsupported_media_type")


def test_an_upload_over_the_limit_is_413_in_json(api, people, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api(people.hr).post("/api/archive/verify/", {"code": "x" * 200}, format="json")
    shaped(response, 413, "too_large")


def test_a_page_past_the_end_is_404_in_json(api, people):
    shaped(api(people.hr).get("/api/clients/", {"page": 99}), 404, "not_found")
    shaped(api(people.hr).get("/api/people/", {"page": 99}), 404, "not_found")


# ---------------------------------------------------------------------------------------
# The docs page


def test_the_docs_page_serves_a_token_user(api, people):
    client = api(people.departing)
    response = client.get("/api/docs/")
    assert response.status_code == 200 and b"swagger-ui" in response.content
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_the_docs_page_refuses_a_bad_token_in_json_not_with_the_login_page(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nonsense")
    shaped(client.get("/api/docs/"), 401, "not_authenticated")


def test_the_docs_page_still_sends_a_browser_without_a_login_to_the_login_page(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_supervisor_writing_the_plan_rows_is_refused_403_naming_the_rows(api, people, handover):
    hc = handover.clients.first()
    rows = {"rows": [{"handover_client": hc.pk, "risks": "无"}]}
    body = shaped(
        api(people.supervisor).post(f"/api/handovers/{handover.pk}/plan/rows/", rows, format="json"), 403, "not_allowed"
    )
    assert set(body["rows"]) == {str(hc.pk)}
    hc.refresh_from_db()
    assert hc.risks != "无"


def test_a_refused_row_beside_an_invalid_one_is_400(api, people, handover):
    first, second = handover.clients.order_by("pk")[:2]
    rows = {
        "rows": [
            {"handover_client": first.pk, "risks": "无"},
            {"handover_client": second.pk, "receiver": people.departing.pk},
        ]
    }
    response = api(people.supervisor).post(f"/api/handovers/{handover.pk}/plan/rows/", rows, format="json")
    shaped(response, 400, "invalid")


def test_recording_a_visit_of_someone_elses_client_is_refused_403(api, people, handover, receiver2):
    from django.utils import timezone

    from handover.models import HandoverClient, Visit

    h = advance_to(handover, State.VISITS)
    first, second = h.clients.order_by("pk")[:2]
    HandoverClient.objects.filter(pk=second.pk).update(receiver=receiver2)
    before = Visit.objects.count()
    row = {
        "visited_on": timezone.localdate().isoformat(),
        "mode": "in_person",
        "contact_met": "采购经理",
        "outcome": "已介绍。",
    }
    body = {"rows": [{"handover_client": first.pk, **row}, {"handover_client": second.pk, **row}]}
    response = api(people.receiver).post(f"/api/handovers/{h.pk}/visits/rows/", body, format="json")
    result = shaped(response, 403, "not_allowed")
    assert set(result["rows"]) == {str(second.pk)}
    assert Visit.objects.count() == before
