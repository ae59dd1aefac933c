"""Telling people what they must do: in-app notifications, email and a group-robot webhook.

A notification row is written in the same transaction as the change that causes it, so a
notice can never be lost to a broker that is down. Email and webhook delivery follow the
commit as Celery tasks; the periodic scan queues again whatever is still undelivered, and
a row lock plus the delivered-at stamp make each send happen once.
"""

import json
import logging
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from notifications.models import Notification

from . import flow
from .flow import Party
from .models import ChecklistItem, Handover, HandoverClient, ItemStatus, ReminderPolicy, SignaturePurpose, State
from .signing import checker_for

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class DeliveryError(Exception):
    """A channel failed; the task retries with backoff."""


def state_actors(
    state: str, *, departing_id: int, supervisor_id: int, manager_id: int, witness_id: int, receiver_ids=()
) -> set[int]:
    """Who must act in an open state (the flow spec's actors). receiver_ids: those with something waiting there."""
    people = {
        Party.DEPARTING: {departing_id},
        Party.SUPERVISOR: {supervisor_id},
        Party.MANAGER: {manager_id},
        Party.WITNESS: {witness_id},
        Party.RECEIVERS: set(receiver_ids),
    }
    return set().union(*(people[party] for party in flow.STATES[state].actors))


def waiting_receivers(state: str, handover_ids: list[int] | None = None) -> dict[int, set[int]]:
    """Receivers with something to do, per handover in that state: items to confirm, or clients to visit.

    Without handover_ids: every handover in that state, in one query.
    """
    if state == State.MATERIALS:
        rows = ChecklistItem.objects.filter(status=ItemStatus.HANDED_OVER, handover__state=state)
    elif state == State.VISITS:
        rows = HandoverClient.objects.filter(handover__state=state)
    else:
        return {}
    if handover_ids is not None:
        rows = rows.filter(handover_id__in=handover_ids)
    result: dict[int, set[int]] = {}
    for hid, rid in rows.values_list("handover_id", "receiver_id").distinct():
        result.setdefault(hid, set()).add(rid)
    return result


def told_of_closing(h: Handover, parties) -> set[int]:
    """The people of a closed handover the flow spec says hear of it (StateSpec.told)."""
    people: set[int] = set()
    for party in parties:
        if party == Party.EVERY_RECEIVER:
            people |= set(HandoverClient.objects.filter(handover=h).values_list("receiver_id", flat=True))
        elif party == Party.HR:
            people |= set(User.objects.filter(groups__name=Role.HR, is_active=True).values_list("pk", flat=True))
        elif party == Party.DEFAULT_RECEIVER:
            people.add(h.receiver_id)
        else:
            people.add(getattr(h, f"{party}_id"))
    return people


def actors_for(h: Handover) -> set[int]:
    """Who must act on the handover now; after it closes, who must hear of it."""
    if told := flow.STATES[h.state].told:
        return told_of_closing(h, told)
    actors = state_actors(
        h.state,
        departing_id=h.departing_id,
        supervisor_id=h.supervisor_id,
        manager_id=h.manager_id,
        witness_id=h.witness_id,
        receiver_ids=waiting_receivers(h.state, [h.pk]).get(h.pk, ()),
    )
    if h.state == State.REPORT_APPROVAL:
        # Before the manager's final approval the three parties sign the checklist.
        actors |= set(checker_for(h).missing(SignaturePurpose.CHECKLIST))
    return actors


def _handover_url(h: Handover) -> str:
    try:
        return reverse("handover:detail", args=[h.pk])
    except Exception:  # noqa: BLE001 - the pages may not be installed in every deployment
        return ""


