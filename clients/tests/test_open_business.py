"""open_business_by_client: what a handover lists and prints for each client, loaded once for both."""

import datetime
from decimal import Decimal

import pytest

from clients.selectors import open_business_by_client
from clients.tests.factories import ClientFactory, ContractFactory, OpportunityFactory, ReceivableFactory

pytestmark = pytest.mark.django_db


def _client_with_business(owner=None):
    client = ClientFactory(**({"owner": owner} if owner else {}))
    late, early = (
        ContractFactory(client=client, number=f"B-{client.pk}"),
        ContractFactory(client=client, number=f"A-{client.pk}"),
    )
    ReceivableFactory(contract=late, due_date=datetime.date(2026, 9, 30))
    ReceivableFactory(contract=early, due_date=datetime.date(2026, 3, 31))
    ReceivableFactory(contract=early, amount_received=Decimal("30000.00"))  # paid in full
    OpportunityFactory(client=client, stage="negotiation")
    OpportunityFactory(client=client, stage="won")
    return client


def test_each_client_gets_its_contracts_outstanding_receivables_and_open_deals():
    a, b = _client_with_business(), _client_with_business()
    business = open_business_by_client([a.pk, b.pk])
    assert [c.number for c in business.contracts[a.pk]] == [f"A-{a.pk}", f"B-{a.pk}"]
    assert [r.due_date for r in business.receivables[a.pk]] == [datetime.date(2026, 3, 31), datetime.date(2026, 9, 30)]
    assert all(r.contract.client_id == a.pk for r in business.receivables[a.pk])
    assert [o.stage for o in business.deals[b.pk]] == ["negotiation"]


def test_a_client_with_nothing_and_a_client_not_asked_for_give_empty_lists():
    asked, other = ClientFactory(), _client_with_business()
    business = open_business_by_client([asked.pk])
    for per_client in (business.contracts, business.receivables, business.deals):
        assert per_client[asked.pk] == []
        assert per_client[other.pk] == []


@pytest.mark.parametrize("size", [1, 6])
def test_three_queries_whatever_the_number_of_clients(size, django_assert_num_queries):
    ids = [_client_with_business().pk for _ in range(size)]
    with django_assert_num_queries(3):
        business = open_business_by_client(ids)
        for pk in ids:
            _ = [r.contract.number for r in business.receivables[pk]]
