"""What became of each handed-over client, computed from the book (issue 14, item 1)."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tokens import api_token_create
from clients.models import Client, ClientStatus, LostReason, Opportunity, OpportunityStage, Receivable
from clients.tests.factories import (
    ClientFactory,
    ContactFactory,
    ContractFactory,
    FollowUpFactory,
    OpportunityFactory,
    ReceivableFactory,
)
from handover import selectors
from handover.models import Handover, HandoverClient, State
from tests.walk import advance_to

DAYS_AGO = 200


@pytest.fixture
def done(start, book):
    """A completed handover of the book's 10 clients, completed DAYS_AGO days ago."""
    h = advance_to(start(), State.COMPLETED)
    Handover.objects.filter(pk=h.pk).update(completed_at=timezone.now() - datetime.timedelta(days=DAYS_AGO))
    return Handover.objects.get(pk=h.pk)


def _day(h, n: int) -> datetime.date:
    return timezone.localdate(h.completed_at) + datetime.timedelta(days=n)


def _by_client(h) -> dict:
    return {o.client_id: o for o in selectors.outcomes_for_handover(h)}


def test_completion_keeps_each_clients_receivables_as_they_stood(start, book):
    first = book[0]
    Receivable.objects.filter(contract__client=first).update(amount_received=Decimal("1000.00"))
    h = advance_to(start(), State.COMPLETED)
    hc = HandoverClient.objects.get(handover=h, client=first)
    # The book's receivable: 30,000 due, 1,000 received.
    assert hc.outstanding_at_completion == Decimal("29000.00")
    assert hc.received_at_completion == Decimal("1000.00")
    assert all(r.outstanding_at_completion is not None for r in h.clients.all())


def test_the_outcome_of_a_client_followed_up_and_renewed(done, book):
    h = done
    c = book[0]
    FollowUpFactory(client=c, date=_day(h, 5), kind="phone")
    FollowUpFactory(client=c, date=_day(h, 20), kind="visit")
    FollowUpFactory(client=c, date=_day(h, 100), kind="wechat")
    # Before the completion: not counted.
    FollowUpFactory(client=c, date=_day(h, -3), kind="visit")
    ContractFactory(client=c, signed_on=_day(h, 40), start_date=_day(h, 40), end_date=_day(h, 400), amount=200000)
    old = c.contracts.order_by("pk").first()
    old.renewal_date = _day(h, 60)
    old.save()
    paid = Receivable.objects.get(contract=old)
    paid.amount_received = Decimal("12000.00")
    paid.save(received_on=_day(h, 70))
    deal = c.opportunities.get()
    deal.stage, deal.closed_on = OpportunityStage.WON, _day(h, 50)
    deal.save()

    o = _by_client(h)[c.pk]

    assert (o.days_to_first_contact, o.days_to_first_visit) == (5, 20)
    assert o.follow_ups == {30: 2, 90: 2, 180: 3}
    assert o.outstanding_at_handover == Decimal("30000.00")
    assert o.collected_since == Decimal("12000.00")
    assert o.outstanding_now == Decimal("18000.00")
    assert (o.contracts_signed_since, o.contracts_renewed_since) == (1, 1)
    assert (o.deals_won_since, o.deals_lost_since) == (1, 0)
    # The book's contract (signed 2026-01-10) is in the 12 months before; the new one after.
    before = Decimal("100000.00") if _day(h, -365) <= datetime.date(2026, 1, 10) < _day(h, 0) else Decimal("0.00")
    assert o.value_12m_before == before
    assert o.value_12m_after == Decimal("200000.00")
    assert not o.value_12m_complete
    assert o.retained and not o.lost
    assert o.retained_at == {30: True, 90: True, 180: True}
    assert o.last_activity == _day(h, 100)


def test_a_client_with_nothing_since_is_not_retained_and_a_lost_one_says_why(done, book):
    h = done
    quiet, lost = book[1], book[2]
    FollowUpFactory(client=lost, date=_day(h, 10), kind="phone")
    Client.objects.filter(pk=lost.pk).update(
        status=ClientStatus.LOST,
        lost_reason=LostReason.COMPETITOR,
        lost_at=timezone.now() - datetime.timedelta(days=DAYS_AGO - 60),
    )
    # A deal lost before closed_on was kept: its expected close date places it.
    Opportunity.objects.filter(client=lost).update(
        stage=OpportunityStage.LOST, closed_on=None, expected_close_date=_day(h, 15)
    )

    outcomes = _by_client(h)

    q = outcomes[quiet.pk]
    assert q.days_to_first_contact is None and q.follow_ups == {30: 0, 90: 0, 180: 0}
    assert not q.retained and q.retained_at == {30: False, 90: False, 180: False}
    assert q.collected_since == Decimal("0.00")
    gone = outcomes[lost.pk]
    assert gone.lost and gone.lost_reason == "competitor" and not gone.retained
    # Active in its first month, lost on day 60.
    assert gone.retained_at == {30: True, 90: False, 180: False}
    assert gone.deals_lost_since == 1


def test_a_window_still_running_with_nothing_yet_is_unknown(start, book):
    h = advance_to(start(), State.COMPLETED)
    o = selectors.outcomes_for_handover(h)[0]
    assert o.retained_at == {30: None, 90: None, 180: None}


def test_a_handover_completed_before_the_snapshot_shows_unknown_outstanding(done, book):
    HandoverClient.objects.filter(handover=done).update(outstanding_at_completion=None, received_at_completion=None)
    o = _by_client(done)[book[0].pk]
    # What was collected since comes from the dated payments, snapshot or not.
    assert o.outstanding_at_handover is None and o.collected_since == Decimal("0.00")


