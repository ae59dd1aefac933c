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

from . import flow, selectors
from .flow import Party
from .models import (
    ChecklistItem,
    Handover,
    HandoverClient,
    ItemStatus,
    NoticeAnswer,
    ReminderPolicy,
    Signature,
    SignaturePurpose,
    State,
    SurveyContinue,
)
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


def waiting_signers(handover_ids: list[int]) -> dict[int, set[int]]:
    """Per handover in a state that waits for signatures first (StateSpec.signed_first): who has
    not signed yet, in four queries however many handovers. The batch form of signers_waited_for
    for the reminders; like the inbox it counts current signatures (whether each still holds shows
    on the handover page), the signers as signing.SignatureChecker.required_signers names them."""
    rows = list(Handover.objects.filter(pk__in=handover_ids).values_list("pk", "state", "departing_id", "witness_id"))
    purposes = {flow.STATES[state].signed_first for _pk, state, _d, _w in rows} - {None}
    if not purposes:
        return {}
    if purposes != {SignaturePurpose.CHECKLIST}:
        raise ValueError(f"no batch count of the signers of {purposes}")
    ids = [pk for pk, state, _d, _w in rows if flow.STATES[state].signed_first]
    required = {pk: {departing, witness} for pk, state, departing, witness in rows if pk in ids}
    for model in (HandoverClient, ChecklistItem):
        for hid, rid in model.objects.filter(handover_id__in=ids).values_list("handover_id", "receiver_id"):
            required[hid].add(rid)
    signed = Signature.objects.filter(
        handover_id__in=ids, purpose=SignaturePurpose.CHECKLIST, superseded_at__isnull=True
    ).values_list("handover_id", "signer_id")
    for hid, signer in signed:
        required[hid].discard(signer)
    return required


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


def signers_waited_for(h: Handover) -> list[int]:
    """Who must still sign before the person whose to-do the state is may act (StateSpec.signed_first)."""
    purpose = flow.STATES[h.state].signed_first
    return checker_for(h).missing(purpose) if purpose else []


def actors_for(h: Handover) -> set[int]:
    """Who must act on the handover now; after it closes, who must hear of it.

    In a state that waits for signatures first (the checklist before the final approval), those
    still to sign act, and the person whose to-do the state is only once the last is in.
    """
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
    if waited := signers_waited_for(h):
        actors.discard(getattr(h, f"{flow.STATES[h.state].by}_id"))
        actors |= set(waited)
    return actors


def handover_link(h: Handover | int, tab: str, anchor: str = "") -> str:
    """The handover page at a tab (flow.TABS), at a row (client-<pk>, item-<pk>) when given."""
    pk = h.pk if isinstance(h, Handover) else h
    try:
        url = reverse("handover:detail", args=[pk])
    except Exception:  # noqa: BLE001 - the pages may not be installed in every deployment
        return ""
    return f"{url}?tab={tab}" + (f"#{anchor}" if anchor else "")


def _body(actor, comment: str = "") -> str:
    if comment:
        return _("%(actor)s: %(comment)s") % {"actor": actor, "comment": comment}
    return _("By %(actor)s.") % {"actor": actor}


def _write(h: Handover, *, source: str, notices: dict[int, tuple[str, str, str]], actor) -> int:
    """One notice per person for one source (an event): {user id: (title, body, url)}.

    The actor hears nothing of their own act; the unique (user, source) makes a second write of
    the same event a no-op, so a notice is never duplicated.
    """
    notices.pop(getattr(actor, "pk", None), None)
    if not notices:
        return 0
    created = Notification.objects.bulk_create(
        [
            Notification(user_id=uid, handover=h, source=source, title=title[:200], body=body, url=url)
            for uid, (title, body, url) in notices.items()
        ],
        ignore_conflicts=True,
    )
    queue_delivery()
    return len(created)


def _work_title(key: str, h: Handover, n: int = 1) -> str:
    return str(flow.WORK_NOTICES[key].title) % {"number": h.number, "n": n}


