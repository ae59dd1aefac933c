from django.urls import reverse

from handover.models import State
from tests.walk import advance_to


def test_the_departing_person_may_export_before_the_handover_starts(people, book, login):
    response = login(people.departing).get(reverse("clients:export"))
    assert response.status_code == 200


def test_the_departing_person_cannot_export_once_the_handover_starts(handover, people, login):
    response = login(people.departing).get(reverse("clients:export"))
    assert response.status_code == 403


def test_the_departing_person_still_reads_their_clients(handover, people, book, login):
    client = login(people.departing)
    assert client.get(reverse("clients:detail", args=[book[0].pk])).status_code == 200
    assert book[0].name in client.get(reverse("clients:list")).content.decode()


def test_receivers_and_the_witness_see_the_clients_during_the_handover(handover, people, receiver2, book, login):
    url = reverse("clients:detail", args=[book[0].pk])
    assert login(people.receiver).get(url).status_code == 200
    assert login(people.witness).get(url).status_code == 200
    assert login(receiver2).get(url).status_code == 404
    assert login(people.other_sales).get(url).status_code == 404


def test_after_completion_the_departing_person_loses_the_clients(handover, people, book, login):
    advance_to(handover, State.COMPLETED)
    client = login(people.departing)
    assert client.get(reverse("clients:detail", args=[book[0].pk])).status_code == 404
    assert login(people.receiver).get(reverse("clients:detail", args=[book[0].pk])).status_code == 200
    # The witness's view ended with the handover.
    assert login(people.witness).get(reverse("clients:detail", args=[book[0].pk])).status_code == 404
