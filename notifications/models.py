"""The in-app bell, and the record of what each channel (email, group robot) still has to send.

What a notice says and whom it goes to is decided by the app that sends it (handover/notify.py
composes the procedure's notices); this app only keeps them and shows them. It imports no app
that sends notices, so accounts and the pages can show the bell without importing them.
"""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """The in-app bell; also the record of what each channel still has to send."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="notifications"
    )
    # A string reference, not an import: the handover a notice is about, if any.
    handover = models.ForeignKey(
        "handover.Handover",
        verbose_name=_("handover"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # What caused it: exactly one notification per source and person.
    source = models.CharField(_("source"), max_length=80)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(_("email attempts"), default=0)
    webhooked_at = models.DateTimeField(_("sent to the group robot at"), null=True, blank=True)
    webhook_attempts = models.PositiveSmallIntegerField(_("group robot attempts"), default=0)

    class Meta:
        # The table the handover app created: the model moved here, its rows did not.
        db_table = "handover_notification"
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "source"], name="notification_once_per_source")]
        indexes = [models.Index(fields=["user", "read_at"], name="handover_no_user_id_9628e4_idx")]

    def __str__(self) -> str:
        return self.title


# ---------------------------------------------------------------------------------------
# Outgoing webhooks: what happens, told to the company's other systems (HR, CRM)


class WebhookEventType(models.TextChoices):
    HANDOVER_STARTED = "handover.started", _("A handover started")
    STAGE_CHANGED = "stage.changed", _("A handover moved to another stage")
    ITEM_DISPUTED = "item.disputed", _("A receiver disputed a checklist item")
    HANDOVER_COMPLETED = "handover.completed", _("A handover was completed")
    CLIENT_OWNER_CHANGED = "client.owner_changed", _("A client changed owner")
    DUTY_OVERDUE = "duty.overdue", _("A duty after the handover is overdue")


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookSubscription(models.Model):
    """A URL of another system told of the events it asks for, each body signed with its secret."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(
        _("secret"),
        max_length=200,
        default=_new_secret,
        help_text=_(
            "Each body is signed with it: X-Handover-Signature is sha256= and the HMAC-SHA256, under this secret, "
            "of the X-Handover-Timestamp header, a dot and the body."
        ),
    )
    events = models.JSONField(
        _("events"), default=list, blank=True, help_text=_("The event types it receives; empty: every one.")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookEvent(models.Model):
    """One thing that happened, written in the transaction that made it happen."""

    event_id = models.UUIDField(_("event id"), unique=True, editable=False)
    type = models.CharField(_("event"), max_length=40, choices=WebhookEventType.choices)
    # Something that may be seen again (a duty found overdue by each day's scan) is told once.
    key = models.CharField(_("key"), max_length=120, unique=True, null=True, blank=True)
    data = models.JSONField(_("data"), default=dict)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookDelivery(models.Model):
    """One event to one subscription: sent until it is answered 2xx, with backoff, at most once after that."""

    event = models.ForeignKey(
        WebhookEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="deliveries"
    )
    subscription = models.ForeignKey(
        WebhookSubscription, verbose_name=_("subscription"), on_delete=models.CASCADE, related_name="deliveries"
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last answer (HTTP status)"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="webhook_delivery_once_per_subscription")
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription}"
