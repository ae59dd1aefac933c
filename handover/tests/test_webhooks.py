"""Outgoing webhooks (notifications.webhooks): each event of the procedure written in its own
transaction, signed, delivered once per subscription, retried with backoff, never lost to a broker
outage and never sent from inside a request."""

import datetime
import hashlib
import hmac
import json

import pytest
from django.utils import timezone

from clients.models import Client, OwnershipChange
from clients.ownership import ownership_changes_record
from handover import services
from handover.models import Duty, State
from handover.reminders import reminders_scan
from handover.services.errors import NotAllowed
from notifications import webhooks
from notifications.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from tests.walk import advance_to


@pytest.fixture
def sent(monkeypatch):
    """The POSTs made, as (url, body, headers); each answered by `sent.status` (default 200)."""

    class Sent(list):
        status = 200

    calls = Sent()

    def post(url, body, headers):
        calls.append((url, body, headers))
        if isinstance(calls.status, Exception):
            raise calls.status
        return calls.status

    monkeypatch.setattr(webhooks, "post", post)
    # After the commit: the ids handed to the task are kept here, nothing is sent in the request.
    queued: list[int] = []
    monkeypatch.setattr(webhooks, "_queue", [queued.append])
    monkeypatch.setattr(webhooks, "_eager", [lambda: False])
    calls.queued = queued
    return calls


@pytest.fixture
def crm(db):
    return WebhookSubscription.objects.create(name="CRM", url="https://crm.example.cn/hooks", secret="s3cret")


def types() -> list[str]:
    return list(WebhookEvent.objects.order_by("id").values_list("type", flat=True))


def test_nothing_is_written_without_a_subscription(db, start, sent):
    start()
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_a_start_is_told_signed_and_delivered_after_the_commit(crm, start, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        h = start()
    assert types() == ["handover.started"]
    [delivery] = WebhookDelivery.objects.all()
    assert sent == [] and sent.queued == [delivery.pk]  # queued to the task, nothing sent in the request
    assert webhooks.webhook_deliver(delivery.pk) is True
    [(url, body, headers)] = sent
    assert url == crm.url
    payload = json.loads(body)
    assert payload["type"] == "handover.started" and payload["id"] == headers["X-Handover-Event-Id"]
    assert payload["data"]["handover"]["number"] == h.number
    expected = hmac.new(b"s3cret", headers["X-Handover-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Handover-Signature"] == f"sha256={expected}"
    assert headers["X-Handover-Event"] == "handover.started"


def test_a_delivery_is_sent_once_even_if_its_task_runs_twice(crm, start, sent):
    start()
    [delivery] = WebhookDelivery.objects.all()
    assert webhooks.webhook_deliver(delivery.pk) is True
    assert webhooks.webhook_deliver(delivery.pk) is False
    assert len(sent) == 1


def test_each_subscription_gets_each_event_once_and_only_the_types_it_asks_for(crm, start, sent):
    hr = WebhookSubscription.objects.create(name="HR", url="https://hr.example.cn/h", events=["handover.completed"])
    start()
    assert list(WebhookDelivery.objects.values_list("subscription_id", flat=True)) == [crm.pk]
    assert not hr.deliveries.exists()


def test_a_failure_is_retried_later_with_backoff(crm, start, sent):
    start()
    [delivery] = WebhookDelivery.objects.all()
    sent.status = 503
    assert webhooks.webhook_deliver(delivery.pk) is False
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status, delivery.delivered_at) == (1, 503, None)
    first_wait = delivery.next_attempt_at - timezone.now()
    assert first_wait > datetime.timedelta(seconds=30)
    assert delivery.pk not in webhooks.due_delivery_ids()  # not before its time
    sent.status = ConnectionError("refused")
    webhooks.webhook_deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and "refused" in delivery.last_error
    assert delivery.next_attempt_at - timezone.now() > first_wait  # the wait doubles
    later = delivery.next_attempt_at + datetime.timedelta(seconds=1)
    assert delivery.pk in webhooks.due_delivery_ids(now=later)
    sent.status = 200
    assert webhooks.webhook_deliver(delivery.pk) is True


def test_a_broker_outage_loses_nothing(crm, start, sent, monkeypatch, django_capture_on_commit_callbacks):
    def down(pk):
        raise ConnectionError("broker down")

    monkeypatch.setattr(webhooks, "_queue", [down])
    with django_capture_on_commit_callbacks(execute=True):
        start()  # the request itself succeeds
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.delivered_at is None
    monkeypatch.setattr(webhooks, "_queue", [sent.queued.append])
    assert webhooks.webhooks_queue_due() == 1 and sent.queued == [delivery.pk]


def test_a_refused_step_tells_no_one(crm, handover, people, sent):
    WebhookEvent.objects.all().delete()
    with pytest.raises(NotAllowed):
        services.handover_transition(handover=handover, name="submit_plan", user=people.other_sales)
    assert not WebhookEvent.objects.exists()


def test_each_transition_is_a_stage_change_and_the_completion_is_told_with_each_client(crm, handover, people, sent):
    h = advance_to(handover, State.COMPLETED)
    told = types()
    assert told[0] == "handover.started"
    assert told.count("handover.completed") == 1
    changes = [e.data for e in WebhookEvent.objects.filter(type="stage.changed").order_by("id")]
    assert changes[0]["from_state"] == State.PLAN and changes[-1]["to_state"] == State.COMPLETED
    owners = WebhookEvent.objects.filter(type="client.owner_changed")
    assert owners.count() == h.clients.count()
    one = owners.first().data
    assert one["from_owner"]["id"] == people.departing.pk and one["to_owner"]["id"] == people.receiver.pk
    assert one["client"]["name"] == Client.objects.get(pk=one["client"]["id"]).name


def test_a_disputed_item_is_told(crm, handover, people, sent):
    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    item = h.items.order_by("order", "pk").first()
    services.item_dispute(item=item, user=people.receiver, reason="合同原件缺第3页")
    [event] = WebhookEvent.objects.filter(type="item.disputed")
    assert event.data["item"] == {"id": item.pk, "title": item.title}
    assert event.data["reason"] == "合同原件缺第3页"


def test_an_owner_change_anywhere_is_told(crm, people, sent):
    client = Client.objects.create(
        name="测试科技有限公司", credit_code="91310000MA1FL00001", grade="B", owner=people.departing
    )
    ownership_changes_record(
        [OwnershipChange(client=client, from_owner=people.departing, to_owner=people.receiver, reason="调整")]
    )
    [event] = WebhookEvent.objects.filter(type="client.owner_changed")
    assert event.data["reason"] == "调整" and event.data["to_owner"]["employee_no"] == people.receiver.employee_no


def test_an_overdue_duty_is_told_once(crm, handover, people, sent):
    h = advance_to(handover, State.COMPLETED)
    duty = Duty.objects.filter(handover=h).order_by("due_on").first()
    assert reminders_scan(today=duty.due_on)["duties_overdue"] == 0  # due today is not overdue yet
    late = duty.due_on + datetime.timedelta(days=1)
    assert reminders_scan(today=late)["duties_overdue"] >= 1
    reminders_scan(today=late + datetime.timedelta(days=1))
    overdue = WebhookEvent.objects.filter(type="duty.overdue", data__duty__id=duty.pk)
    assert overdue.count() == 1
