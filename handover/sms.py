"""Text messages to clients, through a pluggable backend.

settings.SMS_BACKEND names the class by its dotted path; the default writes the message to the
console (development). Plugging in a provider is one subclass of SMSBackend with its `send`, and
the setting:

    class AliyunSMSBackend(SMSBackend):
        def send(self, phone: str, text: str) -> None:
            ...  # call the provider; raise SMSError when it refuses or cannot be reached

    SMS_BACKEND = "mycompany.sms.AliyunSMSBackend"

A failure raises SMSError (or any exception): the delivery task counts the attempt and retries.
"""

import logging
import sys

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SMSError(Exception):
    """The provider refused the message or could not be reached."""


class SMSBackend:
    def send(self, phone: str, text: str) -> None:
        raise NotImplementedError


class ConsoleSMSBackend(SMSBackend):
    """Development: the message is written to standard output, nothing is sent."""

    def send(self, phone: str, text: str) -> None:
        sys.stdout.write(f"SMS to {phone}:\n{text}\n{'-' * 40}\n")
        sys.stdout.flush()


class LocmemSMSBackend(SMSBackend):
    """Tests: the messages are kept in `outbox`, as Django's locmem email backend keeps mail."""

    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        type(self).outbox.append((phone, text))


def get_backend() -> SMSBackend:
    return import_string(getattr(settings, "SMS_BACKEND", "handover.sms.ConsoleSMSBackend"))()


def send_sms(phone: str, text: str) -> None:
    get_backend().send(phone, text)
