"""Every answer under /api/ is JSON in the API's one error shape, whoever asks and whatever DEBUG is.

Django's own refusals (a URL no view matches, a body too large, a suspicious request, a crash
while DEBUG shows HTML pages) included; and nothing a client sends makes it crash.
"""

import json
from urllib.parse import urlencode

import pytest
from django.http import HttpResponseForbidden
from django.test import Client
from rest_framework.test import APIClient

from handover import api
from handover.api_errors import JSON_MAX_DEPTH, ApiErrorMiddleware
from handover.models import Event, Handover

from .test_api import url


def shaped(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"].strip()
    return body


@pytest.fixture
def departing(people):
    client = APIClient()
    client.force_authenticate(people.departing)
    return client


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


# ---------------------------------------------------------------------------------------
# 400: what cannot be parsed


@pytest.mark.parametrize("depth", [100_000, JSON_MAX_DEPTH + 1])
def test_deeply_nested_json_is_400_not_a_crash_unauthenticated(db, depth):
    # The token endpoint parses the body before anyone is known.
    response = Client().post("/api/auth/token/", nested(depth), content_type="application/json")
    body = shaped(response, 400, "invalid")
    assert str(JSON_MAX_DEPTH) in body["detail"]


@pytest.mark.parametrize("depth", [100_000, JSON_MAX_DEPTH + 1])
def test_deeply_nested_json_is_400_not_a_crash_authenticated(departing, handover, depth):
    before = Handover.objects.get(pk=handover.pk).version
    response = departing.post(url(handover, "transitions/submit_plan/"), nested(depth), content_type="application/json")
    shaped(response, 400, "invalid")
    assert Handover.objects.get(pk=handover.pk).version == before


def test_json_nested_as_deep_as_allowed_is_parsed(departing, handover):
    # The limit refuses only what is deeper: this one reaches the serializer, which names the field.
    data = {"comment": json.loads(nested(JSON_MAX_DEPTH - 1))}
    response = departing.post(url(handover, "transitions/submit_plan/"), data, format="json")
    assert shaped(response, 400, "invalid")["field"] == "comment"


def test_a_suspicious_request_is_400_in_json(db, settings, debug):
    settings.ALLOWED_HOSTS = ["testserver"]
    response = Client().get("/api/handovers/", HTTP_HOST="evil.example")
    shaped(response, 400, "invalid")


# ---------------------------------------------------------------------------------------
# 413: too large


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_body_over_the_limit_is_413_in_json_unauthenticated(db, settings, debug, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = {"username": "departing", "password": "x" * 2000}
    data = json.dumps(payload) if content_type == "application/json" else urlencode(payload)
    response = Client().post("/api/auth/token/", data, content_type=content_type)
    body = shaped(response, 413, "too_large")
    assert "1000" in body["detail"]


def test_a_body_over_the_limit_is_413_in_json_authenticated(departing, handover, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = Event.objects.filter(handover=handover).count()
    response = departing.post(
        url(handover, "transitions/cancel/"), {"comment": "理由" * 1000}, format="json", HTTP_HOST="testserver"
    )
    shaped(response, 413, "too_large")
    assert Event.objects.filter(handover=handover).count() == before


def test_a_body_within_the_limit_is_read(departing, handover, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = departing.post(url(handover, "transitions/submit_plan/"), {"comment": "x" * 100}, format="json")
    assert response.status_code != 413


# ---------------------------------------------------------------------------------------
# 403, 404, 405, 415


@pytest.mark.parametrize("path", ["/api/nothing-here/", "/api/handovers/abc/", "/api/handovers/1/nothing/"])
def test_an_unknown_url_is_404_in_json_unauthenticated(db, debug, path):
    shaped(Client().get(path), 404, "not_found")
    shaped(Client().post(path, {}), 404, "not_found")


def test_an_unknown_url_is_404_in_json_authenticated(people, debug):
    client = Client()
    client.force_login(people.departing)
    shaped(client.get("/api/handovers/1/nothing/"), 404, "not_found")


def test_a_page_outside_the_api_keeps_its_html_404(people, debug):
    client = Client()
    client.force_login(people.departing)
    response = client.get("/handovers/nothing-here/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_method_the_endpoint_does_not_take_is_405_in_json(departing, handover, db):
    body = shaped(departing.get(url(handover, "transitions/submit_plan/")), 405, "method_not_allowed")
    assert "GET" in body["detail"]
    shaped(Client().get("/api/auth/token/"), 405, "method_not_allowed")


def test_a_media_type_the_api_does_not_read_is_415_in_json(departing, handover, db):
    response = departing.post(url(handover, "transitions/submit_plan/"), "comment", content_type="text/plain")
    shaped(response, 415, "unsupported_media_type")
    shaped(Client().post("/api/auth/token/", "x", content_type="text/plain"), 415, "unsupported_media_type")


def test_a_session_write_without_csrf_is_403_in_json(people, handover):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(people.departing)
    body = shaped(client.post(url(handover, "transitions/submit_plan/"), {}, format="json"), 403, "not_allowed")
    assert "CSRF" in body["detail"]


def test_an_html_refusal_of_django_becomes_the_shape_with_its_headers(rf):
    # Whatever answers HTML under /api/ (the CSRF failure page of a view that is not DRF's, say).
    def forbidden(request):
        response = HttpResponseForbidden("<h1>403 Forbidden</h1>", content_type="text/html")
        response["X-Frame-Options"] = "DENY"
        return response

    response = ApiErrorMiddleware(forbidden)(rf.post("/api/handovers/"))
    shaped(response, 403, "not_allowed")
    assert response["X-Frame-Options"] == "DENY"


# ---------------------------------------------------------------------------------------
# 500


@pytest.fixture
def crashing(monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(api, "_detail_response", crash)


def test_a_crash_is_500_in_json(people, handover, crashing, debug):
    client = Client(raise_request_exception=False)
    client.force_login(people.departing)
    body = shaped(client.get(url(handover)), 500, "error")
    assert "a bug" not in body["detail"]


def test_a_crash_is_500_in_json_unauthenticated(db, monkeypatch, debug):
    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.TokenView, "post", crash)
    response = Client(raise_request_exception=False).post("/api/auth/token/", {"username": "x", "password": "y"})
    shaped(response, 500, "error")
