"""The plan prefilled from the book at the start: what each field says, the visit dates spread over
the window, the marks until the departing person confirms the row, and the queries it costs."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from clients.tests.factories import (
    ClientFactory,
    ContractFactory,
    FollowUpFactory,
    OpportunityFactory,
    ReceivableFactory,
)
from handover import rules, selectors, services
from handover.services.plan import PlanRow
from handover.services.prefill import BookRows, prefill_texts, spread_visits, working_days

MONDAY = datetime.date(2026, 11, 2)


def _start(people, *, notice_date=None, last_working_day=None):
    today = timezone.localdate()
    return services.handover_start(
        started_by=people.hr,
        departing=people.departing,
        receiver=people.receiver,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=notice_date or today,
        last_working_day=last_working_day or today + datetime.timedelta(days=30),
    )


@pytest.fixture
def rich_client(people):
    """One client whose book says something for every field."""
    today = timezone.localdate()
    c = ClientFactory(owner=people.departing, grade="A", name="苏州科瑞医疗器械有限公司")
    contract = ContractFactory(
        client=c,
        number="HT-PRE-001",
        amount=Decimal("1234567.00"),
        amount_paid=Decimal("234567.00"),
        performance_progress=60,
        start_date=today - datetime.timedelta(days=300),
        signed_on=today - datetime.timedelta(days=300),
        end_date=today + datetime.timedelta(days=45),
    )
    ReceivableFactory(contract=contract, amount_due=Decimal("300000.00"), due_date=today - datetime.timedelta(days=40))
    ReceivableFactory(contract=contract, amount_due=Decimal("20000.00"), due_date=today + datetime.timedelta(days=20))
    OpportunityFactory(client=c, name="二期扩容", main_objections="价格高于竞品百分之十。")
    FollowUpFactory(client=c, date=today - datetime.timedelta(days=30), content="旧的拜访。", next_plan="旧计划。")
    FollowUpFactory(
        client=c,
        date=today - datetime.timedelta(days=3),
        kind="phone",
        content="电话沟通二期扩容方案。",
        objections="担心交付周期。",
        next_plan="下周提交二期报价并约采购总监面谈。",
    )
    return c


def test_each_field_is_prefilled_from_the_book(people, rich_client):
    h = _start(people)
    hc = h.clients.get()

    assert "HT-PRE-001" in hc.current_status
    assert "¥1,234,567.00" in hc.current_status
    assert "¥320,000.00" in hc.current_status  # both outstanding receivables
    assert "电话沟通二期扩容方案。" in hc.current_status  # the latest follow-up, not the old one
    assert "旧的拜访" not in hc.current_status
    assert "¥300,000.00" in hc.risks  # the overdue one only
    assert "40" in hc.risks
    assert "价格高于竞品百分之十。" in hc.risks
    assert "担心交付周期。" in hc.risks
    assert "HT-PRE-001" in hc.risks  # ends within the coming months
    assert hc.next_steps == "下周提交二期报价并约采购总监面谈。"
    assert h.notice_date <= hc.planned_visit_on <= h.last_working_day
    assert sorted(hc.prefilled) == sorted(["current_status", "risks", "next_steps", "planned_visit_on"])


def test_generated_sentences_are_chinese_without_latin_spaces(people, rich_client):
    hc = _start(people).clients.get()
    assert "履约中" in hc.current_status
    assert "逾期" in hc.risks
    assert " ¥" not in hc.current_status and " ¥" not in hc.risks


def test_a_client_with_an_empty_book_gets_only_a_visit_date(people):
    ClientFactory(owner=people.departing, grade="C")
    hc = _start(people).clients.get()
    assert (hc.current_status, hc.risks, hc.next_steps) == ("", "", "")
    assert hc.prefilled == ["planned_visit_on"]
    assert hc.planned_visit_on is not None


def test_a_prefilled_row_counts_as_a_gap_until_confirmed(people, rich_client):
    h = _start(people)
    hc = h.clients.get()
    assert not rules.plan_complete(hc)
    assert h.plan_gaps() == [hc]

    services.plan_save_rows(handover=h, user=people.departing, rows=[PlanRow(handover_client_id=hc.pk)])

    hc.refresh_from_db()
    assert hc.prefilled == []
    assert "HT-PRE-001" in hc.current_status  # confirmed as it was
    assert rules.plan_complete(hc)


def test_the_one_row_form_confirms_too(people, rich_client):
    h = _start(people)
    hc = h.clients.get()
    services.handover_client_update_plan(
        handover_client=hc,
        user=people.departing,
        current_status=hc.current_status,
        risks="无",
        next_steps=hc.next_steps,
        planned_visit_on=hc.planned_visit_on,
    )
    hc.refresh_from_db()
    assert hc.prefilled == []


def test_the_supervisor_saving_a_receiver_does_not_confirm(people, rich_client, receiver2):
    h = _start(people)
    hc = h.clients.get()
    services.plan_save_rows(
        handover=h, user=people.supervisor, rows=[PlanRow(handover_client_id=hc.pk, receiver=receiver2)]
    )
    hc.refresh_from_db()
    assert hc.receiver == receiver2
    assert hc.prefilled, "only the departing person confirms the plan"


def test_the_page_marks_prefilled_fields_until_confirmed(people, rich_client, login):
    h = _start(people)
    hc = h.clients.get()
    page = selectors.handover_page(people.departing, h.pk)
    row = page.groups[0].clients[0]
    assert sorted(row.prefilled) == sorted(hc.prefilled)
    html = login(people.departing).get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert "prefilled-note" in html
    # The grid's risks input of that row carries the mark.
    assert re.search(rf'name="k-{hc.pk}"[^>]*class="[^"]*\bprefilled\b', html)

    services.plan_save_rows(handover=h, user=people.departing, rows=[PlanRow(handover_client_id=hc.pk)])

    assert selectors.handover_page(people.departing, h.pk).groups[0].clients[0].prefilled == []
    html = login(people.departing).get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert "prefilled-note" not in html


def test_visit_dates_go_to_working_days_a_clients_first(people):
    today = timezone.localdate()
    grades = ["C"] * 4 + ["B"] * 4 + ["A"] * 4
    for i, g in enumerate(grades):
        ClientFactory(owner=people.departing, grade=g, name=f"分布客户{i:02d}有限公司")
    h = _start(people, last_working_day=today + datetime.timedelta(days=30))
    hcs = list(h.clients.all())
    days = {hc.grade: [] for hc in hcs}
    for hc in hcs:
        assert h.notice_date <= hc.planned_visit_on <= h.last_working_day
        assert hc.planned_visit_on.weekday() < 5
        days[hc.grade].append(hc.planned_visit_on)
    assert max(days["A"]) <= min(days["B"])
    assert max(days["B"]) <= min(days["C"])
    per_day = {}
    for hc in hcs:
        per_day[hc.planned_visit_on] = per_day.get(hc.planned_visit_on, 0) + 1
    assert max(per_day.values()) <= 3
    assert len(per_day) == 4  # twelve clients, three a day


def test_spread_visits_over_a_short_window_puts_more_on_a_day():
    keyed = [(i, "A" if i < 2 else "B") for i in range(10)]
    # Monday to Wednesday, with no weekend inside: three working days for ten clients.
    dates = spread_visits(keyed, start=MONDAY, end=MONDAY + datetime.timedelta(days=2))
    assert set(dates.values()) <= {MONDAY, MONDAY + datetime.timedelta(days=1), MONDAY + datetime.timedelta(days=2)}
    assert dates[0] == dates[1] == MONDAY
    counts = {}
    for d in dates.values():
        counts[d] = counts.get(d, 0) + 1
    assert max(counts.values()) == 4


def test_spread_visits_skips_weekends():
    friday = MONDAY + datetime.timedelta(days=4)
    dates = spread_visits([(i, "B") for i in range(6)], start=friday, end=friday + datetime.timedelta(days=3))
    assert set(dates.values()) == {friday, friday + datetime.timedelta(days=3)}
    assert working_days(friday, friday + datetime.timedelta(days=3)) == [friday, friday + datetime.timedelta(days=3)]


def test_prefill_texts_is_empty_for_an_empty_book():
    texts = prefill_texts(BookRows(), today=MONDAY)
    assert (texts.current_status, texts.risks, texts.next_steps, texts.fields) == ("", "", "", [])


def _book(people, n: int, prefix: str, *, owner) -> None:
    today = timezone.localdate()
    for i in range(n):
        c = ClientFactory(owner=owner, grade="ABC"[i % 3], name=f"{prefix}{i:03d}有限公司")
        contract = ContractFactory(client=c, end_date=today + datetime.timedelta(days=30))
        ReceivableFactory(contract=contract, due_date=today - datetime.timedelta(days=10))
        OpportunityFactory(client=c, main_objections="价格。")
        FollowUpFactory(client=c, next_plan="回访。")
        FollowUpFactory(client=c, date=today - datetime.timedelta(days=1), next_plan="再回访。")


def _start_for(people, departing):
    # Fresh instances each time, so neither start finds the people's roles already read.
    fresh = {u.pk: u for u in User.objects.all()}
    today = timezone.localdate()
    return services.handover_start(
        started_by=fresh[people.hr.pk],
        departing=fresh[departing.pk],
        receiver=fresh[people.receiver.pk],
        witness=fresh[people.witness.pk],
        manager=fresh[people.manager.pk],
        supervisor=fresh[people.supervisor.pk],
        reason="resignation",
        notice_date=today,
        last_working_day=today + datetime.timedelta(days=30),
    )


def _shape(sql: str) -> str:
    return " ".join(sql.split()[:4])


def test_the_start_costs_the_same_queries_for_3_clients_or_30(people):
    """Two books: the start of the one ten times larger costs exactly the queries of the smaller."""
    _book(people, 3, "小", owner=people.departing)
    other = people.other_sales
    _book(people, 30, "大", owner=other)
    with CaptureQueriesContext(connection) as few:
        small = _start_for(people, people.departing)
    with CaptureQueriesContext(connection) as many:
        large = _start_for(people, other)
    # The follow-ups are read once for all the clients.
    assert sum("clients_followup" in q["sql"] for q in many.captured_queries) == 1
    assert small.clients.count() == 3 and large.clients.count() == 30
    assert all(hc.prefilled and hc.next_steps == "再回访。" for hc in large.clients.all())
    # The checklist's items are inserted in batches on SQLite (its limit on parameters): not the prefill's.
    few_shapes, many_shapes = (
        [s for s in (_shape(q["sql"]) for q in ctx.captured_queries) if "handover_checklistitem" not in s]
        for ctx in (few, many)
    )
    assert len(many_shapes) == len(few_shapes), many_shapes
    assert sum(s.startswith('UPDATE "handover_handoverclient"') for s in many_shapes) == 1
