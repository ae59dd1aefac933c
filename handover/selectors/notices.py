"""The client notice (客户告知函) as it is read: whether the handover reached the stage the notices
wait for, each notice's link and wording, and the rows of the handover's "客户告知" tab.

The link's token is an HMAC of the notice's random nonce under the site's secret key: the
database holds the nonce and the token's SHA-256, never the token, so a copy of the database
alone opens no link. (Changing SECRET_KEY ends the links already sent.)
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from clients.models import Contact

from .. import policy
from ..flow import State
from ..models import (
    NOTICE_SEND_ATTEMPTS,
    ClientNotice,
    ClientNoticeTemplate,
    Handover,
    NoticeChannel,
    NoticeDelivery,
    NoticeStatus,
)
from .links import Keep, LinkKind, LinkTexts, link_texts

# The procedure's states in order, for "has the handover reached the stage".
_ORDER = [s for s in State if s != State.CANCELLED]
NOTICE_TOKEN_SALT = "handover.client_notice"  # noqa: S105 - a salt, not a secret
NOTICE_LINK = LinkKind(ClientNotice, NOTICE_TOKEN_SALT, "handover:client_answer")


def stage_reached(h: Handover, template: ClientNoticeTemplate | None = None) -> bool:
    template = template or ClientNoticeTemplate.current()
    if h.state == State.CANCELLED:
        return False
    return _ORDER.index(h.state) >= _ORDER.index(template.prepare_at)


# The notice's link (selectors/links.py): its token, the notice a token opens, the client's page.
notice_token = NOTICE_LINK.token
notice_for_token = NOTICE_LINK.for_token
answer_path = NOTICE_LINK.path
answer_link = NOTICE_LINK.url


def effective_date(h: Handover):
    """The day the new contact takes over: the day after the departing person's last working day."""
    return h.last_working_day + datetime.timedelta(days=1)


def notice_texts(notice: ClientNotice, *, template=None, recorded_site: str = "", link: str | None = None) -> LinkTexts:
    """The notice's wording for this client, the placeholders filled in; the short text at most
    SHORT_TEXT_MAX characters (cut before the link when the company's wording runs longer)."""
    template = template or ClientNoticeTemplate.current()
    hc = notice.handover_client
    h = hc.handover
    receiver = hc.receiver
    link = answer_link(notice, recorded_site) if link is None else link
    values = Keep(
        company=settings.COMPANY_NAME,
        client=hc.client.name,
        receiver=receiver.display_name,
        receiver_phone=receiver.phone or "—",
        receiver_email=receiver.email or "—",
        effective_date=f"{effective_date(h):%Y-%m-%d}",
        departing=h.departing.display_name,
        link=link,
    )
    return link_texts(template, values, link)


def link_state(notice: ClientNotice, now=None) -> str:
    """ "open", "answered", "expired" (no answer within the window, or never sent), "cancelled".

    An answer given about an earlier receiver no longer closes the link: the page shows the
    receiver now, and the client may answer about them (until the window ends; sending the
    notice again opens a new one)."""
    now = now or timezone.now()
    if notice.answer and not notice.outdated():
        return "answered"
    if notice.handover_client.handover.state == State.CANCELLED:
        return "cancelled"
    if notice.expires_at is None or now >= notice.expires_at:
        return "expired"
    return "open"


# ---------------------------------------------------------------------------------------
# The "客户告知" tab


@dataclass
class DeliveryLine:
    channel: str
    channel_label: str
    recipient: str
    by: str
    at: datetime.datetime
    sent_at: datetime.datetime | None
    error: str
    note: str
    # Failed as often as it is tried: no more tries (send again, or give it by hand).
    gave_up: bool = False
    # The receiver this sending named (empty for a sending recorded before it was kept).
    receiver: str = ""


@dataclass
class NoticeRow:
    pk: int  # the handover client's
    client: str
    grade: str
    receiver: str
    status: str
    status_label: str
    # The receiver the client was last told of; differs from `receiver` when the notice is outdated.
    told_receiver: str
    expires_at: datetime.datetime | None
    answer_text: str
    answered_at: datetime.datetime | None
    emails: int
    phones: int
    short_text: str
    link: str
    may_send: bool
    letter_url: str
    mark_url: str
    deliveries: list[DeliveryLine] = field(default_factory=list)


