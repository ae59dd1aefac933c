"""The dashboard's outcome totals, added up by the database (issue 14, item 6): the same figures as
each client's outcome (client_outcomes) summed, in one query whatever the number of clients."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.models import Client, ClientStatus, LostReason
from clients.tests.factories import ClientFactory, ContractFactory, FollowUpFactory, ReceivableFactory
from handover.models import ClientSurvey, Handover, HandoverClient, State
from handover.selectors.outcomes import WINDOWS, client_outcomes, outcome_totals

TODAY = timezone.localdate()


def _handover(people, days_ago: int | None, n: int) -> Handover:
    """A handover made directly (no walk), completed days_ago days ago (None: still open)."""
    departing = UserFactory(department=people.east, roles=[Role.SALES])
    now = timezone.now()
    return Handover.objects.create(
        number=f"T{departing.pk:06d}{n}",
        departing=departing,
        receiver=people.receiver,
        supervisor=people.supervisor,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=TODAY,
        last_working_day=TODAY,
        started_by=people.hr,
        started_at=now - datetime.timedelta(days=(days_ago or 0) + 30),
        state=State.MATERIALS if days_ago is None else State.COMPLETED,
        completed_at=None if days_ago is None else now - datetime.timedelta(days=days_ago),
    )


def _client(h, receiver, *, received_then=Decimal("0.00"), due=Decimal("500.00"), received_now=Decimal("0.00")):
    c = ClientFactory(owner=receiver)
    old = TODAY - datetime.timedelta(days=900)
    contract = _contract(c, old, Decimal("9.00"))
    r = ReceivableFactory(contract=contract, amount_due=due, amount_received=Decimal("0.00"))
    # Paid before the completion, then (dated payments) 20 days after it.
    for amount, day in ((received_then, -10), (received_now, 20)):
        if amount and amount > r.amount_received:
            r.amount_received = amount
            r.save(received_on=_day(h, day))
    hc = HandoverClient.objects.create(
        handover=h,
        client=c,
        receiver=receiver,
        grade="B",
        outstanding_at_completion=None if received_then is None else due - received_then,
        received_at_completion=received_then,
    )
    return c, hc


def _contract(c, signed_on: datetime.date, amount):
    return ContractFactory(
        client=c, signed_on=signed_on, start_date=signed_on, end_date=signed_on, amount=amount, amount_paid=0
    )


def _day(h, n: int) -> datetime.date:
    return timezone.localdate(h.completed_at) + datetime.timedelta(days=n)


def _lose(c, when: datetime.datetime | None):
    Client.objects.filter(pk=c.pk).update(status=ClientStatus.LOST, lost_reason=LostReason.PRICE, lost_at=when)


@pytest.fixture
def company(people):
    """Two receivers, a handover completed 400 days ago and one 100 days ago, and one still open."""
    a, b = people.receiver, UserFactory(department=people.east, roles=[Role.SALES])
    old, recent, open_ = _handover(people, 400, 1), _handover(people, 100, 2), _handover(people, None, 3)
    # a's clients, completed 400 days ago.
    c1, hc1 = _client(old, a, received_then=Decimal("100.00"), received_now=Decimal("300.00"))
    FollowUpFactory(client=c1, date=_day(old, 10), kind="phone")
    FollowUpFactory(client=c1, date=_day(old, 100), kind="visit")
    _contract(c1, _day(old, -100), 1000)
    _contract(c1, _day(old, 200), 1500)
    ClientSurvey.objects.create(
        handover_client=hc1, nonce="a", token_sha256="1" * 64, first_sent_at=timezone.now(), rating=4
    )
    c2, _hc2 = _client(old, a)
    FollowUpFactory(client=c2, date=_day(old, 5), kind="phone")
    _contract(c2, _day(old, -30), 2000)
    _lose(c2, old.completed_at + datetime.timedelta(days=60))
    _c3, hc3 = _client(old, a, received_then=None)
    ClientSurvey.objects.create(
        handover_client=hc3, nonce="b", token_sha256="2" * 64, first_sent_at=timezone.now(), rating=2
    )
    c4, _hc4 = _client(old, a)
    renewed = c4.contracts.get()
    renewed.renewal_date = _day(old, 50)
    renewed.save()
    _lose(c4, None)  # marked lost before lost_at was kept: lost from the start
    # b's clients, completed 100 days ago: the 180-day window still runs.
    c5, _ = _client(recent, b)
    FollowUpFactory(client=c5, date=_day(recent, 20), kind="visit")
    c6, _ = _client(recent, b)
    FollowUpFactory(client=c6, date=_day(recent, 95), kind="phone")
    _client(recent, b, received_then=Decimal("0.00"), received_now=Decimal("50.00"))  # paid on day 20, nothing else
    # The open handover's client counts nowhere.
    _client(open_, b)
    return a, b


def _from_outcomes(outcomes) -> dict[int, dict]:
    """The totals outcome_totals must give, added up here from each client's outcome."""
    per: dict[int, dict] = {}
    for o in outcomes:
        row = per.setdefault(o.receiver_id, {"clients": 0, "lost": 0, "retained": 0})
        row["clients"] += 1
        row["lost"] += o.lost
        row["retained"] += o.retained
        for n in WINDOWS:
            ended = o.completed_on + datetime.timedelta(days=n) <= TODAY
            row[f"known{n}"] = row.get(f"known{n}", 0) + ended
            row[f"kept{n}"] = row.get(f"kept{n}", 0) + (ended and o.retained_at[n] is True)
        snap = o.outstanding_at_handover is not None
        row["snapshots"] = row.get("snapshots", 0) + snap
        row["outstanding_at_handover"] = row.get("outstanding_at_handover", 0) + (o.outstanding_at_handover or 0)
        row["collected_since"] = row.get("collected_since", 0) + (o.collected_since or 0)
        row["outstanding_now"] = row.get("outstanding_now", 0) + o.outstanding_now
        full = o.value_12m_complete
        row["full_year"] = row.get("full_year", 0) + full
        row["value_12m_before"] = row.get("value_12m_before", 0) + (o.value_12m_before if full else 0)
        row["value_12m_after"] = row.get("value_12m_after", 0) + (o.value_12m_after if full else 0)
    return per


