"""Writing the access log (accounts.models.AccessLog): one INSERT per request."""

import functools

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_ipv46_address
from django.http import Http404

from .models import AccessLog

Action = AccessLog.Action
_DETAIL_MAX = AccessLog._meta.get_field("detail").max_length
# Answers that mean "you may not read this": logged as refused.
REFUSED_STATUSES = frozenset({403, 404})


def _ip(request) -> str | None:
    address = request.META.get("REMOTE_ADDR") or ""
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address


def log_access(request, action: str, *, client=None, detail: str = "", refused: bool = False) -> None:
    AccessLog.objects.create(
        user=request.user,
        action=action,
        client=client,
        detail=detail[:_DETAIL_MAX],
        refused=refused,
        ip=_ip(request),
    )


def note(request, text: str) -> None:
    """Name what was read (say, a handover's number) in the row logged for this request."""
    request.access_note = text


def read_detail(request) -> str:
    # The path names the object even when it was refused (and so never looked up); the note,
    # when the view found the object, names it the way people know it.
    path = request.get_full_path()
    text = getattr(request, "access_note", "")
    return f"{text} {path}" if text else path


def log_read(request, action: str, *, status: int) -> None:
    """The one row of a read of client data, refused when the answer was 403 or 404."""
    if getattr(request.user, "is_authenticated", False):
        log_access(request, action, detail=read_detail(request), refused=status in REFUSED_STATUSES)


def logs_reads(action: str):
    """Log every GET of the decorated view, once: a refusal (403 or 404, raised or answered) too."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method != "GET":
                return view(request, *args, **kwargs)
            try:
                response = view(request, *args, **kwargs)
            except Http404:
                log_read(request, action, status=404)
                raise
            except PermissionDenied:
                log_read(request, action, status=403)
                raise
            log_read(request, action, status=response.status_code)
            return response

        return wrapped

    return decorator


def log_anonymous(request, action: str, *, detail: str = "", refused: bool = False) -> None:
    """A page open without a login (a client's notice link): the row names no user, but the address."""
    AccessLog.objects.create(user=None, action=action, detail=detail[:_DETAIL_MAX], refused=refused, ip=_ip(request))
