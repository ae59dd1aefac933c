"""The joint visits in both salespeople's calendars: iCalendar events (RFC 5545) by email (RFC 6047).

Each client's planned visit and each recorded visit is one event with a UID that never changes.
`invitations_sync` is called in the transaction of every change to a planned date, a receiver, a
client's place in the handover or a recorded visit: it compares what the rows say now with what
was last sent (VisitInvitation.day / receiver / status) and, only when they differ, raises the
SEQUENCE and writes one InvitationDelivery per person: a REQUEST (new or updated event), or a
CANCEL (a date cleared, a client taken out, a handover cancelled, a receiver replaced: the old
receiver is told it is off their calendar, the new one invited). A planned date still as the start
prefilled it is the system's guess, not a plan: it is sent once the departing person confirms it.

Delivery follows the commit as a Celery task (tasks.deliver_invitation), like the notices'
(notify.py): a broker that is down only delays it, the periodic scan queues again what is owed,
and a row lock plus the sent-at stamp make each message go once. With no broker at all (Celery
eager), a thread of this process sends them, as the archive is made (services/archive.py).
"""

import datetime
import logging
from collections.abc import Iterable
from email.utils import parseaddr

import icalendar
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User

from ..models import (
    Handover,
    HandoverClient,
    InvitationDelivery,
    InvitationKind,
    InvitationMethod,
    InvitationStatus,
    Part,
    State,
    Visit,
    VisitInvitation,
)
from ..notify import MAX_ATTEMPTS, DeliveryError, absolute_url, handover_link
from .background import InProcess

logger = logging.getLogger(__name__)

PRODID = "-//Handover system//Joint visits//ZH"


# ---------------------------------------------------------------------------------------
# The event


def _mailbox() -> tuple[str, str]:
    """The company mailbox (DEFAULT_FROM_EMAIL): (display name, address). It organizes every visit."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return name, address or "handover@localhost"


def uid_for(*, handover_client_id: int | None = None, visit_id: int | None = None) -> str:
    """The event's UID: one per client's planned visit, one per recorded visit, never reused."""
    domain = _mailbox()[1].rpartition("@")[2] or "localhost"
    if visit_id is not None:
        return f"visit-{visit_id}@{domain}"
    return f"visit-plan-{handover_client_id}@{domain}"


def summary_for(client_name: str, departing, receiver) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("Joint visit: %(client)s (%(departing)s → %(receiver)s)") % {
            "client": client_name,
            "departing": departing,
            "receiver": receiver,
        }


def _attendee(user: User) -> icalendar.vCalAddress | None:
    if not user.email:
        return None
    address = icalendar.vCalAddress(f"mailto:{user.email}")
    address.params["CN"] = str(user)
    address.params["ROLE"] = "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = "NEEDS-ACTION"
    address.params["RSVP"] = "FALSE"
    return address


def _event(
    *,
    uid: str,
    sequence: int,
    day: datetime.date,
    summary: str,
    location: str,
    description: str,
    attendees: Iterable[User],
    cancelled: bool = False,
) -> icalendar.Event:
    """One all-day event (the visit's day; the models hold no time of day)."""
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", timezone.now().astimezone(datetime.UTC))
    event.add("dtstart", day)
    event.add("dtend", day + datetime.timedelta(days=1))
    event.add("summary", summary)
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)
    event.add("transp", "TRANSPARENT")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    name, address = _mailbox()
    organizer = icalendar.vCalAddress(f"mailto:{address}")
    if name:
        organizer.params["CN"] = name
    event.add("organizer", organizer)
    for user in attendees:
        if (attendee := _attendee(user)) is not None:
            event.add("attendee", attendee, encode=0)
    return event


def _calendar(method: str, events: Iterable[icalendar.Event]) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    for event in events:
        cal.add_component(event)
    return cal.to_ical()


def _description(h: Handover, hc_pk: int | None) -> str:
    link = absolute_url(handover_link(h, "visits", f"client-{hc_pk}" if hc_pk else ""))
    with translation.override(settings.LANGUAGE_CODE):
        text = _("Handover %(number)s.") % {"number": h.number}
    return f"{text}\n{link}" if link else text


# ---------------------------------------------------------------------------------------
# Keeping the sent events in step with the rows


