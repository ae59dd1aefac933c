"""Dates people type stay in sensible ranges: a slip such as 9999-12-31 is refused where it is typed."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clients.models import Contract, Receivable
from clients.tests.test_import import contract_record, db_counts, good_book, run, where
from handover import services
from handover.models import MAX_NOTICE_PERIOD_DAYS, ChecklistItem, Handover, HandoverClient, State, Visit, VisitMode
from handover.tests.test_views_start import form_data
from tests.walk import advance_to

CJK = re.compile(r"[\u4e00-\u9fff]")
FAR = "9999-12-31"
PAST_THE_NOTICE_PERIOD = "one day past the longest notice period"


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def today() -> datetime.date:
    return timezone.localdate()


def nothing_started() -> bool:
    return not Handover.objects.exists() and not ChecklistItem.objects.exists()


# ---------------------------------------------------------------------------------------
# Starting a handover: HR types the notice date and the last working day


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("last_working_day", FAR),
        ("notice_date", FAR),
        ("notice_date", "1900-01-01"),
        ("last_working_day", PAST_THE_NOTICE_PERIOD),
    ],
)
def test_hr_starting_with_a_date_out_of_range_on_the_page_is_told_and_nothing_starts(people, login, book, field, value):
    if value == PAST_THE_NOTICE_PERIOD:
        # From the notice date the form sends, when the test runs (not when it was collected: a run
        # that crossed midnight in Shanghai moved the notice date a day and let this one through).
        notice = datetime.date.fromisoformat(form_data(people)["notice_date"])
        value = str(notice + datetime.timedelta(days=MAX_NOTICE_PERIOD_DAYS + 1))
    data = form_data(people, **{field: value})
    if field == "notice_date" and value == FAR:
        data["last_working_day"] = FAR

    response = login(people.hr).post(reverse("handover:start"), data)

    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == [field]
    assert CJK.search(form.errors[field][0])
    # The page keeps what HR typed, so it can be corrected.
    assert f'value="{value}"' in response.content.decode()
    assert nothing_started()


@pytest.mark.parametrize(
    ("field", "value"),
    [("last_working_day", FAR), ("notice_date", "1900-01-01"), ("notice_date", "2999-01-01")],
)
def test_hr_starting_with_a_date_out_of_range_over_the_api_gets_400_and_nothing_starts(people, book, field, value):
    body = {
        "departing": people.departing.pk,
        "receiver": people.receiver.pk,
        "witness": people.witness.pk,
        "manager": people.manager.pk,
        "reason": "resignation",
        "notice_date": str(today()),
        "last_working_day": str(today() + datetime.timedelta(days=30)),
        field: value,
    }

    response = as_user(people.hr).post("/api/handovers/", body, format="json")

    assert response.status_code == 400, response.content
    error = response.json()
    assert (error["code"], error["field"]) == ("invalid", field)
    assert CJK.search(error["detail"])
    assert nothing_started()


def test_the_longest_notice_period_is_accepted(start):
    h = start(last_working_day=today() + datetime.timedelta(days=MAX_NOTICE_PERIOD_DAYS))
    assert h.state == State.PLAN


def test_a_handover_started_with_the_longest_period_completes(start):
    # The 500 this guards against: duties computed from a last working day near the end of time.
    h = start(last_working_day=today() + datetime.timedelta(days=MAX_NOTICE_PERIOD_DAYS))
    h = advance_to(h, State.COMPLETED)
    assert h.state == State.COMPLETED and h.duties.exists()


# ---------------------------------------------------------------------------------------
# The plan's planned visit and the joint visit's date


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(lambda h: datetime.date(9999, 12, 31), id="end of time"),
        pytest.param(lambda h: h.last_working_day + datetime.timedelta(days=1), id="after the last day"),
        pytest.param(lambda h: h.notice_date - datetime.timedelta(days=1), id="before the notice"),
    ],
)
def test_a_planned_visit_outside_the_handover_is_refused(handover, people, offset):
    hc = handover.clients.first()
    planned_before = hc.planned_visit_on  # prefilled at the start, within the window
    day = offset(handover)

    response = as_user(people.departing).patch(
        f"/api/handovers/{handover.pk}/clients/{hc.pk}/", {"planned_visit_on": str(day)}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["field"] == "planned_visit_on" and CJK.search(response.json()["detail"])
    assert HandoverClient.objects.get(pk=hc.pk).planned_visit_on == planned_before != day


def test_a_planned_visit_on_the_notice_date_or_the_last_day_is_taken(handover, people):
    hc = handover.clients.first()
    for day in (handover.notice_date, handover.last_working_day):
        h = Handover.objects.get(pk=handover.pk)
        services.handover_client_update_plan(
            handover_client=hc, user=people.departing, current_status="", risks="", next_steps="", planned_visit_on=day
        )
        assert HandoverClient.objects.get(pk=hc.pk).planned_visit_on == day
        assert Handover.objects.get(pk=h.pk).version == h.version + 1


@pytest.mark.parametrize("day", ["1900-01-01", str(today() - datetime.timedelta(days=400)), FAR])
def test_a_visit_dated_far_away_is_refused(handover, people, day):
    h = advance_to(handover, State.VISITS)
    body = {
        "handover_client": h.clients.first().pk,
        "visited_on": day,
        "mode": VisitMode.IN_PERSON,
        "contact_met": "王采购",
        "outcome": "介绍了新对接人",
    }

    response = as_user(people.departing).post(f"/api/handovers/{h.pk}/visits/", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["field"] == "visited_on" and CJK.search(response.json()["detail"])
    assert not Visit.objects.exists()


# ---------------------------------------------------------------------------------------
# The client-book import


@pytest.mark.parametrize(
    ("sheet", "column", "value"),
    [
        ("合同", "签订日期", "9999-12-31"),
        ("合同", "签订日期", "1989-12-31"),
        ("合同", "结束日期", "2101-01-01"),
        ("合同", "续约日期", "2200-01-01"),
        ("应收款", "到期日", "9999-12-31"),
        ("商机", "预计成交日期", "1900-01-01"),
    ],
)
def test_the_import_refuses_a_date_out_of_range_with_the_row(people, sheet, column, value):
    sheets = good_book(people)
    sheets[sheet][0][column] = value
    if column == "签订日期":
        sheets[sheet][0]["开始日期"] = sheets[sheet][0]["结束日期"] = value

    result = run(people, sheets)

    assert (sheet, 2, column) in where(result)
    message = next(e.message for e in result.errors if (e.sheet, e.row, e.column) == (sheet, 2, column))
    assert column in message and "1990-01-01" in message and "2100-12-31" in message
    assert db_counts() == (0, 0, 0, 0, 0, 0)


def test_the_import_takes_the_first_and_last_accepted_dates(people):
    sheets = good_book(people)
    sheets["合同"][0] = contract_record("HT-001", 签订日期="1990-01-01", 开始日期="1990-01-01", 结束日期="2100-12-31")
    sheets["应收款"][0]["到期日"] = "2100-12-31"

    result = run(people, sheets)

    assert result.ok, result.errors
    assert Contract.objects.get(number="HT-001").end_date == datetime.date(2100, 12, 31)
    assert Receivable.objects.filter(due_date=datetime.date(2100, 12, 31)).exists()
