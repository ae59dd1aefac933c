"""A real Celery worker on the machine's Redis delivers one reminder once."""

import os
import time

import pytest
from django.core import mail
from django.utils import timezone

from handover.models import Notification, State

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not REDIS_URL, reason="no Redis on this machine (scripts/test.sh sets TEST_REDIS_URL when one answers)"
    ),
]


@pytest.fixture
def redis_worker(settings):
    from celery.contrib.testing.worker import start_worker

    from handover.tests.conftest import celery_broker

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with celery_broker(REDIS_URL) as app:
        with app.connection_for_write() as conn:
            conn.default_channel.client.flushdb()
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield app


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_delivers_one_reminder_once(redis_worker, start, people):
    from handover.tasks import deliver_notification, scan_reminders

    people.departing.email = "lihua@example.com"
    people.departing.save(update_fields=["email"])
    h = start()
    h.deadlines.filter(state=State.PLAN).update(due_on=timezone.localdate())
    Notification.objects.all().delete()  # only the reminder counts here
    mail.outbox.clear()

    # Two beats firing at once, and a retried delivery on top.
    scan_reminders.delay()
    scan_reminders.delay()
    deadline = time.monotonic() + 30
    notice = None
    while time.monotonic() < deadline:
        notice = Notification.objects.filter(user=people.departing, source__startswith="reminder:").first()
        if notice and notice.emailed_at:
            break
        time.sleep(0.2)
    assert notice is not None and notice.emailed_at is not None, "the worker did not deliver in 30 s"
    deliver_notification.delay(notice.pk)
    time.sleep(1.5)
    to_departing = [m for m in mail.outbox if m.to == ["lihua@example.com"]]
    assert len(to_departing) == 1
    assert h.number in to_departing[0].subject
    assert Notification.objects.filter(user=people.departing, source__startswith="reminder:").count() == 1
