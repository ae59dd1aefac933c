"""API tokens end: when the password changes, when the account is deactivated, and after a while.

Each test obtains its token from POST /api/auth/token/ as a client would, and is refused
afterwards with a 401 in the API's JSON error shape.
"""

import datetime

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import DEFAULT_PASSWORD
from accounts.tests.test_security import _run
from handover import services
from handover.models import State
from tests.walk import advance_to

NEW_PASSWORD = "Jiao-Jie#2026-qiu"
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _own_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tokens"}}
    cache.clear()


def _token(username="departing", password=DEFAULT_PASSWORD) -> dict:
    response = APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _get(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/handovers/")


def _refused(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")
    return True


def test_a_token_works_until_the_password_changes(people):
    token = _token()["token"]
    assert _get(token).status_code == 200

    people.departing.set_password(NEW_PASSWORD)
    people.departing.save()

    assert _refused(_get(token))
    assert _get(_token(password=NEW_PASSWORD)["token"]).status_code == 200


def test_a_password_set_in_the_admins_form_ends_the_tokens(people):
    token = _token()["token"]
    form = SetPasswordForm(people.departing, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert form.is_valid(), form.errors
    form.save()
    assert _refused(_get(token))


def test_other_changes_to_the_person_and_logging_in_keep_the_token(people, client):
    token = _token()["token"]
    people.departing.full_name = "李改名"
    people.departing.save()
    assert client.post(reverse("login"), {"username": "departing", "password": DEFAULT_PASSWORD}).status_code == 302
    assert _get(token).status_code == 200


def test_a_deactivated_account_loses_its_tokens_for_good(people):
    token = _token()["token"]
    people.departing.is_active = False
    people.departing.save()
    assert _refused(_get(token))
    # Deleted, not only refused: switched on again, the account needs a new token.
    people.departing.is_active = True
    people.departing.save()
    assert _refused(_get(token))


def test_hr_revoking_the_departed_persons_access_ends_their_tokens(handover, people):
    h = advance_to(handover, State.COMPLETED)
    token = _token()["token"]
    services.handover_revoke_access(handover=h, user=people.hr)
    people.departing.refresh_from_db()
    people.departing.is_active = True
    people.departing.save()
    assert _refused(_get(token))


def test_a_token_expires_after_the_configured_days(people):
    days = settings.API_TOKEN_TTL_DAYS
    assert days == 30  # the default, with no API_TOKEN_TTL_DAYS in the environment
    with time_machine.travel(START, tick=False) as traveller:
        body = _token()
        assert datetime.datetime.fromisoformat(body["expiry"]) == timezone.now() + datetime.timedelta(days=days)
        traveller.shift(datetime.timedelta(days=days) - datetime.timedelta(seconds=1))
        assert _get(body["token"]).status_code == 200  # use does not renew it
        traveller.shift(datetime.timedelta(seconds=2))
        assert _refused(_get(body["token"]))


def test_the_lifetime_is_a_setting(people, settings):
    settings.REST_KNOX = {"TOKEN_TTL": datetime.timedelta(days=2), "AUTO_REFRESH": False}
    with time_machine.travel(START, tick=False) as traveller:
        token = _token()["token"]
        traveller.shift(datetime.timedelta(days=2, seconds=1))
        assert _refused(_get(token))


@pytest.mark.parametrize("header", [b"Token \xff\xfe", b"Token abc", b"Token "])
def test_a_malformed_token_is_a_json_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.decode("latin-1"))
    assert _refused(client.get("/api/handovers/"))


def test_the_lifetime_comes_from_the_environment():
    code = "import django; django.setup(); from knox.settings import knox_settings as k; print(k.TOKEN_TTL.days)"
    result = _run(["-c", code], DJANGO_SETTINGS_MODULE="config.settings", API_TOKEN_TTL_DAYS="7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "7"
