"""Receiver lists offer only who may receive (issue 11, item 13): never the departing person, a
party who reviews the handover, someone who has left or someone who is leaving. One queryset
(selectors.eligible_receivers / receivers_for) feeds every list, and it agrees with the service's
check (services.common.check_receiver), asked here person by person.

And the start form chooses the witness and the manager when there is only one of each.
"""

import datetime
import re

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.tests.factories import ClientFactory
from handover import selectors
from handover.models import State
from handover.services.common import check_receiver
from handover.services.errors import InvalidInput

START = reverse("handover:start")


def option_values(page: str, name: str) -> set[int]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, name
    return {int(v) for v in re.findall(r'<option value="(\d+)"', select.group(1))}


def selected_value(page: str, name: str) -> int | None:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    found = re.search(r'<option value="(\d+)" selected', select.group(1))
    return int(found.group(1)) if found else None


@pytest.fixture
def outsiders(people):
    """Salespeople who must never be offered, and one who may."""
    return {
        "left": UserFactory(
            username="left", full_name="林已离职", department=people.east, roles=[Role.SALES], is_active=False
        ),
        "also_witness": UserFactory(
            username="sw", full_name="何兼任", department=people.east, roles=[Role.SALES, Role.WITNESS]
        ),
        "free": UserFactory(username="free", full_name="许可接收", department=people.east, roles=[Role.SALES]),
    }


