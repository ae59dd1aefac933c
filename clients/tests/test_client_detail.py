import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import OwnershipChange
from clients.tests.factories import (
    ClientFactory,
    ContactFactory,
    ContractFactory,
    FollowUpFactory,
    OpportunityFactory,
    ReceivableFactory,
)


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def detail_url(client) -> str:
    return reverse("clients:detail", args=[client.pk])


@pytest.fixture
def full_client(people):
    client = ClientFactory(
        owner=people.departing,
        name="杭州明远机电有限公司",
        address="杭州市滨江区江南大道100号",
        decision_chain="采购部王经理初选，总经理拍板",
        preferences="重视交期；忌讳临时改价",
        cooperation_history="2021年起合作，年采购额稳定",
        potential_needs="计划新建二期产线",
        current_situation="二期设备订单执行中",
    )
    ContactFactory(client=client, name="王采购", phone="13811112222", wechat="wang_cg", is_key_decision_maker=True)
    contract = ContractFactory(
        client=client,
        number="HT-DETAIL-001",
        amount=Decimal("1200000.00"),
        amount_paid=Decimal("300000.00"),
        performance_progress=60,
        renewal_date=datetime.date(2027, 1, 1),
        original_location="档案室A柜3层",
    )
    other = ContractFactory(client=client, number="HT-DETAIL-002", amount=Decimal("34567.89"), amount_paid=0)
    for days, due, received in [
        (-10, "1000.00", "0.00"),  # not yet due
        (10, "2000.00", "500.00"),  # 0-30
        (60, "3000.00", "0.00"),  # 31-90
        (120, "4000.00", "0.00"),  # 91-180
        (200, "5000.00", "0.00"),  # 180+
        (300, "6000.00", "6000.00"),  # paid in full: never overdue
    ]:
        ReceivableFactory(
            contract=contract, due_date=days_ago(days), amount_due=Decimal(due), amount_received=Decimal(received)
        )
    ReceivableFactory(contract=other, due_date=days_ago(-30), amount_due=Decimal("34567.89"))
    OpportunityFactory(client=client, name="二期产线项目", stage="negotiation", expected_amount=Decimal("800000"))
    OpportunityFactory(client=client, name="已赢单项目", stage="won")
    OpportunityFactory(client=client, name="已丢单项目", stage="lost")
    FollowUpFactory(
        client=client,
        date=days_ago(3),
        kind="phone",
        content="电话沟通二期报价",
        objections="价格偏高",
        commitments="月底前给出优惠方案",
        next_plan="下周上门拜访",
    )
    OwnershipChange.objects.create(client=client, from_owner=None, to_owner=people.departing, reason="新客户建档")
    return client


def test_it_shows_every_client_field(people, login, full_client):
    html = login(people.departing).get(detail_url(full_client)).content.decode()
    for value in [
        full_client.name,
        full_client.credit_code,
        full_client.address,
        full_client.decision_chain,
        full_client.preferences,
        full_client.cooperation_history,
        full_client.potential_needs,
        full_client.current_situation,
        people.departing.display_name,
    ]:
        assert value in html


def test_it_shows_contacts_contracts_deals_follow_ups_and_ownership(people, login, full_client):
    html = login(people.departing).get(detail_url(full_client)).content.decode()
    for value in [
        "王采购",
        "13811112222",
        "wang_cg",
        "HT-DETAIL-001",
        "档案室A柜3层",
        "2027-01-01",
        "1,200,000.00",
        "300,000.00",
        "二期产线项目",
        "电话沟通二期报价",
        "价格偏高",
        "月底前给出优惠方案",
        "下周上门拜访",
        "新客户建档",
    ]:
        assert value in html


def test_it_shows_payment_and_performance_progress(people, login, full_client):
    html = login(people.departing).get(detail_url(full_client)).content.decode()
    assert '<progress class="progress-thin" max="100" value="25"' in html  # 300,000 of 1,200,000 paid
    assert '<progress class="progress-thin" max="100" value="60"' in html


def test_it_lists_only_open_deals(people, login, full_client):
    response = login(people.departing).get(detail_url(full_client))
    assert [d.name for d in response.context["client"].open_deals] == ["二期产线项目"]
    assert "已赢单项目" not in response.content.decode()
    assert "已丢单项目" not in response.content.decode()


def test_receivables_carry_overdue_days_and_aging_bucket(people, login, full_client):
    rows = login(people.departing).get(detail_url(full_client)).context["receivables"]
    by_due = {(r.receivable.amount_due, r.overdue_days, r.aging_bucket) for r in rows}
    assert by_due == {
        (Decimal("1000.00"), 0, "not_due"),
        (Decimal("2000.00"), 10, "0-30"),
        (Decimal("3000.00"), 60, "31-90"),
        (Decimal("4000.00"), 120, "91-180"),
        (Decimal("5000.00"), 200, "180+"),
        (Decimal("6000.00"), 0, "not_due"),
        (Decimal("34567.89"), 0, "not_due"),
    }
    assert [r.receivable.due_date for r in rows] == sorted(r.receivable.due_date for r in rows)


def test_it_totals_contracts_paid_outstanding_and_overdue(people, login, full_client):
    response = login(people.departing).get(detail_url(full_client))
    totals = response.context["totals"]
    assert totals.contract_amount == Decimal("1234567.89")
    assert totals.paid == Decimal("300000.00")
    assert totals.outstanding == Decimal("1000") + Decimal("1500") + Decimal("12000") + Decimal("34567.89")
    assert totals.overdue == Decimal("1500") + Decimal("12000")
    assert totals.open_deal_amount == Decimal("800000")
    assert "1,234,567.89" in response.content.decode()


def test_a_client_with_nothing_recorded_still_renders(people, login):
    client = ClientFactory(owner=people.departing)
    response = login(people.departing).get(detail_url(client))
    assert response.status_code == 200
    assert response.context["totals"].contract_amount == 0


def test_an_unknown_client_is_404(people, login):
    assert login(people.manager).get(reverse("clients:detail", args=[999999])).status_code == 404


def test_post_is_not_allowed(people, login, full_client):
    assert login(people.departing).post(detail_url(full_client)).status_code == 405


def make_client_with(owner, n: int):
    client = ClientFactory(owner=owner)
    contacts = ContactFactory.create_batch(n, client=client)
    for i in range(n):
        contract = ContractFactory(client=client)
        ReceivableFactory.create_batch(2, contract=contract, due_date=days_ago(i * 10))
        OpportunityFactory(client=client)
        FollowUpFactory(client=client, contact=contacts[i], created_by=owner)
        OwnershipChange.objects.create(client=client, from_owner=owner, to_owner=owner, reason="测试", changed_by=owner)
    return client


def test_the_query_count_does_not_grow_with_the_clients_records(people, login, django_assert_num_queries):
    small = make_client_with(people.departing, 3)
    large = make_client_with(people.departing, 30)
    client = login(people.supervisor)
    client.get(detail_url(small))  # warm per-process caches before counting

    with CaptureQueriesContext(connection) as counted:
        assert client.get(detail_url(small)).status_code == 200
    with django_assert_num_queries(len(counted.captured_queries)):
        response = client.get(detail_url(large))
    assert len(response.context["receivables"]) == 60
