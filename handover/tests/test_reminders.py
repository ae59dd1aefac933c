"""Deadlines, reminders, escalation and delivery, with the clock held still."""

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import FollowUp
from handover import notify, services
from handover.models import (
    Duty,
    DutyKind,
    Reminder,
    ReminderKind,
    ReminderPolicy,
    StageDuration,
    State,
)
from handover.reminders import reminders_scan
from handover.tasks import deliver_notification
from handover.tests.conftest import celery_broker
from notifications.models import Notification
from tests.walk import advance_to, signature_of

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


@pytest.fixture(autouse=True)
def _run_after_commit(monkeypatch):
    # Tests run inside one transaction that never commits; run after-commit work at once instead.
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())


@pytest.fixture(autouse=True)
def _email(settings, people):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for i, user in enumerate([people.departing, people.receiver, people.supervisor, people.manager, people.witness]):
        user.email = f"user{i}@example.com"
        user.save(update_fields=["email"])


def _at(day: datetime.date):
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(9, 0), tzinfo=SHANGHAI), tick=False)


def _plan_due(h):
    return h.deadlines.get(state=State.PLAN).due_on


def _reminders(user, **filters):
    return list(Reminder.objects.filter(user=user, **filters).values_list("kind", flat=True))


def test_deadlines_come_from_the_durations_the_company_sets(start):
    StageDuration.objects.filter(state=State.PLAN).update(working_days=5)
    h = start()
    plan_due = _plan_due(h)
    started = timezone.localdate()
    working_days = sum(
        1 for n in range(1, (plan_due - started).days + 1) if (started + datetime.timedelta(n)).weekday() < 5
    )
    assert working_days == 5


def test_reminded_before_on_and_after_the_due_date_then_escalated(handover, people):
    due = _plan_due(handover)
    with _at(due - datetime.timedelta(days=1)):
        reminders_scan()
    assert _reminders(people.departing) == [ReminderKind.BEFORE]
    with _at(due):
        reminders_scan()
    with _at(due + datetime.timedelta(days=1)):
        reminders_scan()
    assert sorted(_reminders(people.departing)) == sorted([ReminderKind.BEFORE, ReminderKind.DUE, ReminderKind.OVERDUE])
    assert _reminders(people.supervisor) == []
    for n in range(2, 8):
        with _at(due + datetime.timedelta(days=n)):
            reminders_scan()
    # Daily while overdue; escalated once to the supervisor (day 2) and once to the manager (day 5).
    assert _reminders(people.departing, kind=ReminderKind.OVERDUE).__len__() == 7
    assert _reminders(people.supervisor) == [ReminderKind.ESCALATION]
    assert Reminder.objects.get(user=people.supervisor).day == due + datetime.timedelta(days=2)
    assert Reminder.objects.get(user=people.manager).day == due + datetime.timedelta(days=5)


def test_nobody_is_reminded_early(handover, people):
    with _at(_plan_due(handover) - datetime.timedelta(days=2)):
        assert reminders_scan()["owed"] == 0
    assert not Reminder.objects.exists()


def test_a_repeated_scan_sends_nothing_twice(handover, people):
    due = _plan_due(handover)
    mail.outbox.clear()
    with _at(due):
        reminders_scan()
        reminders_scan()
        reminders_scan()
    assert Reminder.objects.filter(user=people.departing).count() == 1
    titles = [m.subject for m in mail.outbox if m.to == [people.departing.email]]
    assert len([t for t in titles if handover.number in t]) == 1


def test_a_retried_delivery_sends_once(handover, people):
    with _at(_plan_due(handover)):
        reminders_scan()
    n = Notification.objects.get(user=people.departing, source__startswith="reminder:")
    mail.outbox.clear()
    deliver_notification.apply(args=[n.pk])
    deliver_notification.apply(args=[n.pk])
    assert len(mail.outbox) == 0  # already sent by the scan, after its commit
    Notification.objects.filter(pk=n.pk).update(emailed_at=None)
    deliver_notification.apply(args=[n.pk])
    deliver_notification.apply(args=[n.pk])
    assert len(mail.outbox) == 1


