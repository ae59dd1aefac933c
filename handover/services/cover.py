"""A cover (代管): a handover for a leave or a temporary transfer (models.COVER_REASONS).

The cover begins when the handover is completed, whatever stages it went through: completion moves
every client to its receiver, the cover person. It ends on the return date, by itself (the daily
scan, reminders.reminders_scan, calls covers_end_due), or earlier by HR (提前结束代管): each client
the cover person still holds goes back to the absent person, in one transaction, with its history
row, a timeline event and a notice to both sides.

A client that changed hands meanwhile, or sits in another open handover, stays where it is and is
named in the event and the notices. A return to someone who has since left (an inactive account)
or is leaving (an open handover of their own: the owner guard of clients.ownership says so) moves
nothing: the cover is marked refused, HR and the absent person's supervisor are told so that
someone starts a proper handover, and the scan does not try it again.
"""

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from clients.models import Client, OwnershipChange
from clients.ownership import owner_change_refusals, ownership_changes_record

from .. import policy
from ..models import COVER_REASONS, CoverStatus, Duty, DutyKind, Handover, State, check_return_date
from ..notify import hr_people, notice_people
from .common import bump, check_rule, lock_handover, log_event
from .errors import HandoverError, InvalidInput, NotAllowed, WrongState

logger = logging.getLogger(__name__)


@dataclass
class CoverEnd:
    """What ending a cover did: ended (clients returned) or refused (nothing moved, and why)."""

    handover: Handover
    ended: bool
    returned: int = 0
    # Names of the clients that stayed where they were, each with the reason.
    stayed: list[str] = field(default_factory=list)
    refusal: str = ""


def _names(items: list[str], limit: int = 10) -> str:
    return "、".join(items[:limit]) + ("…" if len(items) > limit else "")


@transaction.atomic
def cover_end(*, handover: Handover | int, by: User | None = None, today: datetime.date | None = None) -> CoverEnd:
    """End the cover: its clients go back to the absent person. by=None: the scan, on the return date."""
    h = lock_handover(handover)
    if by is not None and not policy.may_end_cover(h, by):
        raise NotAllowed(_("Only HR may end a cover early."))
    if h.reason not in COVER_REASONS:
        raise WrongState(_("This handover is not a cover: its clients do not go back."))
    if h.state != State.COMPLETED:
        raise WrongState(_("This cover has not begun: it begins when the handover is completed."))
    if h.cover_ended_at is not None:
        raise WrongState(
            _("This cover has already ended: its clients went back on %(date)s.")
            % {"date": timezone.localdate(h.cover_ended_at)}
        )
    if by is None and h.cover_refused_at is not None:
        raise WrongState(_("The return of this cover was refused already; HR was told."))
    today = today or timezone.localdate()
    absent = User.objects.select_related("supervisor").get(pk=h.departing_id)
    hcs = list(h.clients.select_related("client", "receiver").order_by("client__name", "pk"))
    refusals = owner_change_refusals(client_ids=[hc.client_id for hc in hcs], owner_ids=[absent.pk])
    with translation.override(settings.LANGUAGE_CODE):
        if not absent.is_active:
            refusal = _("%(name)s has left (their account is inactive) and cannot be given their clients back.") % {
                "name": absent
            }
        else:
            refusal = refusals.owners.get(absent.pk, "")
        if refusal:
            return _refuse(h, by=by, absent=absent, hcs=hcs, refusal=refusal)
        return _return(h, by=by, absent=absent, hcs=hcs, refused_clients=refusals.clients, today=today)


def _return(h: Handover, *, by, absent: User, hcs, refused_clients: dict[int, str], today) -> CoverEnd:
    now = timezone.now()
    current = dict(
        Client.objects.select_for_update().filter(pk__in=[hc.client_id for hc in hcs]).values_list("pk", "owner_id")
    )
    back, stayed = [], []
    for hc in hcs:
        if current.get(hc.client_id) != hc.receiver_id:
            stayed.append(
                _("%(client)s (no longer held by %(receiver)s)") % {"client": hc.client.name, "receiver": hc.receiver}
            )
        elif hc.client_id in refused_clients:
            stayed.append(f"{hc.client.name} ({refused_clients[hc.client_id]})")
        else:
            back.append(hc)
    by_receiver: dict[int, list[int]] = defaultdict(list)
    for hc in back:
        by_receiver[hc.receiver_id].append(hc.client_id)
    for receiver_id, client_ids in by_receiver.items():
        # The rows are locked above: each still belongs to its cover person.
        Client.objects.filter(pk__in=client_ids, owner_id=receiver_id).update(owner_id=absent.pk, updated_at=now)
    reason = _("Cover ended: handover %(number)s") % {"number": h.number}
    ownership_changes_record(
        [
            OwnershipChange(
                client_id=hc.client_id,
                from_owner_id=hc.receiver_id,
                to_owner_id=absent.pk,
                changed_at=now,
                reason=reason,
                changed_by=by,
            )
            for hc in back
        ]
    )
    # The cover person's duties for the clients gone back (contact, visit) are closed: no one is
    # reminded of clients that are no longer theirs.
    Duty.objects.filter(
        handover=h,
        client_id__in=[hc.client_id for hc in back],
        kind__in=(DutyKind.CONTACT_CLIENT, DutyKind.VISIT_CLIENT),
        done_at__isnull=True,
    ).update(done_at=now, done_by=by)
    h.cover_ended_at = now
    h.cover_ended_by = by
    h.cover_refused_at = None
    h.cover_refusal = ""
    bump(h)
    early = bool(h.returns_on and today < h.returns_on)
    comment = _("%(n)d client(s) returned to %(name)s.") % {"n": len(back), "name": absent}
    if stayed:
        comment += " " + _("Stayed where they were: %(names)s.") % {"names": _names(stayed)}
    event = log_event(h, actor=by, kind="cover_ended", comment=comment, clients=len(back), stayed=stayed, early=early)
    if early:
        title = _("Handover %(number)s: HR ended the cover early; the clients went back to %(name)s")
    elif by is not None:
        title = _("Handover %(number)s: HR ended the cover; the clients went back to %(name)s")
    else:
        title = _("Handover %(number)s: the cover ended on the return date; the clients went back to %(name)s")
    title = title % {"number": h.number, "name": absent}
    people = {absent.pk, *(hc.receiver_id for hc in hcs)}
    notice_people(h, event_id=event.pk, actor=by, notices=dict.fromkeys(people, (title, comment)))
    return CoverEnd(handover=h, ended=True, returned=len(back), stayed=stayed)


