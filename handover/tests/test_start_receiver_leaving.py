"""A receiver in an open handover cannot be started as a departing person (issue 9, item 2).

Her own handover would be built from her book as it is now, while the clients still coming to
her arrive at the other handover's completion and stay with someone who has left. HR hears
which handover is in the way, on the departing field, on the page and in the API.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clients.tests.factories import ClientFactory
from handover import services
from handover.models import ChecklistItem, Handover, State


@pytest.fixture
def receiver_book(people):
    """The receiver's own clients: she is a salesperson with a book of her own."""
    return ClientFactory.create_batch(2, owner=people.receiver)


def start_receiver(people, receiver2, **overrides):
    today = timezone.localdate()
    kwargs = {
        "started_by": people.hr,
        "departing": people.receiver,
        "receiver": receiver2,
        "witness": people.witness,
        "manager": people.manager,
        "reason": "resignation",
        "notice_date": today,
        "last_working_day": today + datetime.timedelta(days=30),
    }
    return services.handover_start(**{**kwargs, **overrides})


def form_data(people, receiver2) -> dict:
    today = timezone.localdate()
    return {
        "departing": people.receiver.pk,
        "receiver": receiver2.pk,
        "witness": people.witness.pk,
        "manager": people.manager.pk,
        "reason": "resignation",
        "notice_date": today.isoformat(),
        "last_working_day": (today + datetime.timedelta(days=30)).isoformat(),
    }


def test_the_default_receiver_of_an_open_handover_cannot_be_started(people, handover, receiver2, receiver_book):
    with pytest.raises(services.InvalidInput) as refused:
        start_receiver(people, receiver2)

    assert refused.value.field == "departing"
    assert handover.number in refused.value.message
    assert str(people.departing) in refused.value.message
    assert str(people.receiver) in refused.value.message
    assert Handover.objects.count() == 1


def test_a_receiver_of_one_client_only_cannot_be_started(people, handover, receiver2):
    hc = handover.clients.first()
    services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    ClientFactory(owner=receiver2)

    with pytest.raises(services.InvalidInput) as refused:
        start_receiver(people, people.other_sales, departing=receiver2)

    assert refused.value.field == "departing" and handover.number in refused.value.message
    assert not Handover.objects.filter(departing=receiver2).exists()


def test_a_receiver_of_one_item_only_cannot_be_started(people, handover, receiver2):
    # The standard items (laptop, accounts) go to receiver2; every client still goes to the default receiver.
    assert ChecklistItem.objects.filter(handover=handover, handover_client__isnull=True).update(receiver=receiver2)

    with pytest.raises(services.InvalidInput) as refused:
        start_receiver(people, people.other_sales, departing=receiver2)

    assert refused.value.field == "departing"
    assert not Handover.objects.filter(departing=receiver2).exists()


def test_once_the_other_handover_is_closed_the_receiver_can_be_started(people, handover, receiver2, receiver_book):
    services.handover_transition(handover=handover, name="cancel", user=people.hr, comment="离职取消")

    h = start_receiver(people, receiver2)

    assert h.departing == people.receiver and h.clients.count() == 2


def test_hr_sees_the_refusal_on_the_departing_field_of_the_page(people, handover, receiver2, receiver_book, login):
    response = login(people.hr).post(reverse("handover:start"), form_data(people, receiver2))

    assert response.status_code == 200
    errors = response.context["form"].errors["departing"]
    assert len(errors) == 1 and handover.number in errors[0] and str(people.departing) in errors[0]
    assert handover.number in response.content.decode()
    assert Handover.objects.count() == 1


def test_the_api_refuses_with_the_departing_field(people, handover, receiver2, receiver_book):
    api = APIClient()
    api.force_authenticate(people.hr)

    response = api.post("/api/handovers/", form_data(people, receiver2), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and body["field"] == "departing"
    assert handover.number in body["detail"]
    assert Handover.objects.count() == 1
    assert Handover.objects.get().state == State.PLAN
