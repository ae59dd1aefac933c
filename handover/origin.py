"""The address a person reached the site at, for links printed where no request is at hand.

The printed verification link (the QR code of the archived confirmation) uses settings.SITE_URL;
when that is not set, the address of the request that completed the handover, which the
archive job keeps, since the confirmation is made later with no request. The middleware makes the
current request's address available to the services (they are not handed the request).
"""

import contextvars

from django.conf import settings
from django.core.exceptions import DisallowedHost

_request: contextvars.ContextVar = contextvars.ContextVar("handover_request", default=None)


def current() -> str:
    """The scheme and host of the request being answered ("https://crm.example.cn"), or ""."""
    request = _request.get()
    if request is None:
        return ""
    try:
        return f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:
        return ""


def site_url(recorded: str = "") -> str:
    """SITE_URL when set, else the address recorded from a request (or the current one)."""
    return (settings.SITE_URL or recorded or current()).rstrip("/")


class RequestOriginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