def _refuse(h: Handover, *, by, absent: User, hcs, refusal: str) -> CoverEnd:
    h.cover_refused_at = timezone.now()
    h.cover_refusal = refusal
    bump(h)
    comment = (
        refusal
        + " "
        + _("The clients stay with the cover person; start a handover of %(name)s to give them a new owner.")
        % {"name": absent}
    )
    event = log_event(h, actor=by, kind="cover_return_refused", comment=comment)
    title = _("Handover %(number)s: the clients cannot go back to %(name)s") % {"number": h.number, "name": absent}
    supervisor_id = absent.supervisor_id or h.supervisor_id
    people = hr_people() | {supervisor_id, *(hc.receiver_id for hc in hcs)}
    notice_people(h, event_id=event.pk, actor=by, notices=dict.fromkeys(people, (title, comment)))
    return CoverEnd(handover=h, ended=False, refusal=refusal)


@transaction.atomic
def cover_set_return_date(
    *, handover: Handover | int, by: User, returns_on: datetime.date | None, today: datetime.date | None = None
) -> Handover:
    """HR moves the return date of a cover not yet ended (an extended leave, an earlier return)."""
    h = lock_handover(handover)
    if not policy.may_change_return_date(h, by):
        raise NotAllowed(_("Only HR may change the return date of a cover."))
    if h.reason not in COVER_REASONS:
        raise WrongState(_("This handover is not a cover: it has no return date."))
    if h.cover_status not in (CoverStatus.PENDING, CoverStatus.ACTIVE):
        raise WrongState(_("This cover is over; its return date no longer changes."))
    check_rule(check_return_date, reason=h.reason, last_working_day=h.last_working_day, returns_on=returns_on)
    today = today or timezone.localdate()
    if returns_on < today:
        raise InvalidInput(_("The new return date cannot be before today."), field="returns_on")
    if returns_on == h.returns_on:
        raise InvalidInput(_("This is the return date already."), field="returns_on")
    before = h.returns_on
    h.returns_on = returns_on
    bump(h)
    with translation.override(settings.LANGUAGE_CODE):
        comment = _("Return date %(before)s → %(after)s") % {"before": before or "—", "after": returns_on}
        event = log_event(h, actor=by, kind="cover_return_date_changed", comment=comment)
        title = _("Handover %(number)s: the return date of the cover is now %(date)s") % {
            "number": h.number,
            "date": returns_on,
        }
        receivers = set(h.clients.values_list("receiver_id", flat=True)) | {h.receiver_id}
        notice_people(
            h, event_id=event.pk, actor=by, notices=dict.fromkeys({h.departing_id, *receivers}, (title, comment))
        )
    return h


def covers_due(today: datetime.date):
    """Completed covers whose return date has come, neither ended nor refused."""
    return Handover.objects.filter(
        reason__in=COVER_REASONS,
        state=State.COMPLETED,
        returns_on__lte=today,
        cover_ended_at__isnull=True,
        cover_refused_at__isnull=True,
    ).order_by("returns_on", "pk")


def covers_end_due(today: datetime.date | None = None) -> dict:
    """The daily scan's part: end every cover whose return date has come (each in its own transaction)."""
    today = today or timezone.localdate()
    ended = refused = 0
    for pk in list(covers_due(today).values_list("pk", flat=True)):
        try:
            result = cover_end(handover=pk, today=today)
        except HandoverError:
            # Ended or refused by another scanner or HR meanwhile: nothing left to do.
            logger.info("cover of handover %s not ended by the scan", pk, exc_info=True)
            continue
        if result.ended:
            ended += 1
        else:
            refused += 1
    return {"covers_ended": ended, "covers_refused": refused}
