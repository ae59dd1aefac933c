"""Retention of handed-over clients against the company's other clients over the same calendar windows
(issue 14, item 2): a small book where every number is known."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.models import Client, ClientStatus, LostReason
from clients.tests.factories import ClientFactory, ContractFactory, FollowUpFactory
from handover import selectors
from handover.models import Handover, HandoverClient, State

TZ = timezone.get_default_timezone()


def _completed(people, days_ago: int, n: int) -> Handover:
    departing = UserFactory(department=people.east, roles=[Role.SALES])
    now = timezone.now()
    return Handover.objects.create(
        number=f"R{departing.pk:06d}{n}",
        departing=departing,
        receiver=people.receiver,
        supervisor=people.supervisor,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=now.date(),
        last_working_day=now.date(),
        started_by=people.hr,
        started_at=now - datetime.timedelta(days=days_ago + 30),
        state=State.COMPLETED,
        completed_at=now - datetime.timedelta(days=days_ago),
    )


def _handed_over(h, people, follow_up_day: int | None):
    c = ClientFactory(owner=people.receiver)
    HandoverClient.objects.create(handover=h, client=c, receiver=people.receiver, grade="B")
    if follow_up_day is not None:
        FollowUpFactory(client=c, date=_day(h, follow_up_day), kind="phone")


def _day(h, n: int) -> datetime.date:
    return timezone.localdate(h.completed_at) + datetime.timedelta(days=n)


def _lost_on(c, day: datetime.date):
    when = datetime.datetime.combine(day, datetime.time(12), tzinfo=TZ)
    Client.objects.filter(pk=c.pk).update(status=ClientStatus.LOST, lost_reason=LostReason.SERVICE, lost_at=when)


@pytest.fixture
def book(people):
    """d0: a handover completed 200 days ago (two clients: one followed up on day 10, one silent);
    d1: one completed 100 days ago (one client, followed up on day 50). The other clients:
    o1 followed up on d0 + 20; o2 signed on d1 + 40 (= d0 + 140); o3 followed up on d0 + 5 and was
    lost on d0 + 20; o4 never active; o5 lost 50 days before d0."""
    old, recent = _completed(people, 200, 1), _completed(people, 100, 2)
    _handed_over(old, people, 10)
    _handed_over(old, people, None)
    _handed_over(recent, people, 50)
    seller = people.other_sales
    o1, o2, o3, _o4, o5 = (ClientFactory(owner=seller) for _ in range(5))
    FollowUpFactory(client=o1, date=_day(old, 20), kind="visit")
    day = _day(recent, 40)
    ContractFactory(client=o2, signed_on=day, start_date=day, end_date=day, amount=100, amount_paid=0)
    FollowUpFactory(client=o3, date=_day(old, 5), kind="phone")
    _lost_on(o3, _day(old, 20))
    _lost_on(o5, _day(old, -50))
    return old, recent


def test_the_other_clients_are_asked_over_the_handed_over_clients_windows(book, people):
    assert Client.objects.count() == 8
    rows = {row["days"]: row for row in selectors.after_handover_figures(people.hr).retention}
    # Handed over: at 30 days the client followed up on day 10; at 90 also the one on day 50; at 180
    # only d0's window is over.
    assert [(rows[n]["handed_over"], rows[n]["handed_over_retained"]) for n in (30, 90, 180)] == [
        (3, 1),
        (3, 2),
        (2, 1),
    ]
    # 30 days: d0 (weight 2) counts o1-o4 (o5 was lost before), o1 active (o3 lost within the
    # window); d1 (weight 1) counts o1, o2, o4, none active in [d1, d1 + 30]: 2 of 11.
    assert rows[30]["others_rate"] == Decimal("18.2")
    # 90 days: d0 as before, d1 has o2 (d1 + 40): 3 of 11.
    assert rows[90]["others_rate"] == Decimal("27.3")
    # 180 days: only d0, where o2 (d0 + 140) joins o1: 2 of 4.
    assert rows[180]["others_rate"] == Decimal("50.0")
    assert (rows[180]["others"], rows[180]["others_active"]) == (4, 2)
    assert (rows[30]["others"], rows[30]["others_active"]) == (4, 1)


def test_no_window_over_no_comparison(people):
    h = _completed(people, 10, 1)
    _handed_over(h, people, 2)
    ClientFactory(owner=people.other_sales)
    rows = selectors.after_handover_figures(people.hr).retention
    assert [(r["handed_over"], r["others"], r["others_rate"]) for r in rows] == [(0, 0, None)] * 3


def test_a_department_compares_with_its_own_other_clients(book, people):
    # The other clients belong to north; east's view has none to compare with.
    rows = selectors.after_handover_figures(people.hr, department=people.east).retention
    assert [r["others_rate"] for r in rows] == [None, None, None]
    assert rows[0]["handed_over"] == 3


def test_a_payment_in_the_window_makes_an_other_client_active(people):
    from clients.tests.factories import ReceivableFactory

    h = _completed(people, 100, 1)
    _handed_over(h, people, None)
    paid, _silent = ClientFactory(owner=people.other_sales), ClientFactory(owner=people.other_sales)
    day = _day(h, -400)
    contract = ContractFactory(client=paid, signed_on=day, start_date=day, end_date=day, amount=100, amount_paid=0)
    r = ReceivableFactory(contract=contract, amount_due=Decimal("100.00"), amount_received=Decimal("0.00"))
    r.amount_received = Decimal("60.00")
    r.save(received_on=_day(h, 10))
    rows = {row["days"]: row for row in selectors.after_handover_figures(people.hr).retention}
    assert (rows[30]["others"], rows[30]["others_active"], rows[30]["others_rate"]) == (2, 1, Decimal("50.0"))
    assert rows[90]["others_rate"] == Decimal("50.0") and rows[180]["others_rate"] is None
