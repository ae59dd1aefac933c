"""The client notice (客户告知函): prepared for every client once the handover reaches the stage the
company chose (ClientNoticeTemplate.prepare_at, by default once the plan is approved), sent by
email and SMS (rows written here, sent by a task after the commit) or marked sent by hand
(WeChat, phone, paper), and answered by the client through a personal link with no login.

A notice names the client's receiver. The receiver named is kept (ClientNotice.told_receiver, and
on each delivery): when the client's receiver changes after the sending, the notice is outdated
(ClientNotice.outdated, shown on the tab and in the API) and is sent again, once per change. Within
a round (the first sending, or the first since a change) each channel reaches each recipient once:
a second click or a second sender sends nothing. The client's link stays the same: its page always
shows the receiver now, so an older message's link misleads nobody, and the client answers again
about the new receiver (the earlier answer stays on the timeline).

The reads (the stage, the link's token, the wording) are handover/selectors/notices.py's.
"""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from clients.models import Contact

from .. import notify, origin, policy
from ..flow import OPEN_STATES, State
from ..models import (
    NOTICE_SEND_ATTEMPTS,
    SENT_BY_APP,
    ClientNotice,
    ClientNoticeTemplate,
    Handover,
    HandoverClient,
    NoticeAnswer,
    NoticeChannel,
    NoticeDelivery,
)
from ..selectors.notices import (  # noqa: F401 - notice_token: services exports it
    NOTICE_LINK,
    link_state,
    notice_for_token,
    notice_texts,
    notice_token,
    stage_reached,
)
from . import client_links
from .common import bump, bump_row, lock_handover, log_event
from .errors import InvalidInput, NotAllowed, WrongState

MAX_ATTEMPTS = NOTICE_SEND_ATTEMPTS


def require_stage(h: Handover, template: ClientNoticeTemplate | None = None) -> None:
    template = template or ClientNoticeTemplate.current()
    if not stage_reached(h, template):
        raise WrongState(
            _("The client notices are prepared once the handover reaches “%(state)s”.")
            % {"state": State(template.prepare_at).label}
        )


# ---------------------------------------------------------------------------------------
# Preparing


def notices_prepare(h: Handover) -> int:
    """A notice for every client of the handover that has none yet, once the stage is reached. Returns how many."""
    if not stage_reached(h):
        return 0
    missing = HandoverClient.objects.filter(handover=h, notice__isnull=True).values_list("pk", flat=True)
    created = []
    for hc_id in missing:
        created.append(NOTICE_LINK.new(handover_client_id=hc_id))
    ClientNotice.objects.bulk_create(created, ignore_conflicts=True)
    return len(created)


def after_transition(h: Handover, user) -> None:
    """Follows every transition: the handover may have reached the stage the notices wait for.

    Only an open state can be that stage (the template offers no other), so closing a handover
    costs no query here; a stage chosen later than a handover passed it is caught up by the tab
    and by the sending (notices_prepare is called there too)."""
    if h.state in OPEN_STATES:
        notices_prepare(h)


# ---------------------------------------------------------------------------------------
# Sending


def _sendable(h: Handover, user: User, hc_ids) -> list[ClientNotice]:
    notices_prepare(h)
    rows = ClientNotice.objects.filter(handover_client__handover=h).select_related(
        "handover_client__client", "handover_client__receiver"
    )
    if hc_ids:
        rows = rows.filter(handover_client_id__in=list(hc_ids))
    notices = list(rows.order_by("handover_client__client__name", "pk"))
    if hc_ids and len(notices) != len(set(hc_ids)):
        raise InvalidInput(_("Some of the chosen clients are not in this handover."), field="clients")
    allowed = [n for n in notices if policy.may_send_notice(h, n.handover_client, user)]
    if not allowed or (hc_ids and len(allowed) != len(notices)):
        raise NotAllowed(
            _("Only the departing salesperson, the supervisor and the client's receiver send the client notice.")
        )
    return allowed


def _new_round(notice: ClientNotice) -> bool:
    """This sending starts a round: the first sending, or the first since the receiver changed."""
    return notice.first_sent_at is None or notice.outdated()


def _tell(notice: ClientNotice, now) -> None:
    """The sending names the client's receiver now. Starting a round, it records that receiver
    and opens the link's answer window from now; after a receiver change it also clears the
    answer given about the earlier receiver (the timeline keeps it), so the client answers again.
    The handover is locked: no other sending or answer of this notice runs meanwhile."""
    if not _new_round(notice):
        return
    fields = {
        "round": notice.round + 1,
        "told_receiver_id": notice.handover_client.receiver_id,
        "expires_at": now + datetime.timedelta(days=ClientNoticeTemplate.current().answer_days),
    }
    if notice.first_sent_at is None:
        fields["first_sent_at"] = now
    else:
        fields.update(answer="", answer_text="", answered_at=None)
    ClientNotice.objects.filter(pk=notice.pk, round=notice.round).update(**fields)
    for name, value in fields.items():
        setattr(notice, name, value)


