import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.filters import PAGE_SIZE
from clients.tests.factories import (
    ClientFactory,
    ContactFactory,
    ContractFactory,
    OpportunityFactory,
    ReceivableFactory,
)

URL = reverse("clients:list")


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def listed(client, **params) -> list:
    response = client.get(URL, params)
    assert response.status_code == 200
    return list(response.context["page"].object_list)


def listed_names(client, **params) -> list[str]:
    return [c.name for c in listed(client, **params)]


def make_full_client(owner, **kwargs):
    """A client with everything the list sums: two contracts with two receivables each, contacts, a deal."""
    client = ClientFactory(owner=owner, **kwargs)
    ContactFactory.create_batch(2, client=client)
    for _ in range(2):
        contract = ContractFactory(client=client)
        ReceivableFactory(contract=contract, due_date=days_ago(40))
        ReceivableFactory(contract=contract, due_date=days_ago(-40))
    OpportunityFactory(client=client)
    return client


def test_it_shows_totals_per_client_without_double_counting(people, login):
    client = ClientFactory(owner=people.departing)
    first = ContractFactory(client=client, amount=Decimal("100000.00"))
    second = ContractFactory(client=client, amount=Decimal("250000.50"))
    # Three receivables on one contract: a join would triple that contract's amount.
    ReceivableFactory(contract=first, amount_due=Decimal("1000.00"), amount_received=Decimal("400.00"))
    ReceivableFactory(contract=first, amount_due=Decimal("2000.00"))
    ReceivableFactory(contract=first, amount_due=Decimal("500.00"), amount_received=Decimal("500.00"))
    ReceivableFactory(contract=second, amount_due=Decimal("1234567.25"), amount_received=Decimal("0.00"))

    [row] = listed(login(people.departing))
    assert row.contract_amount == Decimal("350000.50")
    assert row.outstanding == Decimal("1237167.25")


def test_it_renders_money_with_two_decimals_and_separators(people, login):
    client = ClientFactory(owner=people.departing, name="金额客户")
    ContractFactory(client=client, amount=Decimal("1234567.50"))
    html = login(people.departing).get(URL).content.decode()
    assert "¥1,234,567.50" in html
    assert client.credit_code in html


def test_a_client_with_nothing_shows_zero_totals(people, login):
    ClientFactory(owner=people.departing)
    [row] = listed(login(people.departing))
    assert (row.contract_amount, row.outstanding, row.has_overdue) == (Decimal("0"), Decimal("0"), False)


def test_the_overdue_flag_counts_only_unpaid_receivables_past_due(people, login):
    overdue = ClientFactory(owner=people.departing, name="A逾期")
    paid_late = ClientFactory(owner=people.departing, name="B已付清")
    not_due = ClientFactory(owner=people.departing, name="C未到期")
    ReceivableFactory(contract__client=overdue, due_date=days_ago(1))
    ReceivableFactory(
        contract__client=paid_late, due_date=days_ago(100), amount_due=Decimal("10"), amount_received=Decimal("10")
    )
    ReceivableFactory(contract__client=not_due, due_date=days_ago(-5))

    flags = {c.name: c.has_overdue for c in listed(login(people.departing))}
    assert flags == {"A逾期": True, "B已付清": False, "C未到期": False}
    assert listed_names(login(people.departing), overdue="1") == ["A逾期"]


def test_overdue_zero_does_not_filter(people, login):
    ClientFactory(owner=people.departing)
    assert len(listed(login(people.departing), overdue="0")) == 1


@pytest.mark.parametrize("field", ["name", "credit_code", "phone"])
def test_search_finds_by_name_credit_code_and_contact_phone(people, login, field):
    wanted = ClientFactory(owner=people.departing, name="上海星河贸易有限公司")
    ContactFactory(client=wanted, phone="13812345678")
    other = ClientFactory(owner=people.departing, name="北京远山科技有限公司")
    ContactFactory(client=other, phone="13900000000")
    query = {"name": "星河", "credit_code": wanted.credit_code[-8:], "phone": "1234567"}[field]
    assert listed_names(login(people.departing), q=query) == [wanted.name]


def test_search_by_phone_lists_a_client_once_even_with_two_matching_contacts(people, login):
    wanted = ClientFactory(owner=people.departing)
    ContactFactory(client=wanted, phone="13812345678")
    ContactFactory(client=wanted, phone="13812345679")
    assert len(listed(login(people.departing), q="1381234567")) == 1


def test_it_filters_by_grade_and_industry(people, login):
    ClientFactory(owner=people.departing, name="A甲", grade="A", industry="医药")
    ClientFactory(owner=people.departing, name="B乙", grade="B", industry="医药")
    ClientFactory(owner=people.departing, name="C丙", grade="A", industry="制造业")
    client = login(people.departing)
    assert listed_names(client, grade="A") == ["A甲", "C丙"]
    assert listed_names(client, industry="医药") == ["A甲", "B乙"]
    assert listed_names(client, grade="A", industry="医药") == ["A甲"]