@dataclass
class NoticesTab:
    reached: bool
    stage_label: str
    rows: list[NoticeRow] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    may_send: bool = False
    email_url: str = ""
    sms_url: str = ""
    letters_url: str = ""
    channels: list = field(default_factory=list)
    answer_days: int = 7


def notices_tab(h: Handover, user) -> NoticesTab:
    """Each client's notice: its status, who sent it by which channel and when, the short text to copy."""
    template = ClientNoticeTemplate.current()
    tab = NoticesTab(
        reached=stage_reached(h, template),
        stage_label=str(State(template.prepare_at).label),
        answer_days=template.answer_days,
    )
    if not tab.reached:
        return tab
    notices = list(
        ClientNotice.objects.filter(handover_client__handover=h)
        .select_related(
            "handover_client__client",
            "handover_client__receiver",
            "handover_client__handover__departing",
            "told_receiver",
        )
        .order_by("handover_client__grade", "handover_client__client__name", "pk")
    )
    deliveries: dict[int, list[NoticeDelivery]] = {}
    rows = NoticeDelivery.objects.filter(notice__in=notices).select_related("created_by", "receiver")
    for d in rows.order_by("created_at"):
        deliveries.setdefault(d.notice_id, []).append(d)
    addresses: dict[int, list[int]] = {}
    for client_id, email, phone in Contact.objects.filter(
        client_id__in=[n.handover_client.client_id for n in notices]
    ).values_list("client_id", "email", "phone"):
        counts = addresses.setdefault(client_id, [0, 0])
        counts[0] += bool(email)
        counts[1] += bool(phone)
    labels = dict(NoticeStatus.choices)
    channel_labels = dict(NoticeChannel.choices)
    now = timezone.now()
    for n in notices:
        hc = n.handover_client
        may = policy.may_send_notice(h, hc, user)
        texts = notice_texts(n, template=template) if may else None
        status = n.status(now)
        emails, phones = addresses.get(hc.client_id, [0, 0])
        tab.rows.append(
            NoticeRow(
                pk=hc.pk,
                client=hc.client.name,
                grade=hc.grade,
                receiver=hc.receiver.display_name,
                status=status,
                status_label=str(labels[status]),
                told_receiver=n.told_receiver.display_name if n.told_receiver else "",
                expires_at=n.expires_at,
                answer_text=n.answer_text,
                answered_at=n.answered_at,
                emails=emails,
                phones=phones,
                short_text=texts.short if texts else "",
                link=texts.link if texts else "",
                may_send=may,
                letter_url=reverse("handover:notice_letter", args=[h.pk, hc.pk]) if may else "",
                mark_url=reverse("handover:notice_mark", args=[h.pk, hc.pk]) if may else "",
                deliveries=[
                    DeliveryLine(
                        channel=d.channel,
                        channel_label=str(channel_labels.get(d.channel, d.channel)),
                        recipient=d.recipient,
                        by=d.created_by.display_name,
                        at=d.created_at,
                        sent_at=d.sent_at,
                        error=d.error,
                        note=d.note,
                        gave_up=d.sent_at is None and d.attempts >= NOTICE_SEND_ATTEMPTS,
                        receiver=d.receiver.display_name if d.receiver else "",
                    )
                    for d in deliveries.get(n.pk, [])
                ],
            )
        )
    tab.counts = {key: sum(1 for r in tab.rows if r.status == key) for key, _label in NoticeStatus.choices}
    tab.may_send = any(r.may_send for r in tab.rows)
    if tab.may_send:
        tab.email_url = reverse("handover:notices_email", args=[h.pk])
        tab.sms_url = reverse("handover:notices_sms", args=[h.pk])
        tab.letters_url = reverse("handover:notice_letters", args=[h.pk])
    tab.channels = [(c.value, c.label) for c in (NoticeChannel.WECHAT, NoticeChannel.PHONE, NoticeChannel.PAPER)]
    return tab
