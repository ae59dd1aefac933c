"""Under /api/ every answer is JSON in the API's one error shape, Django's own refusals included.

DRF's views answer their errors through handover.api.exception_handler. What is refused before a
view runs or outside DRF (a URL no view matches, a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a
suspicious request, a crash while DEBUG would show its HTML pages) is answered here in the same
shape, {"detail": ..., "code": ...}, so an API client never has to parse HTML.
"""

import http

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

# Deeper than any request this API takes (three levels at most), far below the recursion limit.
JSON_MAX_DEPTH = 32

_DEFAULTS = {
    400: ("invalid", exceptions.ParseError.default_detail),
    401: ("not_authenticated", exceptions.NotAuthenticated.default_detail),
    403: ("not_allowed", exceptions.PermissionDenied.default_detail),
    404: ("not_found", exceptions.NotFound.default_detail),
    405: ("method_not_allowed", exceptions.MethodNotAllowed.default_detail),
    413: ("too_large", None),
    415: ("unsupported_media_type", exceptions.UnsupportedMediaType.default_detail),
    500: ("error", exceptions.APIException.default_detail),
}


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def error_response(request, status: int, detail: str | None = None, code: str | None = None) -> JsonResponse:
    default_code, default_detail = _DEFAULTS.get(status, (None, None))
    if detail is None:
        if status == 413:
            detail = _too_large_detail()
        elif default_detail is not None:
            # DRF's 405 and 415 texts name the method or media type.
            detail = str(default_detail).format(method=request.method, media_type=request.content_type)
        else:
            detail = http.HTTPStatus(status).phrase
    return JsonResponse({"detail": detail, "code": code or default_code or "error"}, status=status)


def _too_large_detail() -> str:
    return _("The request is too large: at most %(size)s bytes.") % {"size": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _is_json(response) -> bool:
    # application/json, and the schema's application/vnd.oai.openapi+json.
    return "json" in response.get("Content-Type", "")


class ApiErrorMiddleware:
    """First in MIDDLEWARE: sees every answer under /api/ on its way out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_api(request) and response.status_code >= 400 and not _is_json(response):
            # An HTML page of Django's (404, 500, 400, 403) becomes the shape; the headers stay
            # (Allow, WWW-Authenticate and the security headers the other middleware added).
            shaped = error_response(request, response.status_code)
            for name, value in response.items():
                if name.lower() not in {"content-type", "content-length"}:
                    shaped[name] = value
            return shaped
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # First of the view middleware, before CSRF's reads the form body: a body declared too
        # large is refused before anyone reads it. (DRF's JSON parser reads the stream itself and
        # would never hear of Django's limit.)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if is_api(request) and limit is not None and _declared_length(request) > limit:
            return error_response(request, 413)
        return None

    def process_exception(self, request, exception):
        if is_api(request) and isinstance(exception, RequestDataTooBig):
            return error_response(request, 413)
        return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing nesting deeper than JSON_MAX_DEPTH with a 400 instead of a crash."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(_too_deep_detail()) from exc
        if _depth(data) > JSON_MAX_DEPTH:
            raise exceptions.ParseError(_too_deep_detail())
        return data


def _too_deep_detail() -> str:
    return _("JSON parse error: nested deeper than %(depth)d levels.") % {"depth": JSON_MAX_DEPTH}


def _depth(data) -> int:
    """How deep lists and objects nest, counted without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > JSON_MAX_DEPTH:
                break
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return deepest
