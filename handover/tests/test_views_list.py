"""The handover list: only what the viewer may see, filtered by state, department and overdue."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from handover import services
from handover.models import StageDeadline, State
from tests.walk import advance_to

URL = reverse("handover:list")


def listed(browser, **params) -> list[int]:
    response = browser.get(URL, params)
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'data-handover-id="(\d+)"', response.content.decode())]


@pytest.fixture
def north_handover(start, people):
    """A handover in department north, supervised by other_supervisor."""
    leaving = UserFactory(department=people.north, supervisor=people.other_supervisor, roles=[Role.SALES])
    colleague = UserFactory(department=people.north, supervisor=people.other_supervisor, roles=[Role.SALES])
    return start(departing=leaving, receiver=colleague, started_by=people.hr)


def test_each_person_lists_only_the_handovers_they_may_see(handover, north_handover, people, login):
    assert listed(login(people.departing)) == [handover.pk]
    assert listed(login(people.supervisor)) == [handover.pk]
    assert listed(login(people.other_supervisor)) == [north_handover.pk]
    assert listed(login(people.other_sales)) == []
    assert set(listed(login(people.hr))) == {handover.pk, north_handover.pk}


def test_the_columns_show_number_people_state_and_due_date(handover, people, login):
    content = login(people.hr).get(URL).content.decode()
    due = handover.deadlines.get(state=State.PLAN).due_on
    for text in (handover.number, people.departing.full_name, people.receiver.full_name, f"{due:%Y-%m-%d}"):
        assert text in content
    assert 'data-state="plan"' in content


def test_it_filters_by_state(handover, north_handover, people, login):
    advance_to(handover, State.PLAN_REVIEW)
    browser = login(people.hr)
    assert listed(browser, state=State.PLAN_REVIEW) == [handover.pk]
    assert listed(browser, state=State.PLAN) == [north_handover.pk]


def test_it_filters_by_the_departing_persons_department(handover, north_handover, people, login):
    browser = login(people.hr)
    assert listed(browser, department=people.east.pk) == [handover.pk]
    assert listed(browser, department=people.north.pk) == [north_handover.pk]


def test_it_filters_overdue_handovers(handover, north_handover, people, login):
    StageDeadline.objects.filter(handover=handover, state=State.PLAN).update(
        due_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    browser = login(people.hr)
    assert listed(browser, overdue="1") == [handover.pk]
    assert set(listed(browser, overdue="0")) == {handover.pk, north_handover.pk}
    assert 'class="table-danger"' in browser.get(URL).content.decode()


def test_a_closed_handover_is_never_overdue(handover, people, login):
    services.handover_transition(handover=handover, name="cancel", user=people.hr, comment="撤回离职")
    StageDeadline.objects.filter(handover=handover).update(due_on=timezone.localdate() - datetime.timedelta(days=9))
    assert listed(login(people.hr), overdue="1") == []


def test_a_bad_filter_value_lists_everything_visible(handover, people, login):
    assert listed(login(people.hr), state="nonsense") == [handover.pk]


def test_it_paginates(start, people, login):
    for _ in range(27):
        start(departing=UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES]))
    browser = login(people.hr)
    assert len(listed(browser)) == 25
    assert len(listed(browser, page=2)) == 2


def test_the_start_button_shows_for_hr_and_supervisors_only(people, login):
    assert 'id="start-handover"' in login(people.hr).get(URL).content.decode()
    assert 'id="start-handover"' in login(people.supervisor).get(URL).content.decode()
    assert 'id="start-handover"' not in login(people.departing).get(URL).content.decode()


def test_the_query_count_does_not_grow_with_the_handovers(start, people, login):
    browser = login(people.hr)
    start(departing=UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES]))
    browser.get(URL)
    with CaptureQueriesContext(connection) as one:
        browser.get(URL)
    for _ in range(6):
        start(departing=UserFactory(department=people.north, supervisor=people.other_supervisor, roles=[Role.SALES]))
    with CaptureQueriesContext(connection) as many:
        browser.get(URL)
    assert len(many) == len(one) <= 8