def _planned_day(h: Handover, hc: HandoverClient) -> datetime.date | None:
    """The planned day to have in the calendars: none while the start's guess is unconfirmed, nor
    for a handover that goes through no joint visits."""
    if h.state == State.CANCELLED or "planned_visit_on" in (hc.prefilled or []) or not h.goes_through(Part.VISITS):
        return None
    return hc.planned_visit_on


def _write(
    h: Handover,
    inv: VisitInvitation,
    method: str,
    recipients: list[User],
    *,
    attendees: list[User],
    departing: User,
    receiver: User,
) -> int:
    cancelled = method == InvitationMethod.CANCEL
    summary = summary_for(inv.client_name, departing, receiver)
    ics = _calendar(
        method,
        [
            _event(
                uid=inv.uid,
                sequence=inv.sequence,
                day=inv.day,
                summary=summary,
                location=inv.location,
                description=_description(h, inv.handover_client_id),
                attendees=attendees,
                cancelled=cancelled,
            )
        ],
    ).decode("utf-8")
    with translation.override(settings.LANGUAGE_CODE):
        if cancelled:
            subject = _("Cancelled: %(summary)s") % {"summary": summary}
            lead = _("This joint visit is off the calendar: %(day)s.") % {"day": inv.day.isoformat()}
        elif inv.sequence:
            subject = _("Updated: %(summary)s") % {"summary": summary}
            lead = _("The joint visit is now on %(day)s.") % {"day": inv.day.isoformat()}
        else:
            subject = summary
            lead = _("A joint visit on %(day)s.") % {"day": inv.day.isoformat()}
    body = f"{lead}\n\n{_description(h, inv.handover_client_id)}"
    seen: set[int] = set()
    rows = []
    for person in recipients:
        if person.pk in seen:
            continue
        seen.add(person.pk)
        rows.append(
            InvitationDelivery(
                invitation=inv,
                recipient=person,
                sequence=inv.sequence,
                method=method,
                subject=subject[:255],
                body=body,
                ics=ics,
            )
        )
    InvitationDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _reconcile(
    h: Handover,
    inv: VisitInvitation | None,
    *,
    day: datetime.date | None,
    hc: HandoverClient,
    visit: Visit | None = None,
) -> int:
    """Bring one event in step with the rows; returns how many messages it owes."""
    departing, receiver = h.departing, hc.receiver
    location = (hc.client.address or "")[:255]
    if inv is None:
        if day is None:
            return 0
        inv = VisitInvitation.objects.create(
            handover=h,
            handover_client=hc,
            visit=visit,
            kind=InvitationKind.RECORDED if visit else InvitationKind.PLANNED,
            uid=uid_for(handover_client_id=hc.pk, visit_id=visit.pk if visit else None),
            day=day,
            client_name=hc.client.name[:200],
            location=location,
            receiver=receiver,
        )
        both = [departing, receiver]
        return _write(h, inv, InvitationMethod.REQUEST, both, attendees=both, departing=departing, receiver=receiver)
    active = inv.status == InvitationStatus.ACTIVE
    if day is None:
        if not active:
            return 0
        inv.sequence += 1
        inv.status = InvitationStatus.CANCELLED
        inv.updated_at = timezone.now()
        inv.save(update_fields=["sequence", "status", "updated_at"])
        both = [departing, inv.receiver]
        return _write(h, inv, InvitationMethod.CANCEL, both, attendees=both, departing=departing, receiver=inv.receiver)
    if active and inv.day == day and inv.receiver_id == receiver.pk:
        return 0  # nothing a calendar would show has changed
    replaced = inv.receiver if active and inv.receiver_id != receiver.pk else None
    inv.sequence += 1
    inv.day, inv.status, inv.receiver, inv.location = day, InvitationStatus.ACTIVE, receiver, location
    inv.updated_at = timezone.now()
    inv.save(update_fields=["sequence", "day", "status", "receiver", "location", "updated_at"])
    sent = 0
    if replaced is not None:
        sent += _write(
            h, inv, InvitationMethod.CANCEL, [replaced], attendees=[replaced], departing=departing, receiver=replaced
        )
    both = [departing, receiver]
    sent += _write(h, inv, InvitationMethod.REQUEST, both, attendees=both, departing=departing, receiver=receiver)
    return sent


