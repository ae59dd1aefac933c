"""Celery tasks: thin. Load by id, call a service, retry with backoff."""

from celery import shared_task
from django.db import DatabaseError

from notifications import webhooks

from . import notify, reminders, services


@shared_task(
    bind=True,
    autoretry_for=(notify.DeliveryError,),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=notify.MAX_ATTEMPTS - 1,
    acks_late=True,
)
def deliver_notification(self, notification_id: int) -> None:
    notify.notification_deliver(notification_id=notification_id)


@shared_task(acks_late=True)
def scan_reminders() -> dict:
    """The periodic scan: today's reminders, and the archives that are still missing."""
    result = reminders.reminders_scan()
    result["archives_queued"] = services.archives_queue_missing()
    result["client_notices_queued"] = services.client_notices.queue_pending_now()
    result["client_surveys_sent"] = services.surveys_send_due()
    result["client_surveys_queued"] = services.client_surveys.queue_pending_now()
    result["invitations_queued"] = services.invitations_queue_pending()
    result["webhooks_queued"] = webhooks.webhooks_queue_due()
    return result


@shared_task(
    bind=True,
    # A full disk or a database that went away is worth another try; a missing seal certificate is
    # not (it is logged, and HR archives from the print page once the certificate is in place).
    autoretry_for=(OSError, DatabaseError),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=5,
    acks_late=True,
)
def archive_handover(self, handover_id: int) -> str:
    """Print, seal and archive a completed handover's confirmation; a second run finds it done."""
    return services.archive_job_run(handover_id=handover_id).sha256


@shared_task(acks_late=True)
def print_confirmation_annex(handover_id: int) -> str:
    """Print ahead the annex of a handover whose checklist is signed (only a head start for the
    archive, which prints it itself if this fails: no retries)."""
    row = services.confirmation_annex_print(handover_id=handover_id)
    return row.html_sha256 if row else ""


@shared_task(
    bind=True,
    autoretry_for=(notify.DeliveryError,),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=services.client_notices.MAX_ATTEMPTS - 1,
    acks_late=True,
)
def deliver_client_notice(self, delivery_id: int) -> bool:
    """Email or text one client notice; a second run finds it sent and does nothing."""
    return services.notice_deliver(delivery_id=delivery_id)


@shared_task(
    bind=True,
    autoretry_for=(notify.DeliveryError,),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=notify.MAX_ATTEMPTS - 1,
    acks_late=True,
)
def deliver_invitation(self, delivery_id: int) -> bool:
    """Email one visit invitation (or its update or cancellation) if still owed; a second run sends nothing."""
    return services.invitation_deliver(delivery_id=delivery_id)


@shared_task(
    bind=True,
    autoretry_for=(notify.DeliveryError,),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=services.client_surveys.MAX_ATTEMPTS - 1,
    acks_late=True,
)
def deliver_client_survey(self, delivery_id: int) -> bool:
    """Email or text one satisfaction survey; a second run finds it sent and does nothing."""
    return services.survey_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> bool:
    """Send one webhook delivery if it is still owed; a failure is counted on the row and retried,
    with backoff, by the periodic scan (the row holds when the next attempt is due)."""
    return webhooks.webhook_deliver(delivery_id)