def test_it_filters_by_owner_for_a_supervisor(people, login):
    ClientFactory(owner=people.departing, name="离职人的客户")
    ClientFactory(owner=people.receiver, name="接收人的客户")
    assert listed_names(login(people.supervisor), owner=people.departing.pk) == ["离职人的客户"]


@pytest.mark.parametrize(
    "params",
    [{"grade": "Z"}, {"industry": "不存在"}, {"owner": "abc"}, {"sort": "password"}, {"sort": "-credit_code"}],
)
def test_invalid_filter_values_are_ignored(people, login, params):
    ClientFactory.create_batch(2, owner=people.departing)
    assert len(listed(login(people.departing), **params)) == 2


@pytest.fixture
def sortable(people):
    alpha = UserFactory(full_name="Alpha", department=people.east, roles=[Role.SALES])
    beta = UserFactory(full_name="Beta", department=people.east, roles=[Role.SALES])
    a = ClientFactory(owner=beta, name="A客户", grade="C")
    b = ClientFactory(owner=alpha, name="B客户", grade="A")
    c = ClientFactory(owner=beta, name="C客户", grade="B")
    ReceivableFactory(
        contract__client=a, contract__amount=Decimal("500"), contract__amount_paid=0, amount_due=Decimal("300")
    )
    ReceivableFactory(
        contract__client=b, contract__amount=Decimal("100"), contract__amount_paid=0, amount_due=Decimal("50")
    )
    ReceivableFactory(
        contract__client=c, contract__amount=Decimal("900"), contract__amount_paid=0, amount_due=Decimal("10")
    )


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["A客户", "B客户", "C客户"]),
        ("-name", ["C客户", "B客户", "A客户"]),
        ("grade", ["B客户", "C客户", "A客户"]),
        ("-grade", ["A客户", "C客户", "B客户"]),
        ("owner", ["B客户", "A客户", "C客户"]),
        ("-owner", ["C客户", "A客户", "B客户"]),
        ("outstanding", ["C客户", "B客户", "A客户"]),
        ("-outstanding", ["A客户", "B客户", "C客户"]),
        ("contract_amount", ["B客户", "A客户", "C客户"]),
        ("-contract_amount", ["C客户", "A客户", "B客户"]),
        ("bogus", ["A客户", "B客户", "C客户"]),
    ],
)
def test_it_sorts_by_whitelisted_columns(people, login, sortable, sort, expected):
    assert listed_names(login(people.supervisor), sort=sort) == expected


def test_a_sorted_column_header_links_to_the_reverse_order(people, login, sortable):
    response = login(people.supervisor).get(URL, {"sort": "outstanding", "grade": "A"})
    links = response.context["sort_links"]
    assert links["outstanding"] == {"param": "-outstanding", "direction": "asc"}
    assert links["name"] == {"param": "name", "direction": ""}
    html = response.content.decode()
    assert 'href="?sort=-outstanding&amp;grade=A"' in html


def test_it_paginates_25_a_page_and_keeps_the_query_in_page_links(people, login):
    for i in range(PAGE_SIZE + 5):
        ClientFactory(owner=people.departing, name=f"客户{i:03d}", grade="A")
    client = login(people.departing)

    first = client.get(URL, {"grade": "A", "sort": "-name"})
    assert len(first.context["page"].object_list) == PAGE_SIZE
    assert first.context["page"].paginator.count == PAGE_SIZE + 5
    assert "?grade=A&amp;sort=-name&amp;page=2" in first.content.decode()

    second = listed_names(client, grade="A", sort="-name", page=2)
    assert second == [f"客户{i:03d}" for i in range(4, -1, -1)]


def test_a_page_out_of_range_shows_the_last_page(people, login):
    ClientFactory.create_batch(3, owner=people.departing)
    response = login(people.departing).get(URL, {"page": "99"})
    assert response.status_code == 200
    assert response.context["page"].number == 1
    assert login(people.departing).get(URL, {"page": "x"}).status_code == 200


def test_export_links_carry_the_filters_but_not_the_page(people, login):
    html = login(people.departing).get(URL, {"grade": "A", "page": "1"}).content.decode()
    export = reverse("clients:export")
    assert f'href="{export}?grade=A"' in html
    assert f'href="{export}?grade=A&amp;format=xlsx"' in html


@pytest.mark.parametrize("role", ["hr", "witness"])
def test_export_links_are_hidden_without_the_permission(people, login, role):
    html = login(getattr(people, role)).get(URL).content.decode()
    assert reverse("clients:export") not in html


def test_the_query_count_does_not_grow_with_the_number_of_clients(people, login, django_assert_num_queries):
    client = login(people.supervisor)
    for _ in range(3):
        make_full_client(people.departing)
    client.get(URL)  # warm per-process caches (content types, etc.) before counting

    with CaptureQueriesContext(connection) as small:
        assert client.get(URL, {"sort": "-outstanding"}).status_code == 200
    for _ in range(27):
        make_full_client(people.receiver)

    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(URL, {"sort": "-outstanding"})
    assert len(response.context["page"].object_list) == PAGE_SIZE
