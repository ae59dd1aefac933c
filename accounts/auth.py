"""Logging in, with repeated failures throttled.

After LOGIN_FAILURE_LIMIT failed attempts for one username from one address within
LOGIN_FAILURE_WINDOW seconds, that username is refused from that address for
LOGIN_LOCKOUT_SECONDS, whatever the password: guessing a password costs hours, while the
person (from their own desk) is not locked out by someone else's guessing elsewhere.
The login page, the admin's login page, the API token endpoint and the password asked for
when signing count together.

Each attempt is counted (one atomic increment) before its password is checked, and refused
when the count is past the limit: guesses sent in parallel cannot all be checked before the
first failures are recorded. A right password starts the count again.

The counts live in Django's cache: per process with the default LocMemCache, so production
with several web processes points CACHES at Redis (REDIS_URL, see config/settings.py). When
that cache fails (Redis down), logging in and signing go on: the counts fall back to a cache
in this process's memory, with a warning in the log, so guessing is still throttled per
process until Redis is back.
"""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework import exceptions
from rest_framework.authtoken.serializers import AuthTokenSerializer

logger = logging.getLogger(__name__)

# Where the counts go while the shared cache fails. Room for every counter, as in settings.
_fallback = LocMemCache("login-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


def _cache(method: str, *args, **kwargs):
    """cache.<method>(...), or the same on the fallback when the shared cache fails."""
    try:
        return getattr(cache, method)(*args, **kwargs)
    except ValueError:  # incr of a missing key: an answer, not a failure
        raise
    except Exception as exc:  # noqa: BLE001 - any cache outage (connection, timeout) must not stop a login
        logger.warning("the cache failed (%r); login throttling counts in this process only", exc)
        return getattr(_fallback, method)(*args, **kwargs)


def client_ip(request) -> str:
    # REMOTE_ADDR only: a client can forge X-Forwarded-For. Behind one reverse proxy every
    # request shares the proxy's address, and the throttle is then per username.
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def _keys(username: str, ip: str) -> tuple[str, str]:
    subject = f"{(username or '').strip().casefold()}\0{ip}"
    digest = hashlib.sha256(subject.encode()).hexdigest()
    return f"login-attempts:{digest}", f"login-locked:{digest}"


def _locked_for(locked_key: str) -> int:
    until = _cache("get", locked_key)
    return max(0, math.ceil(until - time.time())) if until else 0


class LoginAttempt:
    """One try of a password for a username from an address, counted before the password is checked.

    attempt = LoginAttempt(username, ip)
    if attempt.refused_for: refuse (lockout_message(attempt.refused_for)), check nothing
    else: check the password, then attempt.succeeded() or attempt.failed()
    """

    def __init__(self, username: str, ip: str):
        self.username, self.ip = username, ip
        self.attempts_key, self.locked_key = _keys(username, ip)
        self.number = 0
        self.refused_for = _locked_for(self.locked_key)
        if self.refused_for:
            return
        _cache("add", self.attempts_key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
        try:
            self.number = _cache("incr", self.attempts_key)
        except ValueError:  # expired between add and incr
            _cache("set", self.attempts_key, 1, timeout=settings.LOGIN_FAILURE_WINDOW)
            self.number = 1
        if self.number > settings.LOGIN_FAILURE_LIMIT:
            # Past the limit while the attempt that reached it is still being checked (or the
            # lock is being written): refused as if locked.
            self.refused_for = _locked_for(self.locked_key) or settings.LOGIN_LOCKOUT_SECONDS

    def succeeded(self) -> None:
        _cache("delete", self.attempts_key)

    def failed(self) -> None:
        if self.number < settings.LOGIN_FAILURE_LIMIT:
            return
        lockout = settings.LOGIN_LOCKOUT_SECONDS
        _cache("set", self.locked_key, time.time() + lockout, timeout=lockout)
        # The count stays at the limit as long as the lock: an attempt racing the lock's
        # writing is refused by the count, and both end together.
        _cache("set", self.attempts_key, settings.LOGIN_FAILURE_LIMIT, timeout=lockout)
        logger.warning("login locked for %r from %s after %d failures", self.username, self.ip, self.number)


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed login attempts. Please try again in %(minutes)d minute.",
        "Too many failed login attempts. Please try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


class ThrottleMixin:
    """For an AuthenticationForm: refuse a locked-out username, count every check of a password."""

    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if not self.cleaned_data.get("password"):
            return super().clean()  # nothing is checked without a password
        attempt = LoginAttempt(username, client_ip(self.request))
        if attempt.refused_for:
            self.throttled = True
            raise ValidationError(lockout_message(attempt.refused_for), code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            # Wrong credentials only: a right password refused for another reason (the admin
            # login of a non-staff user) is not a guess.
            if self.user_cache is None:
                attempt.failed()
            else:
                attempt.succeeded()
            raise
        attempt.succeeded()
        return cleaned


class ThrottledAuthenticationForm(ThrottleMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Wrong username or password. Please try again."),
    }


class ThrottledAdminAuthenticationForm(ThrottleMixin, AdminAuthenticationForm):
    """The admin's login page, counted with the others (accounts/admin.py installs it)."""


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response


class ThrottledAuthTokenSerializer(AuthTokenSerializer):
    """The API token endpoint's credentials check, counted with the login page's."""

    def validate(self, attrs):
        username = attrs.get("username") or ""
        attempt = LoginAttempt(username, client_ip(self.context.get("request")))
        if attempt.refused_for:
            throttled = exceptions.Throttled(detail=lockout_message(attempt.refused_for))
            throttled.wait = attempt.refused_for  # the Retry-After header, without DRF's "expected available in" text
            raise throttled
        try:
            attrs = super().validate(attrs)
        except exceptions.ValidationError:
            attempt.failed()
            raise
        attempt.succeeded()
        return attrs
