"""Celery tasks: thin. Load by id, call a service, retry with backoff."""

from celery import shared_task

from . import notify, reminders


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
    return reminders.reminders_scan()
