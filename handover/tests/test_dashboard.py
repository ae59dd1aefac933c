"""The dashboard (issue 14, item 4): scoped by role, its figures, its Excel export and its API."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from accounts.tokens import api_token_create
from clients.models import Contract
from clients.tests.factories import ClientFactory, ContractFactory, ReceivableFactory
from handover import selectors
from handover.models import Event, Handover, HandoverClient, StageDeadline, State


def _api(client, user, **params):
    token = api_token_create(user=user)[0]
    return client.get(reverse("api:dashboard"), params, HTTP_AUTHORIZATION=f"Token {token}")


def _north_handover(people, n: int = 0, *, completed: bool = False) -> Handover:
    """A handover in department north, made directly (no walk): open, in materials, one client owing 500;
    or completed 400 days ago, the client having paid 200 of the 500 since and signed nothing."""
    departing = UserFactory(department=people.north, supervisor=people.other_supervisor, roles=[Role.SALES])
    now = timezone.now()
    h = Handover.objects.create(
        number=f"N{departing.pk:06d}{n}",
        departing=departing,
        receiver=people.other_sales,
        supervisor=people.other_supervisor,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=now.date(),
        last_working_day=now.date() + datetime.timedelta(days=10),
        started_by=people.hr,
        started_at=now - datetime.timedelta(days=10),
        state=State.COMPLETED if completed else State.MATERIALS,
        completed_at=now - datetime.timedelta(days=400) if completed else None,
    )
    c = ClientFactory(owner=departing)
    received = Decimal("200.00") if completed else Decimal("0")
    contract = ContractFactory(client=c, signed_on=now.date() - datetime.timedelta(days=500))
    ReceivableFactory(contract=contract, amount_due=Decimal("500.00"), amount_received=received)
    HandoverClient.objects.create(
        handover=h,
        client=c,
        receiver=people.other_sales,
        grade="B",
        outstanding_at_completion=Decimal("500.00") if completed else None,
        received_at_completion=Decimal("0.00") if completed else None,
    )
    StageDeadline.objects.create(handover=h, state=State.MATERIALS, due_on=now.date() - datetime.timedelta(days=1))
    Event.objects.bulk_create(
        [
            Event(
                handover=h,
                at=now - datetime.timedelta(days=6),
                kind="transition",
                from_state="plan",
                to_state="plan_review",
            ),
            Event(
                handover=h,
                at=now - datetime.timedelta(days=4),
                kind="transition",
                from_state="plan_review",
                to_state="plan_approval",
            ),
            Event(
                handover=h,
                at=now - datetime.timedelta(days=3),
                kind="transition",
                from_state="plan_approval",
                to_state="materials",
            ),
        ]
    )
    return h


def test_a_supervisor_sees_their_department_and_hr_every_one(handover, people, login):
    _north_handover(people)
    mine = selectors.dashboard_figures(people.supervisor)
    assert mine.total == 1 and [row["label"] for row in mine.by_department] == [people.east.name]
    everyone = selectors.dashboard_figures(people.hr)
    assert everyone.total == 2
    assert {row["label"] for row in everyone.by_department} == {people.east.name, people.north.name}
    assert selectors.dashboard_figures(people.manager).total == 2
    page = login(people.supervisor).get(reverse("handover:dashboard"))
    assert page.status_code == 200
    text = page.content.decode()
    assert people.east.name in text and people.north.name not in text
    assert 'id="nav-dashboard"' in text and "vendor/echarts/echarts.min.js" in text


@pytest.mark.parametrize("who", ["departing", "receiver", "witness", "other_sales"])
def test_anyone_else_is_refused_the_page_the_export_and_the_api(people, client, login, who):
    user = getattr(people, who)
    browser = login(user)
    assert 'id="nav-dashboard"' not in browser.get(reverse("handover:list")).content.decode()
    assert browser.get(reverse("handover:dashboard")).status_code == 403
    assert browser.get(reverse("handover:dashboard_xlsx")).status_code == 403
    browser.logout()
    assert _api(client, user).status_code == 403


def test_a_supervisor_may_not_pick_another_department(handover, people, login, client):
    _north_handover(people)
    page = login(people.supervisor).get(reverse("handover:dashboard"), {"department": people.north.pk})
    assert page.status_code == 200
    assert page.context["board"].total == 1 and page.context["form"].errors["department"]
    client.logout()
    refused = _api(client, people.supervisor, department=people.north.pk)
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed"
    assert _api(client, people.hr, department=people.north.pk).json()["total"] == 1


def test_the_figures_overdue_days_per_stage_and_receivables(people):
    _north_handover(people)
    board = selectors.dashboard_figures(people.hr)
    assert {row["state"]: row["count"] for row in board.by_state}[State.MATERIALS] == 1
    assert [(row["state"], row["count"]) for row in board.overdue] == [(State.MATERIALS, 1)]
    days = {row["state"]: row["average_days"] for row in board.stage_days}
    assert days == {State.PLAN: 4.0, State.PLAN_REVIEW: 2.0, State.PLAN_APPROVAL: 1.0}
    assert board.receivables_total == Decimal("500.00")
    assert board.receivables[0]["clients"] == 1


def test_the_period_filters_on_the_start_day(people):
    h = _north_handover(people)
    day = timezone.localtime(h.started_at).date()
    assert selectors.dashboard_figures(people.hr, date_from=day + datetime.timedelta(days=1)).total == 0
    assert selectors.dashboard_figures(people.hr, date_from=day, date_to=day).total == 1
    assert selectors.dashboard_figures(people.hr, date_to=day - datetime.timedelta(days=1)).total == 0


def test_the_page_shows_each_chart_json_and_its_table_with_money(people, login):
    _north_handover(people)
    text = login(people.hr).get(reverse("handover:dashboard")).content.decode()
    for key in ("by_state", "by_department", "overdue", "stage_days", "receivables"):
        assert f'id="chart-{key}" type="application/json"' in text
        assert f'data-chart="chart-{key}"' in text
    assert "¥500.00" in text and "<script>" not in text.replace("<script src=", "")


def test_the_excel_export_has_every_table(people, login):
    _north_handover(people)
    response = login(people.hr).get(reverse("handover:dashboard_xlsx"))
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = [cell for row in sheet.iter_rows(values_only=True) for cell in row if cell is not None]
    for table in selectors.dashboard_tables(selectors.dashboard_figures(people.hr)):
        assert table.title in values
    assert 500 in values


def test_the_api_gives_the_page_figures(people, client):
    _north_handover(people)
    body = _api(client, people.hr).json()
    board = selectors.dashboard_figures(people.hr)
    assert body["total"] == board.total == 1
    assert body["receivables_total"] == "500.00"
    assert body["stage_days"] == board.stage_days
    assert body["overdue"] == board.overdue


def test_the_schema_describes_the_dashboard(people, client):
    token = api_token_create(user=people.hr)[0]
    schema = client.get(reverse("api:schema"), HTTP_AUTHORIZATION=f"Token {token}").json()
    assert "/api/dashboard/" in schema["paths"]


@pytest.mark.parametrize("view", ["page", "api", "xlsx"])
def test_the_dashboard_takes_the_same_queries_for_2_or_8_handovers(people, client, django_assert_max_num_queries, view):
    token = api_token_create(user=people.hr)[0]
    client.force_login(people.hr)
    url = {"page": "handover:dashboard", "api": "api:dashboard", "xlsx": "handover:dashboard_xlsx"}[view]
    counts = []
    for size in (2, 8):
        for n in range(size - Handover.objects.count()):
            _north_handover(people, n, completed=n % 2 == 0)
        with django_assert_max_num_queries(24) as captured:
            response = client.get(reverse(url), HTTP_AUTHORIZATION=f"Token {token}")
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_the_page_has_nothing_the_content_security_policy_blocks(people, login):
    from accounts.tests.test_csp import _inline

    _north_handover(people)
    response = login(people.manager).get(reverse("handover:dashboard"))
    assert _inline(response.content.decode()) == []
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_after_the_handover_retention_collected_value_and_receivers(people, client):
    _north_handover(people, 1, completed=True)
    after = selectors.after_handover_figures(people.hr)
    assert after.clients == 1
    # Nothing followed in any window: not retained at 30, 90 or 180 days.
    assert [(r["days"], r["handed_over"], r["handed_over_retained"]) for r in after.retention] == [
        (30, 1, 0),
        (90, 1, 0),
        (180, 1, 0),
    ]
    assert after.collected["collected_since"] == Decimal("200.00")
    assert after.collected["outstanding_at_handover"] == Decimal("500.00")
    contract = Contract.objects.get(client__handover_entries__handover__state=State.COMPLETED)
    assert after.value["clients"] == 1 and after.value["value_12m_before"] == contract.amount
    assert after.value["change_percent"] == Decimal("-100.0")
    [row] = after.receivers
    assert row["label"] == people.other_sales.display_name and row["clients"] == 1 and row["lost"] == 0
    body = _api(client, people.hr).json()["after_handover"]
    assert body["collected"]["collected_since"] == "200.00" and body["value"]["change_percent"] == "-100.0"
    # A supervisor of another department sees none of it.
    assert selectors.after_handover_figures(people.supervisor).clients == 0


def test_the_receivers_table_averages_the_answered_surveys(people):
    from handover.models import ClientSurvey

    h = _north_handover(people, 1, completed=True)
    hc = h.clients.get()
    now = timezone.now()
    ClientSurvey.objects.create(
        handover_client=hc, nonce="n", token_sha256="0" * 64, first_sent_at=now, answered_at=now, rating=4
    )
    [row] = selectors.after_handover_figures(people.hr).receivers
    assert row["surveys_answered"] == 1 and row["average_rating"] == 4.0
