"""The in-app bell, and the record of what each channel (email, group robot) still has to send.

What a notice says and whom it goes to is decided by the app that sends it (handover/notify.py
composes the procedure's notices); this app only keeps them and shows them. It imports no app
that sends notices, so accounts and the pages can show the bell without importing them.
"""

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