def test_the_totals_are_each_clients_outcome_added_up(company):
    a, b = company
    totals = outcome_totals(HandoverClient.objects.all())
    expected = _from_outcomes(client_outcomes(HandoverClient.objects.all()))
    assert set(totals) == set(expected) == {a.pk, b.pk}
    for receiver, row in expected.items():
        assert {k: totals[receiver][k] for k in row} == row


def test_the_totals_by_hand(company):
    a, b = company
    totals = outcome_totals(HandoverClient.objects.all())
    ta, tb = totals[a.pk], totals[b.pk]
    # a: c1 followed up (days 10, 100) and signed; c2 active on day 5, lost on day 60; c3 silent;
    # c4 renewed on day 50 but lost from the start.
    assert (ta["clients"], ta["lost"], ta["retained"]) == (4, 2, 1)
    assert [(ta[f"known{n}"], ta[f"kept{n}"]) for n in WINDOWS] == [(4, 2), (4, 1), (4, 1)]
    assert (ta["snapshots"], ta["collected_since"], ta["outstanding_at_handover"]) == (3, Decimal("200.00"), 1400)
    assert (ta["full_year"], ta["value_12m_before"], ta["value_12m_after"]) == (4, 3000, 1500)
    assert (ta["ratings"], ta["rating_sum"]) == (2, 6)
    # b, 100 days on: the 180-day window is not over for any; c7 paid and so is retained since.
    assert (tb["clients"], tb["retained"], tb["lost"]) == (3, 3, 0)
    # c5 followed up on day 20 and c7 paid on day 20: retained at 30 and 90 days; c6 not until day 95.
    assert [(tb[f"known{n}"], tb[f"kept{n}"]) for n in WINDOWS] == [(3, 2), (3, 2), (0, 0)]
    assert tb["collected_since"] == Decimal("50.00") and tb["full_year"] == 0


def test_the_totals_take_one_query_for_few_or_many_clients(company, people, django_assert_num_queries):
    h = Handover.objects.filter(state=State.COMPLETED).first()
    with django_assert_num_queries(1):
        few = outcome_totals(HandoverClient.objects.all())
    for _ in range(20):
        c, _hc = _client(h, people.receiver)
        FollowUpFactory(client=c, date=_day(h, 3), kind="visit")
    with django_assert_num_queries(1):
        many = outcome_totals(HandoverClient.objects.all())
    assert many[people.receiver.pk]["clients"] == few[people.receiver.pk]["clients"] + 20