def _reached_in_round(notices: list[ClientNotice], channel: str) -> dict[int, set[str]]:
    """Per notice, the recipients this channel reached (or is reaching) in the notice's round; a
    delivery that failed every try does not count, so it can be sent again."""
    reached: dict[int, set[str]] = {}
    rounds = {n.pk: n.round for n in notices if not _new_round(n)}
    rows = (
        NoticeDelivery.objects.filter(notice_id__in=list(rounds), channel=channel)
        .exclude(sent_at__isnull=True, attempts__gte=MAX_ATTEMPTS)
        .values_list("notice_id", "round", "recipient")
    )
    for notice_id, round_, recipient in rows:
        if round_ == rounds[notice_id]:
            reached.setdefault(notice_id, set()).add(recipient)
    return reached


def _sent_already(channel: str) -> WrongState:
    return WrongState(
        _(
            "The notice was already given to these clients by %(channel)s; it is given again once a client's "
            "receiver changes."
        )
        % {"channel": NoticeChannel(channel).label}
    )


@transaction.atomic
def notices_send(
    *,
    handover: Handover | int,
    user: User,
    channel: str,
    handover_client_ids=(),
    expected_version: int | None = None,
) -> list[NoticeDelivery]:
    """Email (or text) the notice to every contact of the chosen clients (none chosen: all the
    clients this person may send for) that has an address (a phone). The rows are written now and
    sent by a task after the commit; a client's link starts its answer window at the first sending."""
    if channel not in SENT_BY_APP:
        raise InvalidInput(_("Choose email or SMS."), field="channel")
    h = lock_handover(handover, expected_version)
    require_stage(h)
    notices = _sendable(h, user, handover_client_ids)
    field = "email" if channel == NoticeChannel.EMAIL else "phone"
    contacts: dict[int, list[Contact]] = {}
    for contact in Contact.objects.filter(client_id__in=[n.handover_client.client_id for n in notices]).exclude(
        **{field: ""}
    ):
        contacts.setdefault(contact.client_id, []).append(contact)
    now = timezone.now()
    site = origin.site_url()
    template = ClientNoticeTemplate.current()
    done = _reached_in_round(notices, channel)
    deliveries = []
    already = resent = 0
    for notice in notices:
        reached = contacts.get(notice.handover_client.client_id, [])
        if not reached:
            continue
        # Within a round each recipient once: a second click, a second sender, sends nothing.
        fresh = [c for c in reached if getattr(c, field) not in done.get(notice.pk, ())]
        if not fresh:
            already += 1
            continue
        resent += notice.outdated()
        _tell(notice, now)
        subject = notice_texts(notice, template=template, link="").subject if channel == NoticeChannel.EMAIL else ""
        for contact in fresh:
            deliveries.append(
                NoticeDelivery(
                    notice=notice,
                    channel=channel,
                    recipient=getattr(contact, field),
                    contact=contact,
                    subject=subject,
                    created_by=user,
                    created_at=now,
                    site_url=site,
                    receiver_id=notice.told_receiver_id,
                    round=notice.round,
                )
            )
    if not deliveries:
        if already:
            raise _sent_already(channel)
        raise InvalidInput(
            _("None of the chosen clients has a contact with an email address.")
            if channel == NoticeChannel.EMAIL
            else _("None of the chosen clients has a contact with a phone number."),
            field="clients",
        )
    deliveries = NoticeDelivery.objects.bulk_create(deliveries)
    bump(h)
    log_event(
        h,
        actor=user,
        kind="client_notice_sent",
        channel=channel,
        clients=len({d.notice_id for d in deliveries}),
        recipients=len(deliveries),
        resent=resent,
    )
    SENDER.queue_after_commit()
    return deliveries


def notice_receiver_changed(h: Handover, hc: HandoverClient, *, event_id: int, user: User) -> bool:
    """Follows a change of the client's receiver (services/plan.py): a notice sent naming another
    receiver is now outdated, and its senders are told to send it again. True when it is."""
    notice = (
        ClientNotice.objects.filter(handover_client=hc, first_sent_at__isnull=False)
        .select_related("told_receiver")
        .first()
    )
    if notice is None or notice.told_receiver_id == hc.receiver_id:
        return False
    told = notice.told_receiver.display_name if notice.told_receiver else ""
    notify.notice_outdated(h, event_id=event_id, handover_client=hc, told=told, actor=user)
    return True


MANUAL_CHANNELS = (NoticeChannel.WECHAT, NoticeChannel.PHONE, NoticeChannel.PAPER)


