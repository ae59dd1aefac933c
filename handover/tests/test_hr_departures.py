"""Departures registered by the HR system (POST /api/hr/departures/): the handover starts with the
company's defaults, once per HR system id; each refusal from the side of the one refused."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from accounts.tokens import api_token_create
from handover.models import Handover, HrDeparture

URL = "/api/hr/departures/"


@pytest.fixture
def api(db):
    def _api(user=None):
        client = APIClient()
        if user is not None:
            token, _expiry = api_token_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return _api


@pytest.fixture
def defaults(people):
    """Department east knows its default witness and manager in charge."""
    people.east.default_witness = people.witness
    people.east.default_manager = people.manager
    people.east.save()
    return people


def body(people, **overrides):
    today = timezone.localdate()
    data = {
        "external_id": "HR-2026-0001",
        "employee_no": people.departing.employee_no,
        "kind": "resignation",
        "notice_date": str(today),
        "last_working_day": str(today + datetime.timedelta(days=30)),
        "receiver_employee_nos": [people.receiver.employee_no],
    }
    data.update(overrides)
    return data


def error(response, status, code, field=None) -> dict:
    assert response.status_code == status, response.content
    data = response.json()
    assert data["code"] == code and data["detail"].strip()
    if field is not None:
        assert data.get("field") == field, data
    return data


def test_hr_registers_a_departure_and_the_handover_starts_with_the_defaults(api, defaults, book):
    people = defaults
    response = api(people.hr).post(URL, body(people), format="json")
    assert response.status_code == 201, response.content
    h = Handover.objects.get(pk=response.json()["handover"])
    assert (h.departing, h.supervisor, h.witness, h.manager, h.receiver) == (
        people.departing,
        people.supervisor,  # the person's direct supervisor
        people.witness,
        people.manager,
        people.receiver,
    )
    assert h.reason == "resignation" and h.started_by == people.hr
    assert h.clients.count() == len(book)
    assert response.json()["handover_number"] == h.number


def test_the_same_departure_sent_again_starts_nothing_new(api, defaults, book):
    first = api(defaults.hr).post(URL, body(defaults), format="json")
    again = api(defaults.hr).post(URL, body(defaults), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["handover"] == first.json()["handover"]
    assert Handover.objects.count() == 1 and HrDeparture.objects.count() == 1


def test_the_same_hr_id_with_another_departure_is_refused(api, defaults, book):
    api(defaults.hr).post(URL, body(defaults), format="json")
    later = str(timezone.localdate() + datetime.timedelta(days=40))
    response = api(defaults.hr).post(URL, body(defaults, last_working_day=later), format="json")
    error(response, 409, "conflict")
    assert Handover.objects.count() == 1


@pytest.mark.parametrize("who", ["supervisor", "manager", "departing", "other_sales", "admin"])
def test_only_hr_registers_departures(api, defaults, book, who):
    response = api(getattr(defaults, who)).post(URL, body(defaults), format="json")
    error(response, 403, "not_allowed")
    assert not Handover.objects.exists() and not HrDeparture.objects.exists()


def test_anonymous_is_401(api, defaults):
    assert api().post(URL, body(defaults), format="json").status_code == 401
    assert api().get(URL).status_code == 401


def test_an_unknown_employee_number_is_named(api, defaults, book):
    response = api(defaults.hr).post(URL, body(defaults, employee_no="NOPE-1"), format="json")
    data = error(response, 400, "invalid", field="employee_no")
    assert "NOPE-1" in data["detail"]
    assert not Handover.objects.exists()


def test_an_unknown_receiver_is_named(api, defaults, book):
    response = api(defaults.hr).post(URL, body(defaults, receiver_employee_nos=["NOPE-2"]), format="json")
    data = error(response, 400, "invalid", field="receiver_employee_nos")
    assert "NOPE-2" in data["detail"]
    assert not Handover.objects.exists()


def test_a_department_without_a_default_witness_is_refused_with_what_to_set(api, people, book):
    people.east.default_manager = people.manager
    people.east.save()
    data = error(api(people.hr).post(URL, body(people), format="json"), 400, "invalid")
    assert people.east.name in data["detail"]
    assert not Handover.objects.exists()


def test_a_department_without_a_default_manager_is_refused(api, people, book):
    people.east.default_witness = people.witness
    people.east.save()
    error(api(people.hr).post(URL, body(people), format="json"), 400, "invalid")
    assert not Handover.objects.exists()


def test_without_receivers_the_departments_default_receiver_takes_the_clients(api, defaults, book):
    defaults.east.default_receiver = defaults.receiver
    defaults.east.save()
    response = api(defaults.hr).post(URL, body(defaults, receiver_employee_nos=[]), format="json")
    assert response.status_code == 201, response.content
    assert Handover.objects.get().receiver == defaults.receiver


def test_without_receivers_and_no_default_receiver_it_asks_for_them(api, defaults, book):
    response = api(defaults.hr).post(URL, body(defaults, receiver_employee_nos=[]), format="json")
    error(response, 400, "invalid", field="receiver_employee_nos")
    assert not Handover.objects.exists()


def test_the_checks_of_starting_a_handover_still_apply(api, defaults, book):
    # The departing person cannot receive their own clients: handover_start's rule, met here too.
    response = api(defaults.hr).post(
        URL, body(defaults, receiver_employee_nos=[defaults.departing.employee_no]), format="json"
    )
    error(response, 400, "invalid")
    assert not Handover.objects.exists() and not HrDeparture.objects.exists()


def test_receivers_are_split_the_clients(api, defaults, book):
    second = UserFactory(department=defaults.east, supervisor=defaults.supervisor, roles=[Role.SALES])
    nos = [defaults.receiver.employee_no, second.employee_no]
    response = api(defaults.hr).post(URL, body(defaults, receiver_employee_nos=nos), format="json")
    assert response.status_code == 201, response.content
    receivers = set(Handover.objects.get().clients.values_list("receiver_id", flat=True))
    assert receivers == {defaults.receiver.pk, second.pk}


def test_hr_reads_the_departures_and_others_may_not(api, defaults, book):
    api(defaults.hr).post(URL, body(defaults), format="json")
    listed = api(defaults.hr).get(URL).json()
    assert [d["external_id"] for d in listed["results"]] == ["HR-2026-0001"]
    one = api(defaults.hr).get(f"{URL}HR-2026-0001/")
    assert one.status_code == 200 and one.json()["employee_no"] == defaults.departing.employee_no
    error(api(defaults.hr).get(f"{URL}HR-404/"), 404, "not_found")
    error(api(defaults.supervisor).get(URL), 403, "not_allowed")
    error(api(defaults.supervisor).get(f"{URL}HR-2026-0001/"), 403, "not_allowed")
