"""The periodic scan: who owes what today, reminded once per person, stage, kind and day.

The scan reads only the database, so it can run in any number of workers or beats at
once: the unique keys on Reminder and Notification let exactly one insert win, and
delivery is claimed row by row (see notify.py).
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, Min, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat, TruncDate
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from clients.models import FollowUp
from notifications.models import Notification, WebhookEventType
from notifications.webhooks import person_data, webhook_emit_all

from . import flow
from .models import (
    DUTY_PROOF,
    EVALUATE_AFTER_DAYS,
    OPEN_STATES,
    Duty,
    DutyKind,
    Handover,
    Reason,
    Reminder,
    ReminderKind,
    ReminderPolicy,
    StageDeadline,
    State,
    add_working_days,
)
from .notify import queue_delivery, state_actors, waiting_receivers, waiting_signers


@dataclass(frozen=True)
class Owed:
    user_id: int
    handover_id: int
    stage: str
    kind: str
    due_on: datetime.date


def _kinds_for(days_late: int, policy: ReminderPolicy) -> str | None:
    if days_late == -policy.remind_days_before and policy.remind_days_before > 0:
        return ReminderKind.BEFORE
    if days_late == 0:
        return ReminderKind.DUE
    if days_late > 0:
        return ReminderKind.OVERDUE
    return None


def _owed_for(
    *,
    actors: set[int],
    handover_id: int,
    stage: str,
    due_on: datetime.date,
    today: datetime.date,
    policy: ReminderPolicy,
    supervisor_id: int,
    manager_id: int,
    escalated: set[tuple[int, int, str]],
) -> list[Owed]:
    days_late = (today - due_on).days
    kind = _kinds_for(days_late, policy)
    if kind is None:
        return []
    owed = [Owed(uid, handover_id, stage, kind, due_on) for uid in actors if uid]
    # Overdue long enough: the supervisor is told, later the manager; each once per stage.
    for threshold, boss in (
        (policy.escalate_to_supervisor_after, supervisor_id),
        (policy.escalate_to_manager_after, manager_id),
    ):
        if days_late >= threshold > 0 and boss not in actors and (boss, handover_id, stage) not in escalated:
            owed.append(Owed(boss, handover_id, stage, ReminderKind.ESCALATION, due_on))
    return owed


def owed_reminders(today: datetime.date, policy: ReminderPolicy) -> list[Owed]:
    """Everything owed today, in a number of queries that does not depend on how many handovers are open."""
    current_due = StageDeadline.objects.filter(handover=OuterRef("pk"), state=OuterRef("state")).values("due_on")[:1]
    open_handovers = list(
        Handover.objects.filter(state__in=OPEN_STATES)
        .annotate(due_on=Subquery(current_due))
        .filter(due_on__isnull=False, due_on__lte=today + datetime.timedelta(days=policy.remind_days_before))
        .values("pk", "state", "due_on", "departing_id", "supervisor_id", "manager_id", "witness_id")
    )
    states = {row["state"] for row in open_handovers}
    waiting: dict[int, set[int]] = {}
    for state in flow.RECEIVER_STATES & states:
        waiting.update(waiting_receivers(state))
    # A state that waits for signatures first: those still to sign are reminded, not its `by`.
    signers = waiting_signers([row["pk"] for row in open_handovers if flow.STATES[row["state"]].signed_first])
    escalated = set(
        Reminder.objects.filter(kind=ReminderKind.ESCALATION, handover__state__in=OPEN_STATES).values_list(
            "user_id", "handover_id", "stage"
        )
    )
    owed: list[Owed] = []
    for row in open_handovers:
        actors = state_actors(
            row["state"],
            departing_id=row["departing_id"],
            supervisor_id=row["supervisor_id"],
            manager_id=row["manager_id"],
            witness_id=row["witness_id"],
            receiver_ids=waiting.get(row["pk"], ()),
        )
        if unsigned := signers.get(row["pk"]):
            actors.discard(row[f"{flow.STATES[row['state']].by}_id"])
            actors |= unsigned
        owed += _owed_for(
            actors=actors,
            handover_id=row["pk"],
            stage=row["state"],
            due_on=row["due_on"],
            today=today,
            policy=policy,
            supervisor_id=row["supervisor_id"],
            manager_id=row["manager_id"],
            escalated=escalated,
        )
    owed += _owed_duties(today, policy)
    return owed


def _owed_duties(today: datetime.date, policy: ReminderPolicy) -> list[Owed]:
    horizon = today + datetime.timedelta(days=policy.remind_days_before)
    # One row per handover, kind and assignee with its earliest due date; many clients of one
    # kind give one reminder a day.
    duties = (
        Duty.objects.filter(done_at__isnull=True, due_on__lte=horizon)
        .values("handover_id", "kind", "assignee_id", "handover__supervisor_id", "handover__manager_id")
        .annotate(earliest=Min("due_on"))
        .order_by()
    )
    hr_ids = set(User.objects.filter(groups__name=Role.HR, is_active=True).values_list("pk", flat=True))
    escalated = set(
        Reminder.objects.filter(kind=ReminderKind.ESCALATION, stage__in=DutyKind.values).values_list(
            "user_id", "handover_id", "stage"
        )
    )
    actors_by_key: dict[tuple[int, str], set[int]] = defaultdict(set)
    bosses = {}
    earliest: dict[tuple[int, str], datetime.date] = {}
    for d in duties:
        key = (d["handover_id"], d["kind"])
        earliest[key] = min(earliest.get(key, d["earliest"]), d["earliest"])
        actors_by_key[key] |= {d["assignee_id"]} if d["assignee_id"] else hr_ids
        bosses[key] = (d["handover__supervisor_id"], d["handover__manager_id"])
    owed = []
    for key, actors in actors_by_key.items():
        owed += _owed_for(
            actors=actors,
            handover_id=key[0],
            stage=key[1],
            due_on=earliest[key],
            today=today,
            policy=policy,
            supervisor_id=bosses[key][0],
            manager_id=bosses[key][1],
            escalated=escalated,
        )
    return owed


def _title(o: Owed, number: str) -> str:
    stage = State(o.stage).label if o.stage in State.values else DutyKind(o.stage).label
    params = {"number": number, "stage": stage, "date": o.due_on}
    if o.kind == ReminderKind.BEFORE:
        return _("Handover %(number)s: “%(stage)s” is due on %(date)s") % params
    if o.kind == ReminderKind.DUE:
        return _("Handover %(number)s: “%(stage)s” is due today") % params
    if o.kind == ReminderKind.OVERDUE:
        return _("Handover %(number)s: “%(stage)s” is overdue since %(date)s") % params
    return _("Escalation: handover %(number)s is overdue at “%(stage)s” since %(date)s") % params


# The services sit above this module: HandoverConfig.ready() hands down services.covers_end_due,
# which ends the covers whose return date has come (services/cover.py).
_covers_end: list = []


def covers_end_with(end_due) -> None:
    _covers_end[:] = [end_due]


@transaction.atomic
def reminders_scan(*, today: datetime.date | None = None) -> dict:
    """End the covers due today, close duties proven done, write today's reminders and their notices, queue delivery."""
    today = today or timezone.localdate()
    policy = ReminderPolicy.current()
    covers = _covers_end[0](today) if _covers_end else {}
    closed = duties_close_proven()
    owed = owed_reminders(today, policy)
    # Insert only what is new today; the unique key settles a race with another scanner.
    done = set(Reminder.objects.filter(day=today).values_list("user_id", "handover_id", "stage", "kind"))
    Reminder.objects.bulk_create(
        [
            Reminder(
                user_id=o.user_id, handover_id=o.handover_id, stage=o.stage, kind=o.kind, day=today, due_on=o.due_on
            )
            for o in owed
            if (o.user_id, o.handover_id, o.stage, o.kind) not in done
        ],
        ignore_conflicts=True,
    )
    # Notices for today's reminders that have none yet: this run's, or those of a run that crashed.
    source = Concat(Value("reminder:"), Cast(OuterRef("pk"), CharField()))
    unnoticed = Reminder.objects.filter(day=today).exclude(
        Exists(Notification.objects.filter(user=OuterRef("user"), source=source))
    )
    notices = []
    url = _detail_url()
    with translation.override(settings.LANGUAGE_CODE):
        for r in unnoticed.values("pk", "user_id", "handover_id", "stage", "kind", "due_on", "handover__number"):
            o = Owed(r["user_id"], r["handover_id"], r["stage"], r["kind"], r["due_on"])
            notices.append(
                Notification(
                    user_id=o.user_id,
                    handover_id=o.handover_id,
                    source=f"reminder:{r['pk']}",
                    title=_title(o, r["handover__number"]),
                    body=_("Please open the handover and act before the deadline."),
                    url=_duty_url(o)
                    if o.stage in DutyKind.values
                    else (url.replace("0", str(o.handover_id)) if url else ""),
                )
            )
    Notification.objects.bulk_create(notices, ignore_conflicts=True)
    queue_delivery()
    overdue = webhook_emit_all(WebhookEventType.DUTY_OVERDUE, lambda: _overdue_duty_events(today))
    return {
        "owed": len(owed),
        "new_notices": len(notices),
        "duties_closed": closed,
        "duties_overdue": len(overdue),
        **covers,
    }


