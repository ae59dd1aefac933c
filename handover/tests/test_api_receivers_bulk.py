"""Receivers in bulk over the API: one receiver for many, a split previewed then applied, receivers at
the start; the refusals in the one JSON shape, rows and conflicts included."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from handover import services
from handover.models import Event, HandoverClient, State
from tests.walk import advance_to


@pytest.fixture
def api(db):
    def _api(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
        return client

    return _api


def _rows(h):
    return list(HandoverClient.objects.filter(handover=h).order_by("pk"))


@pytest.mark.django_db
def test_rows_go_to_one_receiver(api, people, handover, receiver2):
    a, b = _rows(handover)[:2]
    response = api(people.supervisor).post(
        f"/api/handovers/{handover.pk}/receivers/set/",
        {"receiver": receiver2.pk, "handover_clients": [{"id": a.pk, "row_version": 1}, {"id": b.pk}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert sorted(response.json()["changed"]) == sorted([a.pk, b.pk])
    assert Event.objects.filter(handover=handover, kind="receiver_changed").count() == 2


@pytest.mark.django_db
def test_a_filter_goes_to_one_receiver(api, people, handover, receiver2):
    response = api(people.departing).post(
        f"/api/handovers/{handover.pk}/receivers/set/", {"receiver": receiver2.pk, "grade": "A"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2


@pytest.mark.django_db
def test_a_conflict_names_its_row(api, people, handover, receiver2):
    a, b = _rows(handover)[:2]
    services.handover_client_set_receiver(handover_client=b, user=people.departing, receiver=receiver2)
    response = api(people.supervisor).post(
        f"/api/handovers/{handover.pk}/receivers/set/",
        {
            "receiver": people.receiver.pk,
            "handover_clients": [{"id": a.pk, "row_version": 1}, {"id": b.pk, "row_version": 1}],
        },
        format="json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict" and body["conflicts"] == [b.pk]
    assert set(body["rows"]) == {str(b.pk)}


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "status"), [("receiver", 403), ("witness", 403), ("other_supervisor", 404)])
def test_others_are_refused(api, people, handover, receiver2, who, status):
    client = api(getattr(people, who))
    base = f"/api/handovers/{handover.pk}/receivers/"
    assert client.post(f"{base}set/", {"receiver": receiver2.pk}, format="json").status_code == status
    preview = client.post(f"{base}split-preview/", {"receivers": [receiver2.pk, people.receiver.pk]}, format="json")
    assert preview.status_code == status
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_wrong_state_departing_and_inactive_receivers(api, people, handover, receiver2):
    base = f"/api/handovers/{handover.pk}/receivers/"
    client = api(people.supervisor)
    body = client.post(f"{base}set/", {"receiver": people.departing.pk}, format="json").json()
    assert body["code"] == "invalid" and body["field"] == "receiver"
    receiver2.is_active = False
    receiver2.save()
    response = client.post(f"{base}split-preview/", {"receivers": [people.receiver.pk, receiver2.pk]}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "receivers"
    assert "陈接收" in response.json()["detail"]
    receiver2.is_active = True
    receiver2.save()
    advance_to(handover, State.MATERIALS)
    response = client.post(f"{base}set/", {"receiver": receiver2.pk}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "wrong_state"


@pytest.mark.django_db
def test_preview_then_apply(api, people, handover, receiver2):
    client = api(people.departing)
    base = f"/api/handovers/{handover.pk}/receivers/"
    response = client.post(f"{base}split-preview/", {"receivers": [people.receiver.pk, receiver2.pk]}, format="json")
    assert response.status_code == 200, response.content
    preview = response.json()
    assert {r["receiver"]["id"] for r in preview["receivers"]} == {people.receiver.pk, receiver2.pk}
    assert sum(r["clients"] for r in preview["receivers"]) == 10
    assert sorted(r["a_clients"] for r in preview["receivers"]) == [1, 1]
    assert {r["receivable"] for r in preview["receivers"]} == {"150000.00"}
    assignment = [
        {"handover_client": r["handover_client"], "receiver": r["receiver"]["id"], "row_version": r["row_version"]}
        for r in preview["assignment"]
    ]
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()
    forged = [
        {**assignment[0], "receiver": people.receiver.pk if assignment[0]["receiver"] == receiver2.pk else receiver2.pk}
    ]
    response = client.post(
        f"{base}split-apply/", {"assignment": forged + assignment[1:], "digest": preview["digest"]}, format="json"
    )
    assert response.status_code == 400
    response = client.post(
        f"{base}split-apply/", {"assignment": assignment, "digest": preview["digest"]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["count"] == preview["changed"] == 5
    now = dict(HandoverClient.objects.filter(handover=handover).values_list("pk", "receiver_id"))
    assert now == {a["handover_client"]: a["receiver"] for a in assignment}


@pytest.mark.django_db
def test_hr_starts_with_several_receivers(api, people, book, receiver2):
    today = timezone.localdate()
    body = {
        "departing": people.departing.pk,
        "receivers": [receiver2.pk, people.receiver.pk],
        "witness": people.witness.pk,
        "manager": people.manager.pk,
        "reason": "transfer",
        "notice_date": str(today),
        "last_working_day": str(today + datetime.timedelta(days=30)),
    }
    response = api(people.hr).post("/api/handovers/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["receiver"]["id"] == receiver2.pk
    receivers = [c["receiver"]["id"] for c in data["clients"]]
    assert receivers.count(receiver2.pk) == receivers.count(people.receiver.pk) == 5


@pytest.mark.django_db
def test_the_start_needs_a_receiver(api, people, book):
    today = timezone.localdate()
    body = {
        "departing": people.departing.pk,
        "witness": people.witness.pk,
        "manager": people.manager.pk,
        "reason": "transfer",
        "notice_date": str(today),
        "last_working_day": str(today + datetime.timedelta(days=30)),
    }
    response = api(people.hr).post("/api/handovers/", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == "receiver"
    body["receivers"] = [people.departing.pk]
    response = api(people.hr).post("/api/handovers/", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == "receivers"


@pytest.mark.django_db
def test_the_schema_has_the_bulk_endpoints(people):
    client = APIClient()
    client.force_login(people.departing)
    schema = client.get("/api/schema/").json()
    for path in ("receivers/set/", "receivers/split-preview/", "receivers/split-apply/"):
        operation = schema["paths"][f"/api/handovers/{{id}}/{path}"]["post"]
        assert {"200", "400", "403", "404", "409"} <= set(operation["responses"])
    assert "receivers" in schema["components"]["schemas"]["HandoverCreate"]["properties"]
    assert {"rows", "conflicts"} <= set(schema["components"]["schemas"]["Error"]["properties"])
