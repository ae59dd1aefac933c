"""A client marked lost needs a reason from the list; only its owner or their supervisor marks it
(and makes it active again), on the page and the API alike (issue 14)."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.tokens import api_token_create
from clients.models import Client, ClientStatus, LostReason, Opportunity, OpportunityStage
from clients.tests.factories import ClientFactory, OpportunityFactory


@pytest.fixture
def own(people):
    return ClientFactory(owner=people.receiver, name="流失测试有限公司", status=ClientStatus.ACTIVE)


def _api(client, user, url, body):
    token = api_token_create(user=user)[0]
    return client.post(url, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")


def test_the_model_refuses_a_lost_client_without_a_reason(own):
    own.status = ClientStatus.LOST
    with pytest.raises(ValidationError) as refused:
        own.clean()
    assert "lost_reason" in refused.value.message_dict
    own.lost_reason = LostReason.PRICE
    own.clean()
    own.save()
    own.refresh_from_db()
    assert own.lost_at is not None
    # Active again: the reason, the note and the date go.
    own.status = ClientStatus.ACTIVE
    own.save()
    own.refresh_from_db()
    assert (own.lost_reason, own.lost_note, own.lost_at) == ("", "", None)


def test_the_owner_marks_the_client_lost_with_a_reason_and_a_note(own, people, login):
    browser = login(people.receiver)
    response = browser.post(
        reverse("clients:mark_lost", args=[own.pk]), {"lost_reason": "competitor", "lost_note": "被竞品低价替换"}
    )
    assert response.status_code == 302
    own.refresh_from_db()
    assert (own.status, own.lost_reason, own.lost_note) == ("lost", "competitor", "被竞品低价替换")
    page = browser.get(reverse("clients:detail", args=[own.pk])).content.decode()
    assert 'class="card mb-3 client-status" id="client-status" data-status="lost"' in page
    assert "被竞品低价替换" in page and "reactivate-form" in page


def test_marking_lost_without_a_reason_is_refused_and_keeps_the_note(own, people, login):
    browser = login(people.receiver)
    response = browser.post(reverse("clients:mark_lost", args=[own.pk]), {"lost_reason": "", "lost_note": "我写的说明"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-field="lost_reason"' in page and "我写的说明" in page and '<details class="mark-lost" open>' in page
    own.refresh_from_db()
    assert own.status == ClientStatus.ACTIVE
    # A reason not in the list is refused too, with the other choices kept.
    response = browser.post(reverse("clients:mark_lost", args=[own.pk]), {"lost_reason": "weather"})
    assert response.status_code == 400
    own.refresh_from_db()
    assert own.status == ClientStatus.ACTIVE


@pytest.mark.parametrize("who", ["manager", "hr", "admin", "witness", "departing", "other_supervisor"])
def test_nobody_else_marks_the_client_lost(own, people, login, who):
    browser = login(getattr(people, who))
    response = browser.post(reverse("clients:mark_lost", args=[own.pk]), {"lost_reason": "price"})
    # Who sees the client (manager, HR, admin) is refused; who does not, finds nothing.
    assert response.status_code in (403, 404)
    own.refresh_from_db()
    assert own.status == ClientStatus.ACTIVE
    page = login(getattr(people, who)).get(reverse("clients:detail", args=[own.pk]))
    assert b"mark-lost-form" not in page.content


def test_the_supervisor_reactivates_a_lost_client_the_salesperson_of_another_department_cannot(own, people, login):
    own.status, own.lost_reason = ClientStatus.LOST, LostReason.SERVICE
    own.save()
    response = login(people.other_supervisor).post(reverse("clients:reactivate", args=[own.pk]))
    assert response.status_code == 404
    own.refresh_from_db()
    assert own.status == ClientStatus.LOST
    response = login(people.supervisor).post(reverse("clients:reactivate", args=[own.pk]))
    assert response.status_code == 302
    own.refresh_from_db()
    assert (own.status, own.lost_reason) == (ClientStatus.ACTIVE, "")


def test_the_api_marks_lost_only_with_a_reason_and_only_for_the_owner_or_supervisor(own, people, client):
    url = reverse("api:client-status", args=[own.pk])
    refused = _api(client, people.receiver, url, {"status": "lost"})
    assert refused.status_code == 400 and refused.json()["field"] == "lost_reason"
    assert _api(client, people.manager, url, {"status": "lost", "lost_reason": "price"}).status_code == 403
    assert _api(client, people.other_sales, url, {"status": "lost", "lost_reason": "price"}).status_code == 404
    assert Client.objects.get(pk=own.pk).status == ClientStatus.ACTIVE
    done = _api(client, people.supervisor, url, {"status": "lost", "lost_reason": "closed", "lost_note": "已注销"})
    assert done.status_code == 200
    assert done.json()["lost_reason"] == "closed" and done.json()["status"] == "lost"
    again = _api(client, people.receiver, url, {"status": "lost", "lost_reason": "price"})
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    back = _api(client, people.receiver, url, {"status": "active"})
    assert back.status_code == 200 and back.json()["lost_reason"] == ""


def test_a_deal_remembers_the_day_it_closed(own):
    deal = OpportunityFactory(client=own, stage=OpportunityStage.NEGOTIATION)
    assert deal.closed_on is None
    deal.stage = OpportunityStage.WON
    deal.save()
    assert Opportunity.objects.get(pk=deal.pk).closed_on == timezone.localdate()
    # A date given is kept; reopening clears it.
    deal.closed_on = timezone.localdate() - datetime.timedelta(days=3)
    deal.save()
    assert Opportunity.objects.get(pk=deal.pk).closed_on == timezone.localdate() - datetime.timedelta(days=3)
    deal.stage = OpportunityStage.LEAD
    deal.save()
    assert Opportunity.objects.get(pk=deal.pk).closed_on is None
