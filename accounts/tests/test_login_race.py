"""The login throttle holds against guesses sent in parallel: no more than the limit is ever checked.

Each attempt is counted atomically before its password is checked (accounts/auth.py), so 40
wrong guesses at once find at most LOGIN_FAILURE_LIMIT passwords checked, on the per-process
memory cache and on Redis (when one answers: TEST_REDIS_URL, or 127.0.0.1:6379).
"""

import os
import socket
import threading
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connections
from django.test import RequestFactory
from rest_framework import exceptions

from accounts.auth import ThrottledAuthenticationForm, ThrottledAuthTokenSerializer
from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD

GUESSES = 40


def _redis_url() -> str:
    if url := os.environ.get("TEST_REDIS_URL"):
        return url
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return ""
    return "redis://127.0.0.1:6379/15"


REDIS_URL = _redis_url()


@pytest.fixture(
    params=[
        "locmem",
        pytest.param(
            "redis",
            marks=pytest.mark.skipif(not REDIS_URL, reason="no Redis here (TEST_REDIS_URL, or 127.0.0.1:6379)"),
        ),
    ]
)
def shared_cache(request, settings):
    # Keys of this test's own: never a flush of a Redis that other runs share.
    prefix = f"race-{uuid.uuid4().hex}"
    if request.param == "redis":
        backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    else:
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": prefix}
    settings.CACHES = {"default": {**backend, "KEY_PREFIX": prefix}}
    yield
    if request.param == "redis":
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


@pytest.fixture
def checks(monkeypatch):
    """Counts the passwords actually checked; each check takes a while, as a real hasher does."""
    counted = {"n": 0}
    lock = threading.Lock()
    original = User.check_password

    def check_password(self, raw_password):
        with lock:
            counted["n"] += 1
        time.sleep(0.05)
        return original(self, raw_password)

    monkeypatch.setattr(User, "check_password", check_password)
    return counted


def _in_parallel(attempt) -> list:
    barrier = threading.Barrier(GUESSES)
    results = [None] * GUESSES

    def run(i):
        try:
            barrier.wait()
            results[i] = attempt()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(GUESSES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _login_form(password):
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="10.0.0.9")
    form = ThrottledAuthenticationForm(request, data={"username": "departing", "password": password})
    return form.is_valid()


def _token_serializer(password):
    request = RequestFactory().post("/api/auth/token/", REMOTE_ADDR="10.0.0.9")
    serializer = ThrottledAuthTokenSerializer(
        data={"username": "departing", "password": password}, context={"request": request}
    )
    try:
        return serializer.is_valid()
    except exceptions.Throttled:
        return False


# serialized_rollback: a transactional test without it flushes the tables and lets post_migrate
# refill the content types, which the next serialized_rollback test then loads a second time.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("entry", [_login_form, _token_serializer], ids=["login-page", "api-token"])
def test_parallel_wrong_guesses_check_no_more_passwords_than_the_limit(people, shared_cache, checks, entry):
    results = _in_parallel(lambda: entry("wrong-password"))

    assert not any(results)
    assert 0 < checks["n"] <= django_settings.LOGIN_FAILURE_LIMIT
    # And the username is locked from that address: the right password is refused unchecked.
    checks["n"] = 0
    assert entry(DEFAULT_PASSWORD) is False
    assert checks["n"] == 0
