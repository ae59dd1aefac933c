"""Idempotency-Key: an API write sent twice acts once.

Two guards stop an API write from acting twice; the key is the one for double submission:
- `Idempotency-Key` (header, on every write): a client that may send a write again (a retry after
  a timeout, a double click, a queue delivering twice) sends the same key with it. The first
  request claims the key in the same transaction as its action and stores its answer there; a
  repeat by the same user gets the stored answer (with `Idempotent-Replayed: true`) and acts no
  more. A repeat arriving while the first is still running waits on the key's unique index and
  then gets the same answer. Only successful answers are kept: a refused request changed nothing,
  so a retry with the same key is judged again. The same key with another request (method, path
  or body) is refused with 422. Keys are kept IDEMPOTENCY_KEY_TTL seconds.
- `version` (in the body, on every write, as the pages always send it): act only if the handover
  is still at the version the client read; otherwise 409. It stops acting on a stale view, and a
  double submission carrying it acts once too, but the repeat hears 409 instead of the answer.
"""

import datetime
import json
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS

from .models import IdempotencyKey
from .serializers import ErrorSerializer

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII: a UUID, a ULID, any token a client makes.
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
_KEY = re.compile(KEY_PATTERN)


class KeyReused(exceptions.APIException):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = _("This Idempotency-Key was already used for a different request.")


class _Replay(Exception):
    def __init__(self, response: HttpResponse):
        self.response = response


def applies(view, method: str) -> bool:
    """Writes of views that know their user: not the token endpoint (anonymous, and its answer is a
    secret not to be stored); a view may opt out with `idempotency_key = False`."""
    return (
        method.upper() not in SAFE_METHODS
        and getattr(view, "idempotency_key", True)
        and bool(getattr(view, "authentication_classes", None))
    )


class IdempotentWrites:
    """For API views: every write honours the Idempotency-Key header."""

    def dispatch(self, request, *args, **kwargs):
        if not (applies(self, request.method) and HEADER in request.headers):
            return super().dispatch(request, *args, **kwargs)
        _forget_expired()
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            claim = getattr(self, "_idempotency_claim", None)
            if claim is not None:
                if 200 <= response.status_code < 300:
                    response.render()
                    claim.status_code = response.status_code
                    claim.content_type = response.get("Content-Type", "")
                    claim.body = response.content.decode()
                    claim.save(update_fields=["status_code", "content_type", "body"])
                else:
                    # A refused request changed nothing (its service rolled back): free the key so
                    # that a retry is judged again. Rows written beside it (access log) stay.
                    claim.delete()
        return response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get(HEADER)
        if key is not None and applies(self, request.method):
            self._idempotency_claim = _claim(request, key)

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)


def _claim(request, key: str) -> IdempotencyKey:
    """The key, claimed for this request; or _Replay with the answer a first one got."""
    if not _KEY.fullmatch(key):
        raise exceptions.ValidationError({HEADER: [_("Idempotency-Key must be 1 to 255 visible ASCII characters.")]})
    user, fingerprint = request.user, _fingerprint(request)
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=user, key=key, endpoint=f"{request.method} {request.path}"[:200], fingerprint=fingerprint
            )
    except IntegrityError:
        # Claimed by an earlier request; or by one still running then, whose end the insert waited for.
        pass
    first = IdempotencyKey.objects.get(user=user, key=key)
    if first.fingerprint != fingerprint:
        raise KeyReused()
    response = HttpResponse(first.body, status=first.status_code, content_type=first.content_type)
    response[REPLAYED_HEADER] = "true"
    raise _Replay(response)


def _forget_expired() -> None:
    # Before the request's transaction, on its own: the rows it deletes are locked only for this
    # statement, never while another request acts.
    expired = timezone.now() - datetime.timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)
    IdempotencyKey.objects.filter(created_at__lt=expired).delete()


def _fingerprint(request) -> str:
    data = request.data
    if hasattr(data, "getlist"):  # a form's QueryDict
        data = {name: data.getlist(name) for name in data}
    text = json.dumps([request.method, request.path, data], sort_keys=True, default=str, ensure_ascii=False)
    # Keyed: a body may hold a password (signing), and a plain hash of it could be guessed offline.
    return salted_hmac("handover.idempotency", text, algorithm="sha256").hexdigest()


class IdempotencySchema(AutoSchema):
    """The OpenAPI document says, on every write, that it takes the header and may answer 422."""

    idempotency_parameter = OpenApiParameter(
        HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        pattern=KEY_PATTERN,
        description="Optional, and recommended for any request you may send again: the same key with the "
        "same request acts once; a repeat gets the first answer again, with the header "
        f"{REPLAYED_HEADER}: true. Keys are yours alone and kept for a day (IDEMPOTENCY_KEY_TTL).",
    )

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        return [*parameters, self.idempotency_parameter] if applies(self.view, self.method) else parameters

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None and applies(self.view, method):
            response = self._get_response_for_code(ErrorSerializer, "422")
            response["description"] = "This Idempotency-Key was already used for a different request."
            operation["responses"]["422"] = response
        return operation
