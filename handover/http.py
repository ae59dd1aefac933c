"""What the pages and the API both take from an HTTP request before calling a service."""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from . import services

logger = logging.getLogger(__name__)


def signature_input(request: HttpRequest, data: dict) -> services.SignatureInput:
    """What the person gave on the signing form (page or JSON), with where it came from."""
    return services.SignatureInput(
        method=data["method"],
        password=data["password"],
        typed_name=data["typed_name"],
        image=data["image"],
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def answer_rate_limited(request, token: str) -> bool:
    """Over the limit of the answer page, by address or by link (counted in the cache)."""
    window = settings.CLIENT_ANSWER_RATE_WINDOW
    keys = {
        f"client-answer:ip:{request.META.get('REMOTE_ADDR', '')}": settings.CLIENT_ANSWER_RATE_PER_IP,
        f"client-answer:token:{hashlib.sha256(token.encode()).hexdigest()[:32]}": settings.CLIENT_ANSWER_RATE_PER_TOKEN,
    }
    over = False
    for key, limit in keys.items():
        try:
            cache.add(key, 0, window)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between the two calls
                cache.set(key, 1, window)
                count = 1
        except Exception:  # noqa: BLE001 - a cache that is down lets the client answer, unlimited
            logger.warning("the answer page's rate limit could not count %s", key, exc_info=True)
            continue
        over = over or count > limit
    return over