def notice_for_event(h: Handover, *, event_id: int, kind: str, actor, comment: str = "") -> int:
    """Write the in-app notices a start or a transition owes, inside the caller's transaction. Returns how many.

    Whoever must act next hears it (actors_for), with a link to the tab of the new state; in a
    state that waits for signatures first, those still to sign are asked to sign instead.
    """
    source = f"event:{event_id}"
    notices: dict[int, tuple[str, str, str]] = {}
    with translation.override(settings.LANGUAGE_CODE):
        body = _body(actor, comment)
        link = handover_link(h, flow.tab_of(h.state))
        if kind == "started":
            title = _("Handover %(number)s started: %(name)s's clients") % {"number": h.number, "name": h.departing}
        else:
            state = h.get_state_display()
            title = str(flow.NOTICE_TITLES[flow.TRANSITIONS[kind].notice]) % {"number": h.number, "state": state}
        waited = set(signers_waited_for(h)) if not flow.STATES[h.state].told else set()
        for uid in actors_for(h):
            notices[uid] = (title, body, link)
        if waited:
            purpose = flow.STATES[h.state].signed_first
            key = flow.SIGNATURES[purpose].notice
            if key:
                sign = (_work_title(key, h), body, handover_link(h, flow.WORK_NOTICES[key].tab))
                notices.update(dict.fromkeys(waited, sign))
    return _write(h, source=source, notices=notices, actor=actor)


def notice_items_waiting(h: Handover, *, event_id: int, actor, items: dict[int, list[int]], comment: str = "") -> int:
    """The receivers of the items one hand-over gave them: one notice each, however many items.

    items: {receiver id: [item pk, ...]}, in the page's order; the link opens the first of them.
    """
    notices = {}
    with translation.override(settings.LANGUAGE_CODE):
        body = _body(actor, comment)
        for uid, pks in items.items():
            if pks:
                link = handover_link(h, flow.WORK_NOTICES["items_waiting"].tab, f"item-{pks[0]}")
                notices[uid] = (_work_title("items_waiting", h, len(pks)), body, link)
    return _write(h, source=f"event:{event_id}", notices=notices, actor=actor)


def notice_item_disputed(h: Handover, *, event_id: int, actor, item, comment: str) -> int:
    """The departing person hears of a dispute, with a link to the item's row."""
    with translation.override(settings.LANGUAGE_CODE):
        link = handover_link(h, flow.WORK_NOTICES["item_disputed"].tab, f"item-{item.pk}")
        notices = {h.departing_id: (_work_title("item_disputed", h), _body(actor, comment), link)}
    return _write(h, source=f"event:{event_id}", notices=notices, actor=actor)


def notice_if_ready(h: Handover, *, event_id: int, actor) -> int:
    """After others' work (a confirmation, a signature): tell whoever may now act that they can.

    The transitions of the state whose spec names a `ready` notice tell their mover once their
    conditions hold; a state that waited for signatures first (the checklist) tells the person
    whose to-do it is when the last signature is in. Each at most once per event.
    """
    notices: dict[int, tuple[str, str, str]] = {}
    spec = flow.STATES.get(h.state)
    if spec is None or spec.by is None:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        body = _body(actor)
        for name, transition in flow.TRANSITIONS.items():
            if not transition.ready or transition.by != spec.by:
                continue
            if h.state in flow.CLOSED_STATES or not selectors.conditions_met(h, name):
                continue
            key = transition.ready
            notices[getattr(h, f"{spec.by}_id")] = (
                _work_title(key, h),
                body,
                handover_link(h, flow.WORK_NOTICES[key].tab),
            )
        if spec.signed_first and not signers_waited_for(h):
            title = str(flow.NOTICE_TITLES[flow.Notice.NEEDS_YOU]) % {
                "number": h.number,
                "state": h.get_state_display(),
            }
            notices[getattr(h, f"{spec.by}_id")] = (title, body, handover_link(h, flow.tab_of(h.state)))
    return _write(h, source=f"event:{event_id}", notices=notices, actor=actor)


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