def test_collected_since_counts_the_payments_dated_from_the_completion_day(done, book):
    r = Receivable.objects.get(contract__client=book[0])
    for amount, day in (("1000.00", -1), ("4000.00", 0), ("4500.00", 3)):
        r.amount_received = Decimal(amount)
        r.save(received_on=_day(done, day))
    # A correction that lowers the amount received is a negative payment; a bulk update records none.
    r.amount_received = Decimal("4200.00")
    r.save(received_on=_day(done, 5))
    o = _by_client(done)[book[0].pk]
    assert o.collected_since == Decimal("3200.00")
    assert o.retained and o.retained_at[30] is True and o.last_activity == _day(done, 3)
    assert sum(p.amount for p in r.payments.all()) == r.amount_received


def _extra_clients(h, people, n: int):
    """n more clients in the completed handover, each with a follow-up, a contract, a receivable and a deal."""
    for _ in range(n):
        c = ClientFactory(owner=people.receiver)
        ContactFactory(client=c)
        ReceivableFactory(contract=ContractFactory(client=c))
        OpportunityFactory(client=c)
        FollowUpFactory(client=c, date=_day(h, 3), kind="visit")
        HandoverClient.objects.create(handover=h, client=c, receiver=people.receiver, grade="B")


def test_the_outcomes_take_the_same_queries_for_10_or_40_clients(done, people, django_assert_num_queries):
    with django_assert_num_queries(6):
        assert len(selectors.outcomes_for_handover(done)) == 10
    _extra_clients(done, people, 30)
    with django_assert_num_queries(6):
        assert len(selectors.outcomes_for_handover(done)) == 40


def test_the_outcome_page_and_api_take_the_same_queries_for_10_or_40_clients(done, people, client):
    client.force_login(people.receiver)
    url = reverse("handover:outcomes", args=[done.pk])
    token = api_token_create(user=people.receiver)[0]
    api_url = reverse("api:handover-outcomes", args=[done.pk])
    counts = []
    for extra in (0, 30):
        _extra_clients(done, people, extra)
        with CaptureQueriesContext(connection) as page:
            assert client.get(url).status_code == 200
        with CaptureQueriesContext(connection) as api:
            assert client.get(api_url, HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
        counts.append((len(page), len(api)))
    assert counts[0] == counts[1]


def test_the_outcome_page_shows_each_client_to_the_parties_not_the_departed(done, book, people, login):
    FollowUpFactory(client=book[0], date=_day(done, 5), kind="phone")
    page = login(people.supervisor).get(reverse("handover:outcomes", args=[done.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="outcome-row') == 10 and book[0].name in html
    assert 'id="outcomes-retained"' in html
    # The workspace links to it once completed.
    detail = login(people.supervisor).get(reverse("handover:detail", args=[done.pk])).content.decode()
    assert reverse("handover:outcomes", args=[done.pk]) in detail
    assert login(people.departing).get(reverse("handover:outcomes", args=[done.pk])).status_code == 403
    assert login(people.other_sales).get(reverse("handover:outcomes", args=[done.pk])).status_code == 404


def test_before_completion_the_page_says_not_yet(start, people, login):
    h = start()
    page = login(people.supervisor).get(reverse("handover:outcomes", args=[h.pk]))
    assert page.status_code == 200 and 'id="outcomes-not-yet"' in page.content.decode()


def test_the_client_page_shows_the_after_handover_card(done, book, people, login):
    FollowUpFactory(client=book[0], date=_day(done, 7), kind="visit")
    html = login(people.receiver).get(reverse("clients:detail", args=[book[0].pk])).content.decode()
    assert 'id="after-handover"' in html and done.number in html
    assert '<dd class="col-sm-3" data-cell="first-visit">7</dd>' in html
    # A client never handed over has no card.
    other = ClientFactory(owner=people.receiver)
    html = login(people.receiver).get(reverse("clients:detail", args=[other.pk])).content.decode()
    assert 'id="after-handover"' not in html


def test_the_api_gives_the_outcomes_of_a_handover_and_of_a_client(done, book, people, client):
    FollowUpFactory(client=book[0], date=_day(done, 5), kind="phone")
    token = api_token_create(user=people.supervisor)[0]
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    body = client.get(reverse("api:handover-outcomes", args=[done.pk]), **auth).json()
    assert body["completed"] is True and body["clients"] == 10 and len(body["outcomes"]) == 10
    row = next(o for o in body["outcomes"] if o["client"] == book[0].pk)
    assert row["days_to_first_contact"] == 5 and row["follow_ups"] == {"d30": 1, "d90": 1, "d180": 1}
    assert row["outstanding_at_handover"] == "30000.00"
    mine = client.get(reverse("api:client-outcomes", args=[book[0].pk]), **auth).json()
    assert [o["handover_number"] for o in mine] == [done.number]
    other = api_token_create(user=people.other_sales)[0]
    refused = client.get(reverse("api:client-outcomes", args=[book[0].pk]), HTTP_AUTHORIZATION=f"Token {other}")
    assert refused.status_code == 404


def test_the_schema_describes_the_outcome_evaluation_and_status_endpoints(people, client):
    token = api_token_create(user=people.receiver)[0]
    schema = client.get(reverse("api:schema"), HTTP_AUTHORIZATION=f"Token {token}").json()
    paths = schema["paths"]
    assert "get" in paths["/api/handovers/{id}/outcomes/"]
    assert "get" in paths["/api/clients/{client_id}/outcomes/"]
    assert {"get", "post"} <= set(paths["/api/handovers/{id}/evaluation/"])
    assert "post" in paths["/api/clients/{client_id}/status/"]
    outcome = schema["components"]["schemas"]["Outcome"]["properties"]
    assert {"days_to_first_contact", "collected_since", "retained", "retained_at"} <= set(outcome)
