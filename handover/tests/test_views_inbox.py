"""The to-do inbox: each person sees what they must act on now, and nothing else."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.tests.factories import ClientFactory
from handover import services
from handover.models import StageDeadline, State
from handover.selectors import inbox_for
from tests.walk import advance_to

URL = reverse("handover:inbox")
ROLES = ["departing", "receiver", "supervisor", "witness", "manager", "hr", "other_sales"]


def entries(browser) -> list[str]:
    response = browser.get(URL)
    assert response.status_code == 200
    return re.findall(r'data-handover="(\d+)"', response.content.decode())


def who_must_act(h, people, login) -> set[str]:
    return {role for role in ROLES if str(h.pk) in entries(login(getattr(people, role)))}


def test_home_leads_to_the_inbox(people, login):
    response = login(people.other_sales).get(reverse("home"))
    assert response.status_code == 302 and response.url == URL


def test_an_empty_inbox_says_so(people, login):
    response = login(people.other_sales).get(URL)
    assert response.status_code == 200
    assert 'class="text-muted inbox-empty"' in response.content.decode()


@pytest.mark.parametrize(
    ("state", "actors"),
    [
        (State.PLAN, {"departing"}),
        (State.PLAN_REVIEW, {"supervisor"}),
        (State.PLAN_APPROVAL, {"manager"}),
        (State.MATERIALS, {"departing"}),
        (State.MATERIALS_REVIEW, {"supervisor"}),
        (State.VISITS, {"departing"}),
        (State.VISITS_REVIEW, {"supervisor"}),
        (State.SPOT_CHECK, {"witness"}),
        (State.REPORT, {"departing"}),
        (State.REPORT_REVIEW, {"supervisor"}),
        # The three parties sign the checklist; the manager's final approval waits for them (test_notices_work).
        (State.REPORT_APPROVAL, {"departing", "receiver", "witness"}),
        # After completion: the receiver's contact and visit duties, HR's revoking of accounts, the
        # supervisor's evaluation (交接评估).
        (State.COMPLETED, {"receiver", "hr", "supervisor"}),
    ],
)
def test_each_state_is_on_the_inbox_of_whoever_must_act(handover, people, login, state, actors):
    h = advance_to(handover, state)
    assert who_must_act(h, people, login) == actors


def test_items_handed_over_wait_in_the_receivers_inbox(handover, people, receiver2, login):
    hc = handover.clients.first()
    services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    h = advance_to(handover, State.MATERIALS)
    assert entries(login(people.receiver)) == [] and entries(login(receiver2)) == []
    services.items_hand_over_all(handover=h, user=people.departing)
    assert who_must_act(h, people, login) == {"departing", "receiver"}
    assert entries(login(receiver2)) == [str(h.pk)]
    services.items_confirm_all(handover=h, user=receiver2)
    # Everything confirmed: what waits for receiver2 now is signing the receipt.
    content = login(receiver2).get(URL).content.decode()
    assert re.findall(r'data-handover="(\d+)"', content) == [str(h.pk)]
    assert "sign the receipt" in content.lower() or "签" in content
    assert entries(login(people.receiver)) == [str(h.pk)]


def test_a_visit_recorded_by_the_departing_person_waits_for_the_receiver(handover, people, login):
    h = advance_to(handover, State.VISITS)
    assert entries(login(people.receiver)) == []
    services.visit_record(
        handover_client=h.clients.first(),
        user=people.departing,
        visited_on=timezone.localdate(),
        mode="in_person",
        contact_met="王采购",
        outcome="已介绍新对接人",
    )
    assert entries(login(people.receiver)) == [str(h.pk)]


def test_a_return_shows_its_reason_in_the_inbox(handover, people, login):
    h = advance_to(handover, State.MATERIALS_REVIEW)
    services.handover_transition(handover=h, name="return_materials", user=people.supervisor, comment="缺发票复印件")
    content = login(people.departing).get(URL).content.decode()
    assert "缺发票复印件" in content and 'class="mt-1 small text-danger return-reason"' in content


def test_an_overdue_stage_is_highlighted_with_its_due_date(handover, people, login):
    past = timezone.localdate() - datetime.timedelta(days=2)
    StageDeadline.objects.filter(handover=handover, state=State.PLAN).update(due_on=past)
    [entry] = inbox_for(people.departing)
    assert entry.overdue and entry.due_on == past
    content = login(people.departing).get(URL).content.decode()
    assert f'data-due="{past:%Y-%m-%d}"' in content and "list-group-item-danger" in content


def test_a_stage_due_later_is_not_overdue(handover, people):
    [entry] = inbox_for(people.departing)
    assert not entry.overdue
    assert entry.due_on == handover.deadlines.get(state=State.PLAN).due_on


def test_overdue_entries_come_first(start, handover, people):
    colleague = UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES])
    ClientFactory(owner=colleague)
    other = advance_to(start(departing=colleague), State.PLAN_REVIEW)
    late = advance_to(handover, State.PLAN_REVIEW)
    StageDeadline.objects.filter(handover=late, state=State.PLAN_REVIEW).update(
        due_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert [e.handover.pk for e in inbox_for(people.supervisor)] == [late.pk, other.pk]


def test_the_inbox_costs_the_same_queries_for_one_or_many_handovers(start, handover, people, login):
    browser = login(people.supervisor)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            browser.get(URL)
        return len(queries)

    advance_to(handover, State.PLAN_REVIEW)
    browser.get(URL)
    one = count()
    for i in range(3):
        colleague = UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES])
        ClientFactory(owner=colleague)
        advance_to(start(departing=colleague), State.PLAN_REVIEW if i % 2 else State.MATERIALS_REVIEW)
    assert len(inbox_for(people.supervisor)) == 4
    assert count() == one
