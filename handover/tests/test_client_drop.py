"""A client that left the departing person's book is a way out, not a dead end (issue 9, item 3).

Completion moves only what the departing person still owns. A client that changed hands meanwhile
(before the owner guards, or by hand in the database) made the final approval answer 409 with
cancel as the only way on. The final approval now says which clients and who can act, and the
supervisor (only they, only for such a client, only with a reason) removes it; the timeline keeps it.
"""

import pytest
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from clients.models import Client, OwnershipChange
from handover import services
from handover.models import ChecklistItem, Event, Handover, HandoverClient, SignaturePurpose, State, Visit
from tests.walk import advance_to, sign_missing, signature_of

REASON = "客户已由华北销售部接手，不在本次交接范围。"


def fresh(h) -> Handover:
    return Handover.objects.get(pk=h.pk)


def leave_book(hc: HandoverClient, owner) -> Client:
    """The client changes hands outside the procedure, as the import could before."""
    Client.objects.filter(pk=hc.client_id).update(owner=owner)
    return Client.objects.get(pk=hc.client_id)


def approve(h, people):
    return services.handover_transition(
        handover=h.pk, name="approve_report", user=people.manager, signature=signature_of(people.manager)
    )


def drop(hc, user, reason=REASON, **kwargs):
    return services.handover_client_drop(handover_client=hc, user=user, reason=reason, **kwargs)


def test_final_approval_names_the_clients_and_the_supervisor_then_the_drop_lets_it_complete(people, handover):
    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    hc = h.clients.select_related("client").first()
    left = leave_book(hc, people.other_sales)

    with pytest.raises(services.Conflict) as stuck:
        approve(h, people)

    assert left.name in stuck.value.message and str(people.supervisor) in stuck.value.message
    assert fresh(h).state == State.REPORT_APPROVAL
    assert Client.objects.filter(owner=people.departing).count() == 9

    event = drop(hc, people.supervisor)

    assert event.kind == "client_dropped" and event.comment == REASON and event.data["client"] == left.name
    assert event.data["items_removed"] == 4 and event.data["visits_removed"] == 1
    assert not HandoverClient.objects.filter(pk=hc.pk).exists()
    assert not ChecklistItem.objects.filter(handover=h, title=left.name).exists()
    assert fresh(h).report.figures["clients"] == 9
    # What the parties signed listed that client: they sign the checklist again, then it completes.
    sign_missing(h, SignaturePurpose.CHECKLIST)
    done = approve(fresh(h), people)

    assert done.state == State.COMPLETED
    assert Client.objects.get(pk=left.pk).owner == people.other_sales
    assert Client.objects.filter(owner=people.receiver).count() == 9
    assert not OwnershipChange.objects.filter(client=left, reason__contains=h.number).exists()
    assert Event.objects.filter(handover=h, kind="client_dropped", comment=REASON).count() == 1


@pytest.mark.parametrize("who", ["departing", "receiver", "witness", "manager", "hr", "other_supervisor"])
def test_nobody_but_the_supervisor_may_drop(people, handover, who):
    hc = handover.clients.first()
    leave_book(hc, people.other_sales)
    version = fresh(handover).version

    with pytest.raises(services.NotAllowed):
        drop(hc, getattr(people, who))

    assert HandoverClient.objects.filter(pk=hc.pk).exists()
    assert fresh(handover).version == version
    assert not Event.objects.filter(kind="client_dropped").exists()


def test_a_client_still_owned_cannot_be_dropped(people, handover):
    hc = handover.clients.select_related("client").first()
    version = fresh(handover).version

    with pytest.raises(services.InvalidInput) as refused:
        drop(hc, people.supervisor)

    assert hc.client.name in refused.value.message
    assert HandoverClient.objects.filter(pk=hc.pk).exists() and fresh(handover).version == version


def test_a_reason_is_required(people, handover):
    hc = handover.clients.first()
    leave_book(hc, people.other_sales)

    with pytest.raises(services.InvalidInput) as refused:
        drop(hc, people.supervisor, reason="  ")

    assert refused.value.field == "reason"
    assert HandoverClient.objects.filter(pk=hc.pk).exists()


def test_a_closed_handover_drops_nothing(people, handover):
    hc = handover.clients.first()
    leave_book(hc, people.other_sales)
    services.handover_transition(handover=handover, name="cancel", user=people.hr, comment="离职取消")

    with pytest.raises(services.WrongState):
        drop(hc, people.supervisor)

    assert HandoverClient.objects.filter(pk=hc.pk).exists()


def test_a_stale_page_is_refused(people, handover):
    hc = handover.clients.first()
    leave_book(hc, people.other_sales)

    with pytest.raises(services.Conflict):
        drop(hc, people.supervisor, expected_version=fresh(handover).version - 1)

    assert HandoverClient.objects.filter(pk=hc.pk).exists()


def test_visits_and_calls_of_the_client_go_with_it(people, handover):
    h = advance_to(handover, State.SPOT_CHECK)
    hc = h.clients.filter(in_sample=True).first()
    services.phone_check_record(handover_client=hc, user=people.witness, result="confirmed")
    leave_book(hc, people.other_sales)

    event = drop(hc, people.supervisor)

    assert event.data["calls_removed"] == 1 and event.data["in_sample"] is True
    assert not Visit.objects.filter(handover_client_id=hc.pk).exists()