def invitations_sync(
    handover: Handover | int, handover_clients: Iterable[HandoverClient | int] | None = None, *, leaving: bool = False
) -> int:
    """Bring the calendar events of these clients (default: every client of the handover) in step
    with their rows, inside the caller's transaction; the messages go after the commit.

    leaving: the clients are about to be taken out of the handover: their events are cancelled.
    Returns the number of messages written.
    """
    h = handover if isinstance(handover, Handover) else Handover.objects.get(pk=handover)
    hcs = HandoverClient.objects.filter(handover=h).select_related("client", "receiver")
    if handover_clients is not None:
        ids = [hc.pk if isinstance(hc, HandoverClient) else hc for hc in handover_clients]
        if not ids:
            return 0
        hcs = hcs.filter(pk__in=ids)
    hcs = list(hcs)
    if not hcs:
        return 0
    invitations = list(
        VisitInvitation.objects.select_for_update()
        .select_related("receiver")
        .filter(handover=h, handover_client__in=hcs)
        .order_by("pk")
    )
    planned = {i.handover_client_id: i for i in invitations if i.kind == InvitationKind.PLANNED}
    recorded = {i.visit_id: i for i in invitations if i.kind == InvitationKind.RECORDED}
    visits: dict[int, list[Visit]] = {}
    for visit in Visit.objects.filter(handover_client__in=hcs).order_by("pk"):
        visits.setdefault(visit.handover_client_id, []).append(visit)
    gone = leaving or h.state == State.CANCELLED
    sent = 0
    for hc in hcs:
        day = None if gone else _planned_day(h, hc)
        sent += _reconcile(h, planned.get(hc.pk), day=day, hc=hc)
        for visit in visits.get(hc.pk, []):
            sent += _reconcile(h, recorded.get(visit.pk), day=None if gone else visit.visited_on, hc=hc, visit=visit)
    if sent:
        transaction.on_commit(_enqueue_pending)
    return sent


# ---------------------------------------------------------------------------------------
# Delivery: after the commit, by a task; once


# The Celery task sits above the services: HandoverConfig.ready() hands its queueing down here,
# and how to tell that there is no broker (Celery would then run the task in the caller).
_delivery_queue: list = []
_broker_eager: list = [lambda: False]


def invitations_deliver_with(enqueue, *, eager=None) -> None:
    _delivery_queue[:] = [enqueue]
    _broker_eager[:] = [eager or (lambda: False)]


def pending_invitation_ids(limit: int = 500) -> list[int]:
    owed = InvitationDelivery.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
    return list(owed.order_by("pk").values_list("pk", flat=True)[:limit])


def _queue(ids: Iterable[int]) -> int:
    queued = 0
    for pk in ids:
        try:
            _delivery_queue[0](pk)
        except Exception:  # noqa: BLE001 - the broker being down must not fail the request
            logger.warning("could not queue visit invitation %s; the scan will retry", pk, exc_info=True)
            break
        queued += 1
    return queued


# With no broker, a thread of this process sends the invitations (through the task, run eagerly
# there with its retries), so that a mail server's slowness never holds up a request.
in_process = InProcess(lambda pk: _queue([pk]), "visit-invitations")
# How the owed invitations reach this process's thread; tests that run inside one transaction
# replace it (a thread could not see their rows): see the root conftest.py.
_run_in_process: list = [in_process.submit_all]


def _enqueue_pending() -> int:
    """After a commit (and at each scan): hand every invitation still owed to a worker, or, with no
    broker, to this process's thread. Returns how many were handed on."""
    if not _delivery_queue:
        return 0
    ids = pending_invitation_ids()
    if not ids:
        return 0
    if _broker_eager[0]():
        _run_in_process[0](ids)
        return len(ids)
    return _queue(ids)


def invitations_queue_pending() -> int:
    """The periodic scan: queue again every invitation still owed. Returns how many were queued."""
    return _enqueue_pending()


def _send(d: InvitationDelivery) -> None:
    """The message as calendar programs read it: the event inline (text/calendar; method=…) as an
    alternative to the text, and the same file attached for those that only open attachments."""
    if not d.recipient.email:
        return
    message = EmailMultiAlternatives(d.subject, d.body, None, [d.recipient.email])
    message.attach_alternative(d.ics, f"text/calendar; method={d.method}")
    message.attach("invite.ics" if d.method == InvitationMethod.REQUEST else "cancel.ics", d.ics, "application/ics")
    message.send(fail_silently=False)


