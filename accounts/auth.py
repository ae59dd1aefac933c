"""Logging in, with repeated failures throttled.

After LOGIN_FAILURE_LIMIT failed attempts for one username from one address within
LOGIN_FAILURE_WINDOW seconds, that username is refused from that address for
LOGIN_LOCKOUT_SECONDS, whatever the password: guessing a password costs hours, while the
person (from their own desk) is not locked out by someone else's guessing elsewhere.
The login page, the admin's login page and the API token endpoint count together.

The counts live in Django's cache: per process with the default LocMemCache, so production
with several web processes points CACHES at Redis (REDIS_URL, see config/settings.py).
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
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework import exceptions
from rest_framework.authtoken.serializers import AuthTokenSerializer

logger = logging.getLogger(__name__)


def _client_ip(request) -> str:
    # REMOTE_ADDR only: a client can forge X-Forwarded-For. Behind one reverse proxy every
    # request shares the proxy's address, and the throttle is then per username.
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def _keys(username: str, request) -> tuple[str, str]:
    subject = f"{(username or '').strip().casefold()}\0{_client_ip(request)}"
    digest = hashlib.sha256(subject.encode()).hexdigest()
    return f"login-failures:{digest}", f"login-locked:{digest}"


def lockout_remaining(username: str, request) -> int:
    """Seconds this username stays refused from this address; 0 when it may try."""
    _failures, locked = _keys(username, request)
    until = cache.get(locked)
    return max(0, math.ceil(until - time.time())) if until else 0


def record_failure(username: str, request) -> None:
    failures, locked = _keys(username, request)
    cache.add(failures, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
    try:
        n = cache.incr(failures)
    except ValueError:  # expired between add and incr
        cache.set(failures, n := 1, timeout=settings.LOGIN_FAILURE_WINDOW)
    if n >= settings.LOGIN_FAILURE_LIMIT:
        cache.set(locked, time.time() + settings.LOGIN_LOCKOUT_SECONDS, timeout=settings.LOGIN_LOCKOUT_SECONDS)
        cache.delete(failures)
        logger.warning("login locked for %r from %s after %d failures", username, _client_ip(request), n)


def record_success(username: str, request) -> None:
    cache.delete(_keys(username, request)[0])


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed login attempts. Please try again in %(minutes)d minute.",
        "Too many failed login attempts. Please try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


class ThrottleMixin:
    """For an AuthenticationForm: refuse a locked-out username, count wrong credentials."""

    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if remaining := lockout_remaining(username, self.request):
            self.throttled = True
            raise ValidationError(lockout_message(remaining), code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            # Wrong credentials only: a right password refused for another reason (the admin
            # login of a non-staff user) is not a guess.
            if self.user_cache is None and self.cleaned_data.get("password"):
                record_failure(username, self.request)
            raise
        record_success(username, self.request)
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
        request = self.context.get("request")
        if remaining := lockout_remaining(username, request):
            throttled = exceptions.Throttled(detail=lockout_message(remaining))
            throttled.wait = remaining  # the Retry-After header, without DRF's "expected available in" text
            raise throttled
        try:
            attrs = super().validate(attrs)
        except exceptions.ValidationError:
            record_failure(username, request)
            raise
        record_success(username, request)
        return attrs
