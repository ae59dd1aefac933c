"""Sending a client's personal link (handover.models.ClientLink) by email and SMS, exactly once: one
implementation for its two uses, the client notice (client_notices.py) and the satisfaction survey
(client_surveys.py). Each use names its rows and its wording in a LinkUse, and sends through its
own LinkSender (the use with its queue).

The delivery rows are written in the transaction that decides the sending; after the commit each
is queued to a Celery task (no broker: a thread of this process sends them), and the periodic scan
queues again what is still owed. A delivery is locked while it is sent and stamped with a
conditional update, so a second run of the task (a redelivered message, two workers) sends nothing.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.core.mail import send_mail
from django.db import connections, transaction
from django.utils import timezone

from .. import notify, sms
from ..models import NOTICE_SEND_ATTEMPTS, SENT_BY_APP, NoticeChannel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkUse:
    name: str  # in the logs and the thread's name
    delivery_model: type
    # The link as its wording needs it, by its pk.
    load_link: Callable
    # (link, the site address recorded on the delivery) -> its wording: .subject, .letter, .short.
    texts: Callable
    link_field: str
    attempts: int = NOTICE_SEND_ATTEMPTS


class LinkSender:
    """One use's sending: its LinkUse, and the Celery task's queueing that HandoverConfig.ready()
    hands down (tasks sit above services) with whether Celery runs tasks eagerly (no broker:
    .delay would then send inside the request). One instance per use; the tests patch its
    `queue` and `eager`."""

    def __init__(self, use: LinkUse):
        self.use = use
        self.queue: Callable | None = None
        self.eager: Callable[[], bool] = lambda: False

    def connect(self, enqueue: Callable, *, eager: Callable[[], bool] | None = None) -> None:
        self.queue = enqueue
        self.eager = eager or (lambda: False)

    def pending_ids(self, limit: int = 500) -> list[int]:
        return list(
            self.use.delivery_model.objects.filter(
                channel__in=SENT_BY_APP, sent_at__isnull=True, attempts__lt=self.use.attempts
            ).values_list("pk", flat=True)[:limit]
        )

    def queue_after_commit(self) -> None:
        transaction.on_commit(self.enqueue_pending)

    def queue_pending_now(self) -> int:
        """The periodic scan: queue again what is still owed (a broker that was down, a worker that died)."""
        ids = self.pending_ids()
        self.enqueue_pending(ids)
        return len(ids)

    def enqueue_pending(self, ids: list[int] | None = None) -> None:
        """Hand the deliveries to the task, or with no broker to a thread of this process."""
        ids = self.pending_ids() if ids is None else ids
        if not ids:
            return
        if self.eager():
            # No broker: Celery would send them here, inside the request; a thread of this process does.
            name = self.use.name.replace(" ", "-")
            threading.Thread(target=self.deliver_in_thread, args=(ids,), name=name, daemon=True).start()
            return
        for pk in ids:
            try:
                self.queue(pk)
            except Exception:  # noqa: BLE001 - the broker being down must not fail the request
                logger.warning("could not queue %s delivery %s; the scan will retry", self.use.name, pk, exc_info=True)
                return

    def deliver_in_thread(self, ids: list[int]) -> None:
        try:
            for pk in ids:
                try:
                    self.deliver(pk)
                except Exception:  # noqa: BLE001 - counted on the row; the next scan tries again
                    logger.warning("%s delivery %s failed; the scan will retry", self.use.name, pk, exc_info=True)
        finally:
            # A thread's connection is its own: none left open.
            connections.close_all()

    def deliver(self, delivery_id: int) -> bool:
        """Send one delivery if it is still owed. True when this call sent it (a second run of the
        task, a redelivered message or two workers, finds it sent and does nothing)."""
        use = self.use
        model = use.delivery_model
        with transaction.atomic():
            d = (
                model.objects.select_for_update()
                .filter(pk=delivery_id, channel__in=SENT_BY_APP, sent_at__isnull=True, attempts__lt=use.attempts)
                .first()
            )
            if d is None:
                return False
            texts = use.texts(use.load_link(getattr(d, f"{use.link_field}_id")), d.site_url)
            try:
                if d.channel == NoticeChannel.EMAIL:
                    send_mail(d.subject or texts.subject, texts.letter, None, [d.recipient], fail_silently=False)
                else:
                    sms.send_sms(d.recipient, texts.short)
            except Exception as exc:  # noqa: BLE001 - any failure of a channel is retried
                # Counted in this transaction, which commits: the task then retries with backoff.
                failure = str(exc) or type(exc).__name__
                model.objects.filter(pk=d.pk).update(attempts=d.attempts + 1, error=failure[:500])
            else:
                failure = ""
                stamped = model.objects.filter(pk=d.pk, sent_at__isnull=True).update(
                    sent_at=timezone.now(), attempts=d.attempts + 1, error=""
                )
        if failure:
            raise notify.DeliveryError(failure)
        return bool(stamped)