def test_a_failing_send_is_retried_and_then_sent_once(handover, people, monkeypatch):
    calls = {"n": 0}
    real = notify._send_email

    def flaky(n):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("SMTP down")
        real(n)

    monkeypatch.setattr(notify, "_send_email", flaky)
    mail.outbox.clear()
    with _at(_plan_due(handover)):
        reminders_scan()
        reminders_scan()
    n = Notification.objects.get(user=people.departing, source__startswith="reminder:")
    assert n.emailed_at is not None and n.email_attempts == 1
    assert len([m for m in mail.outbox if m.to == [people.departing.email]]) == 1


def test_a_send_that_keeps_failing_stops_after_the_limit_and_keeps_the_notice(handover, people, monkeypatch):
    def broken(n):
        raise OSError("SMTP down")

    monkeypatch.setattr(notify, "_send_email", broken)
    with _at(_plan_due(handover)):
        reminders_scan()
        reminders_scan()
    n = Notification.objects.get(user=people.departing, source__startswith="reminder:")
    assert n.emailed_at is None and n.email_attempts == notify.MAX_ATTEMPTS
    assert n.pk not in notify.pending_delivery_ids()
    assert n.read_at is None  # still in the bell


def test_the_next_person_is_told_at_once(handover, people):
    advance_to(handover, State.PLAN)
    from tests.walk import do_stage_work

    do_stage_work(handover)
    services.handover_transition(handover=handover, name="submit_plan", user=people.departing)
    notice = Notification.objects.get(user=people.supervisor, source__startswith="event:")
    assert handover.number in notice.title
    assert any(m.to == [people.supervisor.email] for m in mail.outbox)


def test_a_return_tells_the_departing_person_with_the_reason(handover, people):
    h = advance_to(handover, State.PLAN_REVIEW)
    services.handover_transition(handover=h, name="return_plan_review", user=people.supervisor, comment="风险写得不够")
    notice = Notification.objects.filter(user=people.departing, source__startswith="event:").latest("id")
    assert "风险写得不够" in notice.body


def test_redis_down_the_approval_still_succeeds_and_the_notice_arrives_later(handover, people, settings):
    h = advance_to(handover, State.PLAN_REVIEW)
    with celery_broker("redis://127.0.0.1:1/0"):  # nothing listens there
        mail.outbox.clear()
        h = services.handover_transition(
            handover=h, name="approve_plan_review", user=people.supervisor, signature=signature_of(people.supervisor)
        )
        assert h.state == State.PLAN_APPROVAL
        notice = Notification.objects.get(user=people.manager, source__startswith="event:")
        assert notice.emailed_at is None
        assert not [m for m in mail.outbox if m.to == [people.manager.email]]
    reminders_scan()
    notice.refresh_from_db()
    assert notice.emailed_at is not None
    assert len([m for m in mail.outbox if m.to == [people.manager.email]]) == 1


class _Robot(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Robot.received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"errcode":0}')

    def log_message(self, *args):
        pass