def start_form_data(people, **overrides) -> dict:
    today = timezone.localdate()
    data = {
        "departing": people.departing.pk,
        "receiver": people.receiver.pk,
        "witness": people.witness.pk,
        "manager": people.manager.pk,
        "reason": "resignation",
        "notice_date": f"{today:%Y-%m-%d}",
        "last_working_day": f"{today + datetime.timedelta(days=30):%Y-%m-%d}",
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------------------------------
# The start page


def test_the_start_page_never_offers_someone_who_has_left(people, outsiders, login):
    page = login(people.hr).get(START).content.decode()
    receivers = option_values(page, "receiver")
    assert outsiders["left"].pk not in receivers
    assert {people.receiver.pk, outsiders["free"].pk} <= receivers


def test_the_start_page_never_offers_someone_who_is_leaving(people, handover, login):
    # people.departing has an open handover: leaving, so nobody's receiver.
    page = login(people.hr).get(START).content.decode()
    assert people.departing.pk not in option_values(page, "receiver")
    assert people.receiver.pk in option_values(page, "receiver")


def test_the_start_page_never_offers_a_non_salesperson(people, login):
    receivers = option_values(login(people.hr).get(START).content.decode(), "receiver")
    for who in ("witness", "manager", "supervisor", "hr", "admin"):
        assert getattr(people, who).pk not in receivers, who


def test_once_chosen_the_departing_person_is_not_offered_as_receiver(people, book, login):
    # Sent with an error elsewhere: the form comes back with the input in place and without the
    # departing person (nor the chosen witness) among the receivers.
    also_witness = UserFactory(username="sw", department=people.east, roles=[Role.SALES, Role.WITNESS])
    data = start_form_data(people, witness=also_witness.pk, last_working_day="")
    response = login(people.hr).post(START, data)
    assert response.status_code == 200
    page = response.content.decode()
    receivers = option_values(page, "receiver")
    assert people.departing.pk not in receivers and also_witness.pk not in receivers
    assert people.departing.pk in option_values(page, "departing")
    assert selected_value(page, "departing") == people.departing.pk
    assert selected_value(page, "receiver") == people.receiver.pk


def test_choosing_the_departing_person_as_receiver_is_refused_next_to_the_field(people, book, login):
    response = login(people.hr).post(START, start_form_data(people, receiver=people.departing.pk))
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["receiver"]
    assert "此人不能接收客户" in response.content.decode()


def test_the_start_page_hides_the_chosen_departing_person_while_choosing(people, login):
    page = login(people.hr).get(START).content.decode()
    assert "data-start-form" in page and "js/handover_start.js" in page


# ---------------------------------------------------------------------------------------
# The plan's receiver list


def plan_receivers(people, login, h) -> set[int]:
    """The receivers the plan tab offers (the receivers-in-bulk panel's choices)."""
    page = login(people.departing).get(reverse("handover:detail", args=[h.pk]) + "?tab=plan").content.decode()
    panel = re.search(r'<form[^>]*id="receivers-bulk".*?</form>', page, re.S)
    assert panel, "receivers panel"
    return {int(v) for v in re.findall(r'name="receivers" value="(\d+)"', panel.group(0))}


def test_the_plan_never_offers_the_departing_person_or_someone_who_has_left(people, handover, outsiders, login):
    assert handover.state == State.PLAN
    receivers = plan_receivers(people, login, handover)
    assert people.departing.pk not in receivers
    assert outsiders["left"].pk not in receivers
    assert {people.receiver.pk, outsiders["free"].pk} <= receivers


def test_the_plan_never_offers_its_own_witness(people, start, outsiders, login):
    h = start(witness=outsiders["also_witness"])
    assert outsiders["also_witness"].pk not in plan_receivers(people, login, h)


def test_the_plan_never_offers_someone_leaving_in_another_handover(people, handover, start, receiver2, login):
    ClientFactory(owner=people.other_sales)
    start(
        departing=people.other_sales,
        receiver=receiver2,
        started_by=people.hr,
    )
    receivers = plan_receivers(people, login, handover)
    assert people.other_sales.pk not in receivers
    assert receiver2.pk in receivers


def test_someone_who_leaves_after_the_start_is_no_longer_offered(people, handover, outsiders, login):
    free = outsiders["free"]
    assert free.pk in plan_receivers(people, login, handover)
    free.is_active = False
    free.save()
    assert free.pk not in plan_receivers(people, login, handover)


# ---------------------------------------------------------------------------------------
# The list and the service agree


def test_the_list_is_exactly_who_the_service_accepts(people, handover, outsiders, receiver2):
    offered = set(selectors.receivers_for(handover).values_list("pk", flat=True))
    everyone = [*vars(people).values(), *outsiders.values(), receiver2]
    for person in everyone:
        if not hasattr(person, "has_role"):
            continue  # departments
        with transaction.atomic():
            try:
                check_receiver(
                    person,
                    departing=handover.departing,
                    h_parties=[handover.supervisor, handover.manager, handover.witness],
                )
                accepted = True
            except InvalidInput:
                accepted = False
        assert (person.pk in offered) == accepted, person.username


# ---------------------------------------------------------------------------------------
# The witness and the manager, preselected when there is one of each


def test_the_only_witness_and_the_only_manager_are_preselected(people, login):
    page = login(people.hr).get(START).content.decode()
    assert selected_value(page, "witness") == people.witness.pk
    assert selected_value(page, "manager") == people.manager.pk


def test_with_two_witnesses_none_is_preselected(people, login):
    UserFactory(username="witness2", department=people.north, roles=[Role.WITNESS])
    page = login(people.hr).get(START).content.decode()
    assert selected_value(page, "witness") is None
    assert selected_value(page, "manager") == people.manager.pk


def test_an_inactive_second_manager_does_not_count(people, login):
    UserFactory(username="manager2", department=people.north, roles=[Role.MANAGER], is_active=False)
    page = login(people.hr).get(START).content.decode()
    assert selected_value(page, "manager") == people.manager.pk


def test_a_choice_sent_is_kept_over_the_preselection(people, book, login):
    witness2 = UserFactory(username="witness2", department=people.north, roles=[Role.WITNESS])
    response = login(people.hr).post(START, start_form_data(people, witness=witness2.pk, last_working_day=""))
    assert selected_value(response.content.decode(), "witness") == witness2.pk


# ---------------------------------------------------------------------------------------
# The API's list


def test_the_api_lists_the_same_choices(people, handover, outsiders):
    client = APIClient()
    client.force_authenticate(people.departing)
    response = client.get(f"/api/handovers/{handover.pk}/receivers/")
    assert response.status_code == 200
    rows = response.json()["results"]
    listed = {row["id"] for row in rows}
    assert listed == set(selectors.receivers_for(handover).values_list("pk", flat=True))
    assert people.departing.pk not in listed and outsiders["left"].pk not in listed
    assert {"id": people.receiver.pk, "name": "张接收", "department": "华东销售部"} in rows


def test_the_api_list_is_refused_to_a_stranger(people, handover):
    client = APIClient()
    client.force_authenticate(people.other_sales)
    assert client.get(f"/api/handovers/{handover.pk}/receivers/").status_code == 404
