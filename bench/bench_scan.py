"""The reminder scan over 10,000 open handovers: target ≤ 5 s, queries not growing with the count."""

import datetime
import time

from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Department, User
from accounts.roles import Role
from handover import reminders
from handover.models import DEFAULT_STATE_DAYS, Handover, Reminder, StageDeadline
from notifications.models import Notification

HANDOVERS = 10_000
MAX_SECONDS = 5.0


def _world(n: int) -> None:
    today = timezone.localdate()
    dept, _ = Department.objects.get_or_create(code="BENCH", defaults={"name": "压测部"})
    boss = User.objects.create(username="bench-boss", full_name="压测主管", department=dept)
    manager = User.objects.create(username="bench-manager", full_name="压测经理")
    witness = User.objects.create(username="bench-witness", full_name="压测监交")
    receiver = User.objects.create(username="bench-receiver", full_name="压测接收", department=dept)
    boss.groups.add(Group.objects.get(name=Role.SUPERVISOR))
    manager.groups.add(Group.objects.get(name=Role.MANAGER))
    witness.groups.add(Group.objects.get(name=Role.WITNESS))
    people = User.objects.bulk_create(
        User(username=f"bench-{i}", full_name=f"离职{i}", department=dept, supervisor=boss) for i in range(n)
    )
    states = list(DEFAULT_STATE_DAYS)
    handovers = Handover.objects.bulk_create(
        Handover(
            number=f"BENCH-{i:06d}",
            departing=p,
            receiver=receiver,
            supervisor=boss,
            witness=witness,
            manager=manager,
            reason="resignation",
            notice_date=today - datetime.timedelta(days=20),
            last_working_day=today + datetime.timedelta(days=10),
            started_by=boss,
            state=states[i % len(states)],
        )
        for i, p in enumerate(people)
    )
    # Due dates spread from ten days late to two days ahead: every kind of reminder occurs.
    StageDeadline.objects.bulk_create(
        StageDeadline(handover=h, state=h.state, due_on=today + datetime.timedelta(days=(i % 13) - 10))
        for i, h in enumerate(handovers)
    )


def _scan() -> tuple[float, int, int, dict]:
    """(seconds, queries, queries other than insert batches, result)."""
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        result = reminders.reminders_scan()
    seconds = time.perf_counter() - started
    # SQLite caps the parameters per statement, so its bulk inserts come in batches whose
    # number grows with the rows; every other statement must stay the same in number.
    others = sum(1 for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("INSERT"))
    return seconds, len(queries), others, result


def bench_reminder_scan() -> list[dict]:
    # Delivery is the workers' job, one task per notice; this measures the scan.
    queue, reminders.queue_delivery = reminders.queue_delivery, lambda: None
    try:
        _world(100)
        _seconds, _queries, small_others, _ = _scan()
        Handover.objects.all().delete()
        Reminder.objects.all().delete()
        Notification.objects.all().delete()
        User.objects.filter(username__startswith="bench-").delete()
        _world(HANDOVERS)
        first, queries, others, result = _scan()
        again, queries_again, others_again, _ = _scan()
    finally:
        reminders.queue_delivery = queue
    target = f"≤ {MAX_SECONDS:.0f} s; non-insert queries as for 100 handovers ({small_others})"
    return [
        {
            "name": f"reminder scan, {HANDOVERS:,} open handovers ({result['new_notices']:,} reminders)",
            "seconds": first,
            "queries": queries,
            "target": target,
            "ok": first <= MAX_SECONDS and others == small_others,
        },
        {
            "name": "reminder scan again the same day (nothing new)",
            "seconds": again,
            "queries": queries_again,
            "target": target,
            "ok": again <= MAX_SECONDS and others_again <= small_others,
        },
    ]