def notice_for_event(h: Handover, *, event_id: int, kind: str, actor, comment: str = "") -> int:
    """Write the in-app notices a change owes, inside the caller's transaction. Returns how many."""
    recipients = {h.departing_id} if kind == "item_disputed" else actors_for(h)
    recipients.discard(getattr(actor, "pk", None))
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        state = h.get_state_display()
        if kind == "started":
            title = _("Handover %(number)s started: %(name)s's clients") % {"number": h.number, "name": h.departing}
        elif kind == "item_disputed":
            title = _("Handover %(number)s: a receiver disputed an item") % {"number": h.number}
        else:
            title = str(flow.NOTICE_TITLES[flow.TRANSITIONS[kind].notice]) % {"number": h.number, "state": state}
        body = (
            _("%(actor)s: %(comment)s") % {"actor": actor, "comment": comment}
            if comment
            else _("By %(actor)s.") % {"actor": actor}
        )
    created = Notification.objects.bulk_create(
        [
            Notification(
                user_id=uid, handover=h, source=f"event:{event_id}", title=title, body=body, url=_handover_url(h)
            )
            for uid in recipients
        ],
        ignore_conflicts=True,
    )
    queue_delivery()
    return len(created)


def queue_delivery() -> None:
    """After the commit, ask a worker to deliver what is owed. A broker outage only delays it."""
    transaction.on_commit(_enqueue_pending)


# The Celery tasks sit above this module (they call it): HandoverConfig.ready() hands the delivery
# task's queueing down here, rather than this module importing handover/tasks.py.
_delivery_queue: list = []


def deliver_with(enqueue) -> None:
    _delivery_queue[:] = [enqueue]


def _enqueue_pending() -> None:
    for pk in pending_delivery_ids():
        try:
            _delivery_queue[0](pk)
        except Exception:  # noqa: BLE001 - the broker being down must not fail the request
            logger.warning("could not queue delivery of notification %s; the scan will retry", pk, exc_info=True)
            return


def pending_delivery_ids(limit: int = 500) -> list[int]:
    webhook = bool(ReminderPolicy.current().webhook_url)
    owed = Q(emailed_at__isnull=True, email_attempts__lt=MAX_ATTEMPTS)
    if webhook:
        owed |= Q(webhooked_at__isnull=True, webhook_attempts__lt=MAX_ATTEMPTS)
    return list(Notification.objects.filter(owed).order_by("pk").values_list("pk", flat=True)[:limit])


def _send_email(n: Notification) -> None:
    if not n.user.email:
        return
    link = f"\n\n{n.url}" if n.url else ""
    send_mail(n.title, f"{n.body}{link}", None, [n.user.email], fail_silently=False)


def _send_webhook(n: Notification, url: str) -> None:
    # The text message shape both DingTalk and WeCom group robots accept.
    payload = {"msgtype": "text", "text": {"content": f"{n.title}\n{n.body}"}}
    if n.user.phone:
        payload["at"] = {"atMobiles": [n.user.phone]}
    request = urllib.request.Request(  # noqa: S310 - the URL is the admin's configured robot
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        if response.status >= 300:
            raise DeliveryError(f"webhook answered {response.status}")


def notification_deliver(*, notification_id: int) -> None:
    """Send what this notification still owes on each channel, each at most once."""
    policy = ReminderPolicy.current()
    failures = []
    for channel in ("email", "webhook"):
        if channel == "webhook" and not policy.webhook_url:
            continue
        with transaction.atomic():
            # The row lock makes a second worker wait, then see the stamp and skip.
            n = (
                Notification.objects.select_for_update()
                .select_related("user")
                .filter(
                    pk=notification_id, **{f"{channel}ed_at__isnull": True, f"{channel}_attempts__lt": MAX_ATTEMPTS}
                )
                .first()
            )
            if n is None:
                continue
            try:
                if channel == "email":
                    _send_email(n)
                else:
                    _send_webhook(n, policy.webhook_url)
            except Exception as exc:  # noqa: BLE001 - any failure of a channel is retried
                failures.append(f"{channel}: {exc}")
                Notification.objects.filter(pk=n.pk).update(
                    **{f"{channel}_attempts": getattr(n, f"{channel}_attempts") + 1}
                )
                continue
            Notification.objects.filter(pk=n.pk).update(**{f"{channel}ed_at": timezone.now()})
    if failures:
        raise DeliveryError("; ".join(failures))