# ---------------------------------------------------------------------------------------
# The page


def test_the_page_flags_the_client_and_offers_the_supervisor_the_form(people, handover, login):
    hc = handover.clients.first()
    leave_book(hc, people.other_sales)
    url = reverse("handover:detail", args=[handover.pk])
    drop_url = reverse("handover:client_drop", args=[handover.pk, hc.pk])

    # A to-do of the supervisor's.
    as_supervisor = login(people.supervisor).get(url + "?tab=mine").content.decode()
    assert as_supervisor.count("left-book") == 1 and drop_url in as_supervisor

    as_departing = login(people.departing).get(url).content.decode()
    assert as_departing.count("left-book") == 1 and drop_url not in as_departing


def test_the_page_shows_no_flag_while_every_client_is_owned(people, handover, login):
    content = login(people.supervisor).get(reverse("handover:detail", args=[handover.pk])).content.decode()
    assert "left-book" not in content and "/drop/" not in content


def test_the_supervisor_drops_from_the_page_and_the_timeline_keeps_it(people, handover, login):
    hc = handover.clients.select_related("client").first()
    left = leave_book(hc, people.other_sales)
    browser = login(people.supervisor)

    response = browser.post(
        reverse("handover:client_drop", args=[handover.pk, hc.pk]),
        {"version": fresh(handover).version, "reason": REASON},
    )

    assert response.status_code == 302
    assert [m.level for m in get_messages(response.wsgi_request)] == [SUCCESS]
    assert not HandoverClient.objects.filter(pk=hc.pk).exists()
    page = browser.get(reverse("handover:detail", args=[handover.pk]) + "?tab=timeline").content.decode()
    assert REASON in page and left.name in page


def test_the_departing_person_is_refused_on_the_page(people, handover, login):
    hc = handover.clients.first()
    leave_book(hc, people.other_sales)
    version = fresh(handover).version

    response = login(people.departing).post(
        reverse("handover:client_drop", args=[handover.pk, hc.pk]), {"version": version, "reason": REASON}
    )

    assert response.status_code == 302
    assert [m.level for m in get_messages(response.wsgi_request)] == [ERROR]
    assert HandoverClient.objects.filter(pk=hc.pk).exists() and fresh(handover).version == version


def test_a_supervisor_of_another_handover_does_not_see_it(people, handover, login):
    hc = handover.clients.first()
    leave_book(hc, people.other_sales)

    response = login(people.other_supervisor).post(
        reverse("handover:client_drop", args=[handover.pk, hc.pk]),
        {"version": fresh(handover).version, "reason": REASON},
    )

    assert response.status_code == 404
    assert HandoverClient.objects.filter(pk=hc.pk).exists()


# ---------------------------------------------------------------------------------------
# The API


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def drop_url(h, hc) -> str:
    return f"/api/handovers/{h.pk}/clients/{hc.pk}/drop/"


def test_the_supervisor_drops_over_the_api(people, handover):
    hc = handover.clients.first()
    leave_book(hc, people.other_sales)

    response = api_as(people.supervisor).post(
        drop_url(handover, hc), {"reason": REASON, "version": fresh(handover).version}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert hc.pk not in [c["id"] for c in body["clients"]] and len(body["clients"]) == 9
    assert body["version"] == fresh(handover).version


@pytest.mark.parametrize("who", ["departing", "receiver", "manager"])
def test_the_api_refuses_everyone_else(people, handover, who):
    hc = handover.clients.first()
    leave_book(hc, people.other_sales)

    response = api_as(getattr(people, who)).post(drop_url(handover, hc), {"reason": REASON}, format="json")

    assert response.status_code == 403 and response.json()["code"] == "not_allowed"
    assert HandoverClient.objects.filter(pk=hc.pk).exists()


def test_the_api_refuses_a_client_still_owned_and_a_missing_reason(people, handover):
    owned, left = handover.clients.all()[:2]
    leave_book(left, people.other_sales)
    api = api_as(people.supervisor)

    still_owned = api.post(drop_url(handover, owned), {"reason": REASON}, format="json")
    no_reason = api.post(drop_url(handover, left), {"reason": ""}, format="json")

    assert still_owned.status_code == 400 and still_owned.json()["code"] == "invalid"
    assert no_reason.status_code == 400 and no_reason.json()["field"] == "reason"
    assert handover.clients.count() == 10


def test_the_final_approval_over_the_api_says_what_to_do(people, handover):
    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    left = leave_book(h.clients.first(), UserFactory(department=people.north, roles=[Role.SALES]))

    response = api_as(people.manager).post(
        f"/api/handovers/{h.pk}/transitions/approve_report/",
        {"signature": {"method": "typed", "typed_name": people.manager.display_name, "password": DEFAULT_PASSWORD}},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert left.name in response.json()["detail"]
    assert fresh(h).state == State.REPORT_APPROVAL
