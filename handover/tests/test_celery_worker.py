"""A real Celery worker on the machine's Redis delivers one reminder once."""

import collections
import os
import threading
import time

import pytest
from celery import signals
from django.core import mail
from django.utils import timezone

from handover.models import ArchivedDocument, Event, SignaturePurpose, State
from notifications.models import Notification
from tests.walk import advance_to, sign_missing, signature_of

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not REDIS_URL, reason="no Redis on this machine (scripts/test.sh sets TEST_REDIS_URL when one answers)"
    ),
]


class TaskLedger:
    """Every task sent (from the test or from inside the worker) and every run that ended, by id.

    A retry sends the same id again, so a task is done when it has ended as often as it was sent.
    """

    def __init__(self):
        self.sent = collections.Counter()
        self.ended = collections.Counter()
        self.states: dict[str, list[str]] = collections.defaultdict(list)
        self.lock = threading.Lock()

    def on_sent(self, sender=None, headers=None, body=None, **kwargs):
        task_id = (headers or {}).get("id") or (body or {}).get("id")
        with self.lock:
            self.sent[task_id] += 1

    def on_ended(self, sender=None, task_id=None, state=None, **kwargs):
        with self.lock:
            self.ended[task_id] += 1
            self.states[sender.name if sender else "?"].append(state)

    def drained(self) -> bool:
        with self.lock:
            return bool(self.sent) and all(self.ended[i] >= n for i, n in self.sent.items())

    def wait_drained(self, *, including: str, timeout: float = 30) -> None:
        """Until every task sent so far, `including` this one, has run to its end."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Drained twice in a row, a moment apart: a task that sends another is not caught between the two.
            if including in self.ended and self.drained():
                time.sleep(0.3)
                if self.drained():
                    return
            time.sleep(0.05)
        with self.lock:
            pending = {i: n - self.ended[i] for i, n in self.sent.items() if self.ended[i] < n}
        raise AssertionError(f"tasks still pending after {timeout} s: {pending}")


@pytest.fixture
def ledger():
    ledger = TaskLedger()
    signals.after_task_publish.connect(ledger.on_sent, weak=False)
    signals.task_postrun.connect(ledger.on_ended, weak=False)
    yield ledger
    signals.after_task_publish.disconnect(ledger.on_sent)
    signals.task_postrun.disconnect(ledger.on_ended)


@pytest.fixture
def redis_worker(settings, ledger):
    from celery.contrib.testing.worker import start_worker

    from handover.tests.conftest import celery_broker

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with celery_broker(REDIS_URL) as app:
        with app.connection_for_write() as conn:
            conn.default_channel.client.flushdb()
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield app


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_delivers_one_reminder_once(redis_worker, ledger, start, people):
    from handover.tasks import deliver_notification, scan_reminders

    people.departing.email = "lihua@example.com"
    people.departing.save(update_fields=["email"])
    h = start()
    h.deadlines.filter(state=State.PLAN).update(due_on=timezone.localdate())
    Notification.objects.all().delete()  # only the reminder counts here
    mail.outbox.clear()

    # Two beats firing at once, and a retried delivery on top.
    scan_reminders.delay()
    last_scan = scan_reminders.delay()
    ledger.wait_drained(including=last_scan.id)
    notice = Notification.objects.get(user=people.departing, source__startswith="reminder:")
    assert notice.emailed_at is not None, "the worker did not deliver"
    retried = deliver_notification.delay(notice.pk)
    # Everything sent has run, the retried delivery included: a duplicate would be in the outbox now.
    ledger.wait_drained(including=retried.id)
    to_departing = [m for m in mail.outbox if m.to == ["lihua@example.com"]]
    assert len(to_departing) == 1
    assert h.number in to_departing[0].subject
    assert Notification.objects.filter(user=people.departing, source__startswith="reminder:").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_makes_the_archive_the_broker_missed_once(
    redis_worker, ledger, handover, people, sealed, monkeypatch
):
    from handover import services, tasks
    from handover.services import archive, invitations

    def broker_down(*args, **kwargs):
        raise ConnectionError("the broker is down")

    # The walk's visit invitations are not this test's: queued, the worker would write them while the
    # walk writes too, which SQLite's in-memory test database answers with "table is locked".
    monkeypatch.setattr(invitations, "_delivery_queue", [lambda pk: None])
    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    with monkeypatch.context() as patched:
        patched.setattr(tasks.archive_handover, "delay", broker_down)
        # Nor did this process's archive thread run (the process ended first, say).
        patched.setattr(archive, "_run_in_process", [lambda handover_id: None])
        h = services.handover_transition(
            handover=h, name="approve_report", user=people.manager, signature=signature_of(people.manager)
        )
    assert h.state == State.COMPLETED and not ArchivedDocument.objects.exists()

    # Two beats at once: each scan queues the missing archive; one is made, the other finds it made.
    tasks.scan_reminders.delay()
    last_scan = tasks.scan_reminders.delay()
    ledger.wait_drained(including=last_scan.id, timeout=90)
    assert len(ledger.states["handover.tasks.archive_handover"]) == 2
    assert set(ledger.states["handover.tasks.archive_handover"]) == {"SUCCESS"}, ledger.states
    assert ArchivedDocument.objects.filter(handover=h, sealed=True).count() == 1
    assert Event.objects.filter(handover=h, kind="archived").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_sends_each_visit_invitation_once(redis_worker, ledger, start, people, monkeypatch):
    from handover import services, tasks
    from handover.models import InvitationDelivery
    from handover.services import PlanRow, invitations

    for user in (people.departing, people.receiver):
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])
    h = start()
    hc = h.clients.order_by("pk").first()
    queue = invitations._delivery_queue[:]
    # Written with the plan's save while the broker is down: owed, not lost.
    monkeypatch.setattr(invitations, "_delivery_queue", [lambda pk: (_ for _ in ()).throw(ConnectionError("down"))])
    services.plan_save_rows(handover=h, user=people.departing, rows=[PlanRow(hc.pk)])
    owed = services.pending_invitation_ids()
    assert len(owed) == 2
    monkeypatch.setattr(invitations, "_delivery_queue", queue)
    mail.outbox.clear()
    # Two beats at once, and a retried delivery on top.
    tasks.scan_reminders.delay()
    last_scan = tasks.scan_reminders.delay()
    ledger.wait_drained(including=last_scan.id)
    retried = tasks.deliver_invitation.delay(owed[0])
    ledger.wait_drained(including=retried.id)
    assert sorted(m.to[0] for m in mail.outbox if m.alternatives) == sorted(
        [people.departing.email, people.receiver.email]
    )
    assert not InvitationDelivery.objects.filter(sent_at__isnull=True).exists()
