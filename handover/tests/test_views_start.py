"""Starting a handover from the page: HR and supervisors may, for the right people; nobody else."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from handover.models import ChecklistItem, Handover, State

URL = reverse("handover:start")


def form_data(people, **overrides) -> dict:
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


def options(response, name: str) -> str:
    return response.content.decode().split(f'name="{name}"')[1].split("</select>")[0]


@pytest.mark.parametrize("who", ["hr", "supervisor"])
def test_hr_and_supervisors_get_the_form(people, login, who):
    response = login(getattr(people, who)).get(URL)
    assert response.status_code == 200
    assert f'value="{people.departing.pk}"' in options(response, "departing")


@pytest.mark.parametrize("who", ["departing", "receiver", "witness", "manager", "other_sales"])
def test_everyone_else_is_refused(people, login, who):
    browser = login(getattr(people, who))
    assert browser.get(URL).status_code == 403
    assert browser.post(URL, form_data(people)).status_code == 403
    assert not Handover.objects.exists()


def test_hr_starts_a_handover(people, book, login):
    response = login(people.hr).post(URL, form_data(people))
    h = Handover.objects.get()
    assert response.status_code == 302 and response.url == reverse("handover:detail", args=[h.pk])
    assert (h.departing, h.receiver, h.supervisor, h.started_by) == (
        people.departing,
        people.receiver,
        people.supervisor,
        people.hr,
    )
    assert h.state == State.PLAN
    assert h.clients.count() == len(book)


def test_a_supervisor_starts_their_subordinates_handover(people, login):
    response = login(people.supervisor).post(URL, form_data(people))
    assert response.status_code == 302
    assert Handover.objects.get().started_by == people.supervisor


def test_a_supervisor_cannot_start_another_departments_handover(people, login):
    browser = login(people.other_supervisor)
    assert f'value="{people.departing.pk}"' not in options(browser.get(URL), "departing")
    assert f'value="{people.other_sales.pk}"' in options(browser.get(URL), "departing")
    response = browser.post(URL, form_data(people))
    assert response.status_code == 200
    assert "departing" in response.context["form"].errors
    assert not Handover.objects.exists()


def test_the_receiver_cannot_be_the_departing_person(people, login):
    response = login(people.hr).post(URL, form_data(people, receiver=people.departing.pk))
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["receiver"]
    assert 'data-field="receiver"' in response.content.decode()
    assert not Handover.objects.exists() and not ChecklistItem.objects.exists()


def test_the_last_day_cannot_come_before_the_notice(people, login):
    today = timezone.localdate()
    data = form_data(people, last_working_day=f"{today - datetime.timedelta(days=1):%Y-%m-%d}")
    response = login(people.hr).post(URL, data)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["last_working_day"]
    assert not Handover.objects.exists()


def test_a_missing_field_is_shown_next_to_it(people, login):
    response = login(people.hr).post(URL, form_data(people, witness=""))
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["witness"]
    assert not Handover.objects.exists()


def test_someone_already_leaving_is_not_offered_twice(people, login):
    browser = login(people.hr)
    browser.post(URL, form_data(people))
    assert f'value="{people.departing.pk}"' not in options(browser.get(URL), "departing")
    response = browser.post(URL, form_data(people))
    assert response.status_code == 200 and "departing" in response.context["form"].errors
    assert Handover.objects.count() == 1


def test_a_departing_person_without_a_supervisor_gets_a_clear_error(people, login):
    loner = UserFactory(department=people.east, supervisor=None, roles=[Role.SALES])
    response = login(people.hr).post(URL, form_data(people, departing=loner.pk))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Handover.objects.exists()