@pytest.fixture
def robot():
    _Robot.received = []
    server = HTTPServer(("127.0.0.1", 0), _Robot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/robot/send?access_token=test", _Robot.received
    server.shutdown()


def test_the_group_robot_webhook_gets_one_json_post_per_notice(handover, people, robot):
    url, received = robot
    policy = ReminderPolicy.current()
    policy.webhook_url = url
    policy.save()
    with _at(_plan_due(handover)):
        reminders_scan()
        reminders_scan()
    sent = Notification.objects.filter(webhooked_at__isnull=False)
    assert len(received) == sent.count() > 0
    for n in sent:
        assert sum(r["text"]["content"].startswith(n.title) for r in received) == 1
    assert all(r["msgtype"] == "text" for r in received)
    assert Notification.objects.get(user=people.departing, source__startswith="reminder:").webhooked_at


def test_completion_creates_the_duties_and_a_follow_up_closes_them(handover, people, book):
    h = advance_to(handover, State.COMPLETED)
    assert Duty.objects.filter(handover=h, kind=DutyKind.CONTACT_CLIENT).count() == 10
    assert Duty.objects.filter(handover=h, kind=DutyKind.VISIT_CLIENT).count() == 10
    revoke = Duty.objects.get(handover=h, kind=DutyKind.REVOKE_ACCOUNTS)
    assert revoke.assignee is None
    contact = Duty.objects.get(handover=h, kind=DutyKind.CONTACT_CLIENT, client=book[0])
    assert contact.due_on == h.last_working_day + datetime.timedelta(days=7)
    FollowUp.objects.create(client=book[0], date=timezone.localdate(), kind="phone", content="电话介绍新对接人")
    reminders_scan()
    contact.refresh_from_db()
    assert contact.done_at is not None
    # A phone call does not prove a visit.
    assert Duty.objects.get(handover=h, kind=DutyKind.VISIT_CLIENT, client=book[0]).done_at is None


def test_overdue_duties_remind_the_receiver_once_a_day(handover, people):
    h = advance_to(handover, State.COMPLETED)
    due = h.last_working_day + datetime.timedelta(days=7)
    with _at(due + datetime.timedelta(days=1)):
        reminders_scan()
        reminders_scan()
    assert Reminder.objects.filter(user=people.receiver, stage=DutyKind.CONTACT_CLIENT).count() == 1


def test_hr_revokes_access_and_nobody_else_may(handover, people):
    h = advance_to(handover, State.COMPLETED)
    for who in ("supervisor", "manager", "receiver", "departing"):
        with pytest.raises(services.NotAllowed):
            services.handover_revoke_access(handover=h, user=getattr(people, who))
    services.handover_revoke_access(handover=h, user=people.hr)
    people.departing.refresh_from_db()
    assert not people.departing.is_active
    assert Duty.objects.get(handover=h, kind=DutyKind.REVOKE_ACCOUNTS).done_by == people.hr
    with pytest.raises(services.WrongState):
        services.handover_revoke_access(handover=h, user=people.hr)


def test_the_scan_query_count_does_not_grow_with_handovers(start, people, monkeypatch):
    # Delivery runs in the workers, one task per notice; this measures the scan itself.
    from handover import reminders

    monkeypatch.setattr(reminders, "queue_delivery", lambda: None)
    from accounts.roles import Role
    from accounts.tests.factories import UserFactory
    from clients.tests.factories import ClientFactory

    def another():
        person = UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES])
        ClientFactory(owner=person)
        return start(departing=person)

    first = start()
    day = _plan_due(first) + datetime.timedelta(days=3)
    with _at(day), CaptureQueriesContext(connection) as one:
        reminders_scan()
    for _ in range(4):
        another()
    Reminder.objects.all().delete()
    Notification.objects.all().delete()
    with _at(day), CaptureQueriesContext(connection) as five:
        result = reminders_scan()
    assert result["new_notices"] > 5
    assert len(five.captured_queries) == len(one.captured_queries)


def test_the_mailed_link_is_the_site_address_and_the_tab(handover, people, settings):
    settings.SITE_URL = "https://handover.example.cn/"
    with _at(_plan_due(handover)):
        reminders_scan()
    n = Notification.objects.get(user=people.departing, source__startswith="reminder:")
    mail.outbox.clear()
    Notification.objects.filter(pk=n.pk).update(emailed_at=None)
    deliver_notification.apply(args=[n.pk])
    [message] = mail.outbox
    assert n.url.startswith("/handovers/")
    assert f"https://handover.example.cn{n.url}" in message.body


def test_without_a_site_address_the_link_stays_a_path(settings):
    settings.SITE_URL = ""
    assert notify.absolute_url("/handovers/1/?tab=plan") == "/handovers/1/?tab=plan"
