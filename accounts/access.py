"""Writing the access log (accounts.models.AccessLog): one INSERT per request."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address

from .models import AccessLog

Action = AccessLog.Action
_DETAIL_MAX = AccessLog._meta.get_field("detail").max_length


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
