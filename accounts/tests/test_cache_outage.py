"""With the cache (Redis) down, people still log in, get API tokens, sign and approve.

The login throttle's counts then live in each process's memory (accounts/auth.py), with a
warning in the log; the sessions are in the database, so nothing else needs the cache.
"""

import logging

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from accounts import auth
from accounts.tests.broken_cache import BROKEN_CACHES, BrokenCache
from accounts.tests.factories import DEFAULT_PASSWORD
from handover.models import Handover, Signature, State
from handover.tests.conftest import celery_broker
from tests.walk import advance_to


@pytest.fixture
def cache_down(settings):
    settings.CACHES = BROKEN_CACHES
    auth._fallback.clear()
    BrokenCache.calls = 0
    yield
    auth._fallback.clear()


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_sessions_are_in_the_database():
    # Not in the cache: with Redis down everyone already logged in stays logged in.
    assert django_settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


def test_the_login_page_works_with_the_cache_down(client, people, cache_down, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.auth"):
        response = client.post(reverse("login"), {"username": "departing", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302 and _logged_in(client)
    assert BrokenCache.calls > 0
    assert "the cache failed" in caplog.text
    assert client.get(reverse("handover:inbox")).status_code == 200


def test_the_admin_login_works_with_the_cache_down(client, people, cache_down):
    people.admin.is_staff = True
    people.admin.save()
    response = client.post("/admin/login/", {"username": "admin", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302 and _logged_in(client)


def test_the_token_endpoint_works_with_the_cache_down(client, people, cache_down):
    response = client.post(
        "/api/auth/token/", {"username": "departing", "password": DEFAULT_PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert client.get("/api/handovers/", headers={"authorization": f"Token {token}"}).status_code == 200


def test_guessing_is_still_throttled_in_the_process_while_the_cache_is_down(client, people, cache_down):
    for _ in range(django_settings.LOGIN_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": "departing", "password": "wrong-password"})
        assert response.status_code == 200
    response = client.post(reverse("login"), {"username": "departing", "password": DEFAULT_PASSWORD})
    assert response.status_code == 429 and not _logged_in(client)


def test_a_signed_approval_goes_through_with_the_cache_and_the_broker_down(handover, people, login, settings):
    h = advance_to(handover, State.PLAN_REVIEW)
    settings.CACHES = BROKEN_CACHES
    BrokenCache.calls = 0
    browser = login(people.supervisor)
    url = reverse("handover:transition", args=[h.pk, "approve_plan_review"])
    signature = {"method": "typed", "typed_name": people.supervisor.full_name, "password": DEFAULT_PASSWORD}
    with celery_broker("redis://127.0.0.1:1/0"):  # nothing listens there
        response = browser.post(url, {**signature, "version": h.version, "comment": "同意"})
    assert response.status_code == 302
    assert Handover.objects.get(pk=h.pk).state == State.PLAN_APPROVAL
    assert Signature.objects.get().signer == people.supervisor
    assert BrokenCache.calls > 0  # the password check asked the cache, and went on without it
    auth._fallback.clear()
