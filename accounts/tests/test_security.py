"""Hardening: CSRF on every form, login throttling, production settings, passwords, headers."""

import datetime
import json
import os
import secrets
import subprocess
import sys

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from knox.crypto import hash_token
from knox.models import AuthToken

from accounts.auth import LoginAttempt, lockout_message
from accounts.tests.factories import DEFAULT_PASSWORD
from accounts.tokens import api_token_create

LOGIN = reverse("login")
TOKEN = "/api/auth/token/"


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _login(client, username, password, ip="10.0.0.1", lang="en"):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _token(client, username, password, ip="10.0.0.1"):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client.post(
        TOKEN, {"username": username, "password": password}, content_type="application/json", REMOTE_ADDR=ip
    )


# ---------------------------------------------------------------------------------------
# CSRF: every form is refused without its token


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def _forms(people, handover):
    """(url, data) of forms across the site, each a POST a page makes."""
    return [
        (reverse("logout"), {}),
        (reverse("set_language"), {"language": "en", "next": "/"}),
        (reverse("notifications_read_all"), {}),
        (reverse("handover:start"), {}),
        (reverse("handover:transition", args=[handover.pk, "cancel"]), {"version": 1, "comment": "x"}),
        (reverse("handover:report_update", args=[handover.pk]), {"version": 1, "summary": "x"}),
        (reverse("clients:import"), {}),
    ]


def _csrf_refused(response) -> bool:
    # The refusal's page (templates/403_csrf.html) says so in Chinese: "表单已过期".
    return response.status_code == 403 and b'data-reason="csrf"' in response.content


def test_the_login_form_needs_its_csrf_token(csrf_client, people):
    response = csrf_client.post(LOGIN, {"username": "departing", "password": DEFAULT_PASSWORD})
    assert _csrf_refused(response)
    assert not _logged_in(csrf_client)


def test_every_form_is_refused_without_its_csrf_token(csrf_client, people, handover):
    csrf_client.force_login(people.hr)
    for url, data in _forms(people, handover):
        assert _csrf_refused(csrf_client.post(url, data)), url


def test_the_same_forms_pass_the_csrf_check_with_the_token(csrf_client, people, handover):
    # The control for the test above: with the page's token the same posts get past CSRF (to
    # whatever the view then answers).
    csrf_client.force_login(people.hr)
    csrf_client.get(reverse("handover:inbox"))
    token = csrf_client.cookies[settings.CSRF_COOKIE_NAME].value
    for url, data in reversed(_forms(people, handover)):  # logging out, first in the list, ends the session
        assert not _csrf_refused(csrf_client.post(url, data, headers={"x-csrftoken": token})), url


def test_the_api_refuses_a_session_post_without_the_csrf_token(csrf_client, people, handover):
    csrf_client.force_login(people.departing)
    response = csrf_client.post(reverse("api:report", args=[handover.pk]), {}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_the_api_takes_a_token_post_without_csrf(csrf_client, people, handover):
    # A token is not sent by the browser on its own, so it needs no CSRF token.
    key, _expiry = api_token_create(user=people.hr)
    response = csrf_client.post(
        reverse("api:handover-transition", args=[handover.pk, "cancel"]),
        {"comment": "测试"},
        content_type="application/json",
        headers={"authorization": f"Token {key}"},
    )
    assert response.status_code == 200


# ---------------------------------------------------------------------------------------
# Login throttling


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    # A memory cache of these tests' own, empty: never a shared Redis (REDIS_URL) to flush.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "security"}}
    cache.clear()


def _fail(client, username, n, **kwargs):
    for _ in range(n):
        response = _login(client, username, "wrong-password", **kwargs)
        assert response.status_code == 200 and not _logged_in(client)


def test_five_failures_lock_the_username_out_even_with_the_right_password(client, people):
    _fail(client, "departing", 5)

    response = _login(client, "departing", DEFAULT_PASSWORD)

    assert response.status_code == 429
    assert not _logged_in(client)
    assert "Too many failed login attempts. Please try again in 15 minutes." in response.content.decode()


def test_four_failures_do_not_lock_and_a_success_starts_the_count_again(client, people):
    _fail(client, "departing", 4)
    assert _login(client, "departing", DEFAULT_PASSWORD).status_code == 302
    client.logout()
    _fail(client, "departing", 4)
    assert _login(client, "departing", DEFAULT_PASSWORD).status_code == 302


def test_the_lockout_ends_after_fifteen_minutes(client, people):
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC), tick=False) as traveller:
        _fail(client, "departing", 5)
        traveller.shift(datetime.timedelta(minutes=14))
        response = _login(client, "departing", DEFAULT_PASSWORD)
        assert response.status_code == 429
        assert "try again in 1 minute." in response.content.decode()
        traveller.shift(datetime.timedelta(minutes=1, seconds=1))
        assert _login(client, "departing", DEFAULT_PASSWORD).status_code == 302


def test_failures_older_than_the_window_are_forgotten(client, people):
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC), tick=False) as traveller:
        _fail(client, "departing", 4)
        traveller.shift(datetime.timedelta(minutes=16))
        _fail(client, "departing", 4)
        assert _login(client, "departing", DEFAULT_PASSWORD).status_code == 302


def test_a_flood_of_other_usernames_does_not_wash_the_lock_out(client, people, settings):
    default = {**settings.CACHES["default"], "OPTIONS": {"MAX_ENTRIES": 100_000}}  # as in config/settings.py
    settings.CACHES = {"default": default}
    _fail(client, "departing", 5)
    for i in range(1000):
        LoginAttempt(f"guess{i}", "10.0.0.1").failed()
    assert _login(client, "departing", DEFAULT_PASSWORD).status_code == 429