def invitation_deliver(*, delivery_id: int) -> bool:
    """Send one invitation message if it is still owed; True if it went now.

    The row lock makes a second worker wait, then see the stamp and skip: sent once.
    """
    failure = None
    with transaction.atomic():
        d = (
            InvitationDelivery.objects.select_for_update()
            .select_related("recipient")
            .filter(pk=delivery_id, sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
            .first()
        )
        if d is None:
            return False
        try:
            _send(d)
        except Exception as exc:  # noqa: BLE001 - any failure of the mail server is retried
            failure = exc
            InvitationDelivery.objects.filter(pk=d.pk).update(attempts=d.attempts + 1)
        else:
            InvitationDelivery.objects.filter(pk=d.pk).update(sent_at=timezone.now(), attempts=d.attempts + 1)
    if failure is not None:
        raise DeliveryError(f"visit invitation {delivery_id}: {failure}")
    return True


# ---------------------------------------------------------------------------------------
# Downloads: the events as they stand now (METHOD:PUBLISH, to import)


def _visible_clients(h: Handover, user: User) -> list[HandoverClient]:
    """The clients whose visits are this person's: the departing person's all, a receiver's own;
    any other party of the handover (who may read its plan) sees every client's. One query."""
    hcs = list(HandoverClient.objects.filter(handover=h).select_related("client", "receiver"))
    if user.pk != h.departing_id:
        own = [hc for hc in hcs if hc.receiver_id == user.pk]
        if own:
            return own
    return hcs


def _sent(h: Handover) -> dict[tuple[str, int], tuple[str, int]]:
    """The events already sent, by ("plan", client row) and ("visit", visit): (UID, SEQUENCE).

    A download carries them, so that the event imported and the invitations received are one."""
    rows = VisitInvitation.objects.filter(handover=h).values_list(
        "kind", "handover_client_id", "visit_id", "uid", "sequence"
    )
    sent = {}
    for kind, hc_id, visit_id, uid, sequence in rows:
        key = ("plan", hc_id) if kind == InvitationKind.PLANNED else ("visit", visit_id)
        sent[key] = (uid, sequence)
    return sent


def _planned_event(h: Handover, hc: HandoverClient, sent: dict) -> icalendar.Event:
    uid, sequence = sent.get(("plan", hc.pk), (uid_for(handover_client_id=hc.pk), 0))
    return _event(
        uid=uid,
        sequence=sequence,
        day=hc.planned_visit_on,
        summary=summary_for(hc.client.name, h.departing, hc.receiver),
        location=hc.client.address,
        description=_description(h, hc.pk),
        attendees=[h.departing, hc.receiver],
    )


def _recorded_event(h: Handover, hc: HandoverClient, visit: Visit, sent: dict) -> icalendar.Event:
    uid, sequence = sent.get(("visit", visit.pk), (uid_for(handover_client_id=hc.pk, visit_id=visit.pk), 0))
    return _event(
        uid=uid,
        sequence=sequence,
        day=visit.visited_on,
        summary=summary_for(hc.client.name, h.departing, hc.receiver),
        location=hc.client.address,
        description=_description(h, hc.pk),
        attendees=[h.departing, hc.receiver],
    )


def planned_visit_ics(h: Handover, hc: HandoverClient) -> bytes | None:
    """One client's planned visit as an .ics (None: no date planned)."""
    if hc.planned_visit_on is None:
        return None
    return _calendar("PUBLISH", [_planned_event(h, hc, _sent(h))])


def recorded_visit_ics(h: Handover, visit: Visit) -> bytes:
    return _calendar("PUBLISH", [_recorded_event(h, visit.handover_client, visit, _sent(h))])


def handover_visits_ics(h: Handover, user: User) -> bytes:
    """Every visit of the handover that is this person's, planned and recorded, in one .ics."""
    hcs = list(_visible_clients(h, user))
    sent = _sent(h)
    events = [_planned_event(h, hc, sent) for hc in hcs if hc.planned_visit_on]
    by_pk = {hc.pk: hc for hc in hcs}
    for visit in Visit.objects.filter(handover_client__in=[hc.pk for hc in hcs]).order_by("visited_on", "pk"):
        events.append(_recorded_event(h, by_pk[visit.handover_client_id], visit, sent))
    return _calendar("PUBLISH", events)


def visits_ics_filename(h: Handover, what: str = "") -> str:
    return f"{h.number}-{what}.ics" if what else f"{h.number}-visits.ics"
