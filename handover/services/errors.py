"""The services' refusals. Each carries a message for a person; the API maps them to 400/403/404/409."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _


class HandoverError(Exception):
    status = 400

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = str(message)
        self.field = field


class InvalidInput(HandoverError):
    status = 400


class NotAllowed(HandoverError, PermissionDenied):
    status = 403


class WrongState(HandoverError):
    status = 409


class Conflict(HandoverError):
    status = 409


def changed_meanwhile() -> Conflict:
    return Conflict(_("This handover was changed by someone else in the meantime. Please reload the page."))
