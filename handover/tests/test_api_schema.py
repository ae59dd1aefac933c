"""The OpenAPI document and its docs page: complete, valid, and usable on an intranet."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

MAIN_PATHS = [
    "/api/auth/token/",
    "/api/handovers/",
    "/api/handovers/{id}/",
    "/api/handovers/{id}/transitions/{name}/",
    "/api/handovers/{id}/clients/{hc_id}/",
    "/api/handovers/{id}/items/",
    "/api/handovers/{id}/items/{item_id}/hand-over/",
    "/api/handovers/{id}/items/{item_id}/confirm/",
    "/api/handovers/{id}/items/{item_id}/dispute/",
    "/api/handovers/{id}/visits/",
    "/api/handovers/{id}/visits/{visit_id}/confirm/",
    "/api/handovers/{id}/phone-checks/",
    "/api/handovers/{id}/report/",
    "/api/handovers/{id}/events/",
]


@pytest.fixture
def schema(people):
    client = APIClient()
    client.force_login(people.departing)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def test_the_schema_is_a_valid_openapi_3_document(schema):
    assert schema["openapi"].startswith("3")
    validate_schema(schema)
    assert set(MAIN_PATHS) <= set(schema["paths"])


def test_the_schema_describes_bodies_errors_and_token_auth(schema):
    transition = schema["paths"]["/api/handovers/{id}/transitions/{name}/"]["post"]
    assert transition["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Transition")
    assert {"200", "400", "401", "403", "404", "409"} <= set(transition["responses"])
    assert transition["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    detail = schema["components"]["schemas"]["HandoverDetail"]["properties"]
    assert {"state", "state_display", "version", "available_transitions", "clients", "deadlines"} <= set(detail)
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    create = schema["paths"]["/api/handovers/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/HandoverCreate")


def test_the_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_schema_is_also_served_as_yaml(people):
    client = APIClient()
    client.force_login(people.departing)
    response = client.get("/api/schema/?format=yaml")
    assert response.status_code == 200 and response.content.startswith(b"openapi: 3")


def test_the_schema_needs_a_login_and_says_so_in_json(db):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_docs_page_loads_nothing_from_the_internet(people, client):
    client.force_login(people.departing)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html), "an external asset"
    assert "cdn" not in html.lower()
    assets = re.findall(r"""(?:src|href)="/static/([^"]+)\"""", html)
    assert len(assets) >= 3
    for asset in assets:
        assert finders.find(asset), f"missing vendored asset {asset}"


def test_the_docs_page_is_behind_the_login_page(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