@transaction.atomic
def notice_mark_sent(
    *,
    handover_client: HandoverClient,
    user: User,
    channel: str,
    note: str = "",
    expected_version: int | None = None,
) -> NoticeDelivery:
    """The notice was given by hand (WeChat, a call, the letter on paper): recorded as sent now."""
    if channel not in MANUAL_CHANNELS:
        raise InvalidInput(_("Choose WeChat, phone or paper."), field="channel")
    h = lock_handover(handover_client.handover_id, expected_version)
    require_stage(h)
    notice = _sendable(h, user, [handover_client.pk])[0]
    if _reached_in_round([notice], channel):
        raise _sent_already(channel)
    resent = notice.outdated()
    now = timezone.now()
    _tell(notice, now)
    delivery = NoticeDelivery.objects.create(
        notice=notice,
        channel=channel,
        note=(note or "").strip(),
        created_by=user,
        created_at=now,
        sent_at=now,
        receiver_id=notice.told_receiver_id,
        round=notice.round,
    )
    bump(h)
    log_event(
        h,
        actor=user,
        kind="client_notice_sent",
        channel=channel,
        client=notice.handover_client.client.name,
        clients=1,
        resent=int(resent),
    )
    return delivery


def notices_for_letters(*, handover: Handover, user: User, handover_client_ids=()) -> list[ClientNotice]:
    """The notices this person may print (one client, or all they may send for)."""
    require_stage(handover)
    return _sendable(handover, user, handover_client_ids)


# ---------------------------------------------------------------------------------------
# Delivering (the task), exactly once


# The notice's use of the one delivery mechanism (client_links.py).
NOTICE = client_links.LinkUse(
    name="client notice",
    delivery_model=NoticeDelivery,
    load_link=lambda pk: NOTICE_LINK.rows().get(pk=pk),
    texts=lambda notice, site: notice_texts(notice, recorded_site=site),
    link_field="notice",
    attempts=MAX_ATTEMPTS,
)
SENDER = client_links.LinkSender(NOTICE)

# HandoverConfig.ready() hands the Celery task's queueing down here (tasks sit above services).
deliver_notices_with = SENDER.connect
pending_delivery_ids = SENDER.pending_ids
queue_pending_now = SENDER.queue_pending_now


def notice_deliver(*, delivery_id: int) -> bool:
    """Send one delivery if it is still owed. True when this call sent it (a second run of the
    task, a redelivered message or two workers, finds it sent and does nothing)."""
    return SENDER.deliver(delivery_id)


# ---------------------------------------------------------------------------------------
# The client's answer


class LinkClosed(Exception):
    """The link was answered already, or its window is over, or the handover was cancelled."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@transaction.atomic
def notice_answer(*, token: str, answer: str, text: str = "") -> ClientNotice:
    """The client answers through their link: they know their new contact, or ask for another, or
    state a concern. An objection notifies the supervisor and puts the client in the spot-check
    sample (added to it; the draw from the stored seed stays as it was)."""
    found = notice_for_token(token)
    if found is None:
        raise LookupError(token)
    if answer not in NoticeAnswer.values:
        raise InvalidInput(_("Choose one of the answers."), field="answer")
    text = (text or "").strip()
    if answer != NoticeAnswer.CONFIRMED and not text:
        raise InvalidInput(_("Please tell us in a few words what you would like."), field="text")
    h = lock_handover(found.handover_client.handover_id)
    notice = ClientNotice.objects.select_for_update().get(pk=found.pk)
    # The handover as locked: a cancellation that came first closes the link.
    found.handover_client.handover = h
    # Its receiver as locked too: the answer is recorded as about them.
    found.handover_client.refresh_from_db(fields=["receiver"])
    notice.handover_client = found.handover_client
    state = link_state(notice)
    if state != "open":
        raise LinkClosed(state)
    # The answer is about the receiver the page showed: the client's receiver now. (An answer about
    # an earlier receiver is replaced: link_state opens the link again once the receiver changed.)
    ClientNotice.objects.filter(pk=notice.pk, answer=notice.answer).update(
        answer=answer, answer_text=text, answered_at=timezone.now(), told_receiver_id=notice.handover_client.receiver_id
    )
    notice.refresh_from_db()
    hc = notice.handover_client
    event = log_event(h, actor=None, kind="client_notice_answered", comment=text, client=hc.client.name, answer=answer)
    if answer != NoticeAnswer.CONFIRMED:
        if not hc.in_sample:
            HandoverClient.objects.filter(pk=hc.pk).update(in_sample=True)
            hc.in_sample = True
            bump_row(hc)
        notify.notice_client_objected(h, event_id=event.pk, handover_client=hc, answer=answer, text=text)
    bump(h)
    return notice


def letters_pdf(*, handover: Handover, user: User, handover_client_ids=()) -> bytes:
    """The printable letters of one client or of all this person may send for, as one PDF."""
    # WeasyPrint takes about a second to load: loaded on the first print, not at start.
    from .. import pdf

    template = ClientNoticeTemplate.current()
    letters = []
    for notice in notices_for_letters(handover=handover, user=user, handover_client_ids=handover_client_ids):
        texts = notice_texts(notice, template=template)
        letters.append({**texts.values, "text": texts.letter, "link": texts.link})
    return pdf.render_client_letters(handover, letters)
