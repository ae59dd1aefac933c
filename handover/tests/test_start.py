import datetime

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from handover import services
from handover.models import ChecklistItem, Event, Handover, ItemKind, State


def test_it_builds_the_checklist_from_the_departing_persons_book(handover, book):
    assert handover.state == State.PLAN
    assert handover.clients.count() == 10
    kinds = list(handover.items.values_list("kind", flat=True))
    assert kinds.count(ItemKind.CLIENT) == 10
    assert kinds.count(ItemKind.CONTRACT) == 10
    assert kinds.count(ItemKind.RECEIVABLE) == 10
    assert kinds.count(ItemKind.OPPORTUNITY) == 10
    assert kinds.count(ItemKind.PROPERTY) == 1 and kinds.count(ItemKind.ACCOUNT) == 1
    assert set(handover.items.values_list("receiver", flat=True)) == {handover.receiver_id}
    assert handover.number.startswith("JJ")
    assert Event.objects.filter(handover=handover, kind="started").count() == 1


def test_deadlines_never_pass_the_last_working_day(start):
    today = timezone.localdate()
    h = start(last_working_day=today + datetime.timedelta(days=5))
    dues = list(h.deadlines.values_list("due_on", flat=True))
    assert len(dues) == 11
    assert max(dues) == today + datetime.timedelta(days=5)
    assert all(d >= today for d in dues)


@pytest.mark.parametrize("role", ["receiver", "witness", "manager", "supervisor"])
def test_it_refuses_the_departing_person_in_another_role(start, people, role):
    with pytest.raises(services.InvalidInput):
        start(**{role: people.departing})
    assert not Handover.objects.exists()


def test_it_refuses_a_second_open_handover_for_the_same_person(start):
    start()
    with pytest.raises(services.InvalidInput):
        start()
    assert Handover.objects.count() == 1


def test_it_refuses_a_receiver_who_is_not_an_active_salesperson(start, people):
    with pytest.raises(services.InvalidInput):
        start(receiver=people.witness)
    inactive = UserFactory(department=people.east, roles=[Role.SALES], is_active=False)
    with pytest.raises(services.InvalidInput):
        start(receiver=inactive)
    assert not Handover.objects.exists()
    assert not ChecklistItem.objects.exists()


def test_it_refuses_last_day_before_notice(start):
    today = timezone.localdate()
    with pytest.raises(services.InvalidInput):
        start(notice_date=today, last_working_day=today - datetime.timedelta(days=1))


@pytest.mark.parametrize("who", ["departing", "receiver", "witness", "manager", "other_sales", "other_supervisor"])
def test_it_refuses_starting_from_people_who_may_not(start, people, who):
    with pytest.raises(services.NotAllowed):
        start(started_by=getattr(people, who))
    assert not Handover.objects.exists()


def test_the_supervisor_may_start_their_subordinates_handover(start, people):
    h = start(started_by=people.supervisor)
    assert h.started_by == people.supervisor
