"""Outgoing webhooks: each event written in the transaction that made it happen, sent after the commit.

`webhook_emit` writes the event and one delivery per active subscription that asks for its type,
in the caller's transaction: an action that is refused or rolled back tells no one, and an event
committed is never lost to a broker outage (the periodic scan sends what is owed). After the
commit each delivery is handed to a Celery task (no broker: a thread of this process), so no
request waits on another system.

A delivery is a POST of {"id", "type", "occurred_at", "data"} in JSON, with the headers
X-Handover-Event, X-Handover-Event-Id, X-Handover-Timestamp and X-Handover-Signature:
"sha256=" + hex HMAC-SHA256 under the subscription's secret of "<timestamp>.<body>". The receiver
checks the signature and the timestamp's age, and deduplicates by the event id. A delivery is
sent until it is answered 2xx, at most MAX_ATTEMPTS times, each retry later than the one before
(BACKOFF_MINUTES doubling); once answered 2xx it is stamped and never sent again, even if its task
runs twice.
"""

import datetime
import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from .models import WebhookDelivery, WebhookEvent, WebhookSubscription

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BACKOFF_MINUTES = 1  # 1, 2, 4 ... minutes after each failure
BACKOFF_MAX = datetime.timedelta(hours=6)
TIMEOUT_SECONDS = 10


def webhook_emit(event_type: str, data: dict | Callable[[], dict], *, key: str | None = None) -> WebhookEvent | None:
    """Write the event and its deliveries now, in the caller's transaction; queue them after the commit.

    With `key`, an event already written under that key is not written again (None is returned).
    With no subscription asking for the type, nothing is written, and `data`, if it is a function
    giving the data, is not called.
    """
    written = webhook_emit_all(event_type, lambda: [(data() if callable(data) else data, key)])
    return written[0] if written else None


Events = list[tuple[dict, str | None]]


def webhook_emit_all(event_type: str, events: Events | Callable[[], Events]) -> list[WebhookEvent]:
    """webhook_emit for many events of one type (a completion's owner changes) in a fixed number of
    queries. `events` may be a function giving them, called only when a subscription asks for the type."""
    subscriptions = [s for s in WebhookSubscription.objects.filter(active=True) if s.wants(event_type)]
    if not subscriptions:
        return []
    if callable(events):
        events = events()
    if not events:
        return []
    keys = [key for _data, key in events if key is not None]
    seen = set(WebhookEvent.objects.filter(key__in=keys).values_list("key", flat=True)) if keys else set()
    now = timezone.now()
    rows = []
    for data, key in events:
        if key is not None and key in seen:
            continue
        seen.add(key)
        # Dates and Decimals as JSON has them.
        body = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
        rows.append(WebhookEvent(event_id=uuid.uuid4(), type=event_type, key=key, data=body, occurred_at=now))
    written = WebhookEvent.objects.bulk_create(rows)
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, subscription=s, next_attempt_at=now) for event in written for s in subscriptions
    )
    transaction.on_commit(_enqueue_due)
    return written


def person_data(user) -> dict | None:
    """A person as every event names them: id, employee number (for the HR system) and name."""
    if user is None:
        return None
    return {"id": user.pk, "employee_no": user.employee_no, "name": user.display_name}


def body_of(event: WebhookEvent) -> bytes:
    payload = {
        "id": str(event.event_id),
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.data,
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and return the HTTP status (a test stands in for it)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - the admin's URL
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def webhook_deliver(delivery_id: int) -> bool:
    """Send one delivery if it is still owed and due. True when this call delivered it."""
    with transaction.atomic():
        d = (
            WebhookDelivery.objects.select_for_update()
            .select_related("event", "subscription")
            .filter(pk=delivery_id, delivered_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
            .first()
        )
        if d is None or not d.subscription.active:
            return False
        body = body_of(d.event)
        timestamp = str(int(timezone.now().timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "handover-webhooks/1",
            "X-Handover-Event": d.event.type,
            "X-Handover-Event-Id": str(d.event.event_id),
            "X-Handover-Timestamp": timestamp,
            "X-Handover-Signature": signature(d.subscription.secret, timestamp, body),
        }
        status, error = None, ""
        try:
            status = post(d.subscription.url, body, headers)
        except Exception as exc:  # noqa: BLE001 - any failure to reach the system is retried later
            error = str(exc) or type(exc).__name__
        d.attempts += 1
        d.last_status = status
        if status is not None and 200 <= status < 300:
            d.delivered_at = timezone.now()
            d.last_error = ""
        else:
            d.last_error = (error or f"HTTP {status}")[:500]
            backoff = datetime.timedelta(minutes=BACKOFF_MINUTES * 2 ** (d.attempts - 1))
            d.next_attempt_at = timezone.now() + min(backoff, BACKOFF_MAX)
        d.save(update_fields=["attempts", "last_status", "delivered_at", "last_error", "next_attempt_at"])
        return d.delivered_at is not None


def due_delivery_ids(*, now=None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    owed = Q(delivered_at__isnull=True, attempts__lt=MAX_ATTEMPTS, next_attempt_at__lte=now, subscription__active=True)
    return list(
        WebhookDelivery.objects.filter(owed).order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit]
    )


# The Celery task sits above this app: HandoverConfig.ready() hands its queueing down here.
_queue: list = []
_eager: list = [lambda: False]


def deliver_webhooks_with(enqueue, *, eager=None) -> None:
    _queue[:] = [enqueue]
    _eager[:] = [eager or (lambda: False)]


def webhooks_queue_due() -> int:
    """The periodic scan: queue what is owed and due (a broker that was down, a failure to retry)."""
    ids = due_delivery_ids()
    _enqueue(ids)
    return len(ids)


def _enqueue_due() -> None:
    _enqueue(due_delivery_ids())


def _enqueue(ids: list[int]) -> None:
    if not ids:
        return
    if not _queue or _eager[0]():
        # No broker: Celery would send them inside the request; a thread of this process does.
        threading.Thread(target=_deliver_in_thread, args=(ids,), name="webhooks", daemon=True).start()
        return
    for pk in ids:
        try:
            _queue[0](pk)
        except Exception:  # noqa: BLE001 - the broker being down must not fail the request
            logger.warning("could not queue webhook delivery %s; the scan will retry", pk, exc_info=True)
            return


def _deliver_in_thread(ids: list[int]) -> None:
    try:
        for pk in ids:
            try:
                webhook_deliver(pk)
            except Exception:  # noqa: BLE001 - counted on the row; the next scan tries again
                logger.warning("webhook delivery %s failed; the scan will retry", pk, exc_info=True)
    finally:
        connections.close_all()