def test_the_admin_login_is_throttled_with_the_others(client, people):
    people.admin.is_staff = True
    people.admin.save()
    for _ in range(5):
        client.post("/admin/login/", {"username": "admin", "password": "wrong-password"}, REMOTE_ADDR="10.0.0.1")

    response = client.post("/admin/login/", {"username": "admin", "password": DEFAULT_PASSWORD}, REMOTE_ADDR="10.0.0.1")

    assert response.status_code == 200 and not _logged_in(client)
    assert _login(client, "admin", DEFAULT_PASSWORD).status_code == 429


def test_a_non_staff_persons_right_password_on_the_admin_login_is_no_failure(client, people):
    for _ in range(5):
        client.post("/admin/login/", {"username": "receiver", "password": DEFAULT_PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert _login(client, "receiver", DEFAULT_PASSWORD).status_code == 302


def test_the_lock_is_per_username_and_address(client, people):
    _fail(client, "departing", 5, ip="10.0.0.1")
    # The same person from their own desk, and another person from the guesser's address, log in.
    assert _login(Client(), "departing", DEFAULT_PASSWORD, ip="10.0.0.2").status_code == 302
    assert _login(Client(), "receiver", DEFAULT_PASSWORD, ip="10.0.0.1").status_code == 302
    # The username is matched whatever its case.
    assert _login(client, "DEPARTING", DEFAULT_PASSWORD, ip="10.0.0.1").status_code == 429


def test_the_lockout_message_is_in_the_pages_language(client, people):
    _fail(client, "departing", 5)
    page = _login(client, "departing", DEFAULT_PASSWORD, lang="zh-hans").content.decode()
    assert '<html lang="zh-hans">' in page
    with translation.override("zh-hans"):
        assert lockout_message(15 * 60) in page


def test_a_wrong_password_says_so_without_naming_the_field(client, people):
    page = _login(client, "departing", "wrong-password").content.decode()
    assert "Wrong username or password. Please try again." in page


def test_the_api_token_endpoint_is_throttled_alike(client, people):
    for _ in range(5):
        assert _token(client, "departing", "wrong-password").status_code == 400

    response = _token(client, "departing", DEFAULT_PASSWORD)

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert response.json()["detail"].startswith("Too many failed login attempts")
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert not AuthToken.objects.filter(user=people.departing).exists()


def test_the_login_page_and_the_api_count_together(client, people):
    _fail(client, "departing", 3)
    for _ in range(2):
        assert _token(client, "departing", "wrong-password").status_code == 400
    assert _login(client, "departing", DEFAULT_PASSWORD).status_code == 429
    assert _token(client, "departing", DEFAULT_PASSWORD).status_code == 429


def test_the_api_token_endpoint_still_gives_a_token(client, people):
    response = _token(client, "departing", DEFAULT_PASSWORD)
    assert response.status_code == 200
    token = response.json()["token"]
    # Only the token's hash is stored.
    stored = AuthToken.objects.get(user=people.departing)
    assert stored.digest == hash_token(token) and token not in (stored.digest, stored.token_key)


# ---------------------------------------------------------------------------------------
# Production settings


def _run(code_or_args: list[str], **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    environment.update(env)
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *code_or_args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "handover.example.com"}


def test_check_deploy_reports_nothing_in_production():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name) for name in NAMES} | {"CACHE": s.CACHES["default"]["BACKEND"]}))
"""
NAMES = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
    "SECURE_REFERRER_POLICY",
]


def _settings(**env) -> dict:
    code = f"NAMES = {NAMES!r}\n{SHOW_SETTINGS}"
    result = _run(["-c", code], DJANGO_SETTINGS_MODULE="config.settings", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_sends_cookies_over_https_only_with_hsts():
    values = _settings(**PRODUCTION, REDIS_URL="")
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_REFERRER_POLICY": "same-origin",
        "CACHE": "django.core.cache.backends.locmem.LocMemCache",
    }


def test_the_cache_is_redis_when_redis_is_configured():
    # Several web processes must share the login-failure counts.
    values = _settings(**PRODUCTION, REDIS_URL="redis://redis.example:6379/0")
    assert values["CACHE"] == "django.core.cache.backends.redis.RedisCache"


def test_production_refuses_to_start_without_a_secret_key():
    result = _run(["manage.py", "check"], DEBUG="0", ALLOWED_HOSTS="x")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_pages_carry_the_security_headers(client, people):
    response = client.get(LOGIN)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_session_cookie_is_out_of_reach_of_scripts(client, people):
    response = _login(client, "departing", DEFAULT_PASSWORD)
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


# ---------------------------------------------------------------------------------------
# Passwords


@pytest.mark.parametrize(
    "weak",
    ["12345678", "password", "abc", "20260301", "departing2026", "qwertyuiop"],
)
def test_weak_passwords_are_refused(people, weak):
    with pytest.raises(ValidationError):
        validate_password(weak, user=people.departing)


def test_a_strong_password_is_accepted(people):
    validate_password("Jiao-Jie#2026-qiu", user=people.departing)


# ---------------------------------------------------------------------------------------
# Errors under /api/ are JSON, even where no view answers


def test_an_api_path_no_view_matches_is_a_json_404(client, people):
    key, _expiry = api_token_create(user=people.hr)
    response = client.get("/api/handovers/-1/", headers={"authorization": f"Token {key}"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_page_path_no_view_matches_is_the_html_404(client, people):
    client.force_login(people.hr)
    response = client.get("/handovers/abc/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_crash_under_the_api_is_a_json_500(rf):
    from config.urls import handler500

    response = handler500(rf.get("/api/handovers/"))
    assert response.status_code == 500
    assert json.loads(response.content)["code"] == "error"
    assert handler500(rf.get("/handovers/"))["Content-Type"].startswith("text/html")