def _overdue_duty_events(today: datetime.date) -> list[tuple[dict, str]]:
    """Each open duty past its due date, once (keyed by the duty): for the subscribed systems."""
    duties = Duty.objects.filter(done_at__isnull=True, due_on__lt=today).select_related(
        "handover", "client", "assignee"
    )
    return [
        (
            {
                "duty": {"id": d.pk, "kind": d.kind, "due_on": d.due_on},
                "handover": {"id": d.handover_id, "number": d.handover.number},
                "client": {"id": d.client_id, "name": d.client.name} if d.client_id else None,
                "assignee": person_data(d.assignee),
            },
            f"duty.overdue:{d.pk}",
        )
        for d in duties
    ]


def _duty_url(o: Owed) -> str:
    """A duty after completion is done from the duty page, at that handover's duties of that kind."""
    try:
        return reverse("handover:duties") + f"#handover-{o.handover_id}-{o.stage}"
    except NoReverseMatch:
        return ""


def _detail_url() -> str:
    """The handover page's URL with 0 for the id, or "" where the pages are not installed."""
    try:
        return reverse("handover:detail", args=[0])
    except NoReverseMatch:
        return ""


# ---------------------------------------------------------------------------------------
# Duties after completion


def duties_create(h: Handover) -> int:
    """The procedure's duties once the clients have moved; called in the completing transaction."""
    policy = ReminderPolicy.current()
    base = h.last_working_day
    rows = []
    for hc in h.clients.all():
        rows.append(
            Duty(
                handover=h,
                kind=DutyKind.CONTACT_CLIENT,
                client_id=hc.client_id,
                assignee_id=hc.receiver_id,
                due_on=base + datetime.timedelta(days=policy.contact_within_days),
            )
        )
        rows.append(
            Duty(
                handover=h,
                kind=DutyKind.VISIT_CLIENT,
                client_id=hc.client_id,
                assignee_id=hc.receiver_id,
                due_on=base + datetime.timedelta(days=policy.visit_within_days),
            )
        )
    # Only someone who resigned loses their accounts: a transfer stays in the company, and a cover
    # (COVER_REASONS: a leave, a temporary transfer) comes back to their clients.
    if h.reason == Reason.RESIGNATION:
        rows.append(
            Duty(
                handover=h,
                kind=DutyKind.REVOKE_ACCOUNTS,
                due_on=add_working_days(base, policy.revoke_within_working_days),
            )
        )
    # The supervisor's evaluation (交接评估), a month after completion; closed by the evaluation itself.
    completed_on = timezone.localdate(h.completed_at) if h.completed_at else timezone.localdate()
    rows.append(
        Duty(
            handover=h,
            kind=DutyKind.EVALUATE_HANDOVER,
            assignee_id=h.supervisor_id,
            due_on=completed_on + datetime.timedelta(days=EVALUATE_AFTER_DAYS),
        )
    )
    Duty.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def duties_close_proven(*, client_id: int | None = None, done_by=None) -> int:
    """Close client duties for which a follow-up of a proving kind (models.DUTY_PROOF) was recorded
    on or after the handover's completion day; only that client's when client_id is given (a
    follow-up just recorded, in its transaction, by done_by)."""
    closed = 0
    now = timezone.now()
    for kind, follow_kinds in DUTY_PROOF.items():
        proof = FollowUp.objects.filter(
            client_id=OuterRef("client_id"), kind__in=follow_kinds, date__gte=OuterRef("completed_on")
        )
        open_duties = Duty.objects.filter(kind=kind, done_at__isnull=True)
        if client_id is not None:
            open_duties = open_duties.filter(client_id=client_id)
        proven = (
            open_duties.annotate(completed_on=TruncDate("handover__completed_at")).filter(Exists(proof)).values("pk")
        )
        closed += Duty.objects.filter(pk__in=Subquery(proven)).update(done_at=now, done_by=done_by)
    return closed


def duties_close_by_follow_up(follow_up) -> int:
    """clients.hooks' listener: the duties of that client the new follow-up proves, closed at once."""
    return duties_close_proven(client_id=follow_up.client_id, done_by=follow_up.created_by)