def absolute_url(url: str) -> str:
    """A link a mail reader can follow: the site's own address (SITE_URL) before a path."""
    if url.startswith("/") and settings.SITE_URL:
        return settings.SITE_URL.rstrip("/") + url
    return url


def _send_email(n: Notification) -> None:
    if not n.user.email:
        return
    link = f"\n\n{absolute_url(n.url)}" if n.url else ""
    send_mail(n.title, f"{n.body}{link}", None, [n.user.email], fail_silently=False)


def _send_webhook(n: Notification, url: str) -> None:
    # The text message shape both DingTalk and WeCom group robots accept.
    link = f"\n{absolute_url(n.url)}" if n.url and absolute_url(n.url) != n.url else ""
    payload = {"msgtype": "text", "text": {"content": f"{n.title}\n{n.body}{link}"}}
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


def notice_client_objected(h: Handover, *, event_id: int, handover_client: HandoverClient, answer: str, text: str):
    """A client answered their notice asking for another contact, or with a concern: the supervisor hears it."""
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Handover %(number)s: %(client)s answered the client notice: %(answer)s") % {
            "number": h.number,
            "client": handover_client.client.name,
            "answer": NoticeAnswer(answer).label,
        }
        link = handover_link(h, "notices", f"notice-{handover_client.pk}")
        notices = {h.supervisor_id: (title, text, link)}
    return _write(h, source=f"event:{event_id}", notices=notices, actor=None)


def notice_outdated(h: Handover, *, event_id: int, handover_client: HandoverClient, told: str, actor) -> int:
    """A client's receiver changed after their notice named another: its senders (the departing
    person, the supervisor, the new receiver) hear that it is to be sent again."""
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Handover %(number)s: the notice to %(client)s named %(told)s; send it again") % {
            "number": h.number,
            "client": handover_client.client.name,
            "told": told,
        }
        body = _("%(client)s is now received by %(receiver)s.") % {
            "client": handover_client.client.name,
            "receiver": handover_client.receiver.display_name,
        }
        link = handover_link(h, "notices", f"notice-{handover_client.pk}")
        people = (h.departing_id, h.supervisor_id, handover_client.receiver_id)
        notices = dict.fromkeys(people, (title, body, link))
    return _write(h, source=f"event:{event_id}", notices=notices, actor=actor)


def survey_answer_low(h: Handover, *, event_id: int, handover_client: HandoverClient, survey) -> int:
    """A client rated the handover 2 or less, or will not continue: the receiver and the supervisor hear it."""
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Handover %(number)s: %(client)s rated the handover %(rating)s/5 (continue: %(continue)s)") % {
            "number": h.number,
            "client": handover_client.client.name,
            "rating": survey.rating,
            "continue": SurveyContinue(survey.will_continue).label,
        }
        link = handover_link(h, "surveys", f"survey-{handover_client.pk}")
        body = survey.comment
        notices = dict.fromkeys((handover_client.receiver_id, h.supervisor_id), (title, body, link))
    return _write(h, source=f"event:{event_id}", notices=notices, actor=None)


def notice_people(h: Handover, *, event_id: int, actor, notices: dict[int, tuple[str, str]]) -> int:
    """Notices of an event after completion (a cover ending or refused): {user id: (title, body)},
    each with a link to the handover's page; the actor hears nothing of their own act."""
    try:
        link = reverse("handover:detail", args=[h.pk])
    except Exception:  # noqa: BLE001 - the pages may not be installed in every deployment
        link = ""
    rows = {uid: (title, body, link) for uid, (title, body) in notices.items() if uid}
    return _write(h, source=f"event:{event_id}", notices=rows, actor=actor)


def hr_people() -> set[int]:
    """Every active person holding the HR role."""
    return set(User.objects.filter(groups__name=Role.HR, is_active=True).values_list("pk", flat=True))
