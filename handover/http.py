"""What the pages and the API both take from an HTTP request before calling a service."""

from django.http import HttpRequest

from . import services


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
