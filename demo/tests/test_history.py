"""The demo's past: handovers completed 3 to 12 months ago and what became of their clients."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from clients.models import Client, ClientStatus, Contract, OwnershipChange
from demo.history import PAST_HANDOVERS


@pytest.fixture
def seeded(db):
    call_command("seed_demo", stdout=StringIO())


def past():
    from handover.models import Handover

    return Handover.objects.filter(departing__username__in=[spec[0] for spec in PAST_HANDOVERS])


def test_the_past_handovers_were_completed_3_to_12_months_ago(seeded):
    from handover import signing
    from handover.models import Duty, Event, State

    today = timezone.localdate()
    handovers = list(past())
    assert len(handovers) == len(PAST_HANDOVERS) >= 3
    for h in handovers:
        assert h.state == State.COMPLETED
        age = (today - timezone.localdate(h.completed_at)).days
        assert 90 <= age <= 366, age
        # The whole record moved back with it: nothing of it happened after the completion's month.
        assert h.started_at < h.completed_at
        # What its people signed still holds for the record as it reads now.
        checker = signing.SignatureChecker(h)
        assert len(checker.signatures) >= 10
        assert all(checker.is_valid(sig) for sig in checker.signatures)
        # Numbered in the month it was started (the number is in what its people signed).
        assert h.number.startswith(f"JJ{timezone.localtime(h.started_at):%Y%m}-")
        assert not Event.objects.filter(handover=h, at__gt=h.completed_at + datetime.timedelta(days=40)).exists()
        assert not Duty.objects.filter(handover=h, done_at__isnull=True).exists()
        changes = OwnershipChange.objects.filter(from_owner=h.departing)
        assert changes.count() == h.clients.count()
        assert all(abs(c.changed_at - h.completed_at) < datetime.timedelta(hours=1) for c in changes)
        assert not Client.objects.filter(owner=h.departing).exists()
        if h.reason == "resignation":
            assert not h.departing.is_active


def test_their_outcomes_show_retained_and_lost_clients_with_reasons(seeded):
    from handover.models import HandoverClient
    from handover.selectors.outcomes import client_outcomes

    outcomes = client_outcomes(HandoverClient.objects.filter(handover__in=past()))
    assert len(outcomes) == sum(h.clients.count() for h in past())
    retained = [o for o in outcomes if o.retained]
    lost = [o for o in outcomes if o.lost]
    assert len(retained) > len(outcomes) / 2
    assert 2 <= len(lost) < len(outcomes) / 3
    assert all(o.lost_reason and o.lost_on and o.lost_on > o.completed_on for o in lost)
    assert len({o.lost_reason for o in lost}) >= 2
    assert all(o.days_to_first_contact is not None and o.days_to_first_contact <= 8 for o in outcomes)
    assert all(o.days_to_first_visit is not None for o in outcomes)
    assert all(o.outstanding_at_handover is not None for o in outcomes)
    assert any(o.collected_since and o.collected_since > 0 for o in outcomes)
    assert any(o.contracts_signed_since for o in outcomes)
    assert any(o.deals_won_since for o in outcomes)
    assert any(o.deals_lost_since for o in outcomes)
    assert any(o.value_change_percent is not None for o in outcomes)
    assert {o.retained_at[30] for o in outcomes} == {True}


def test_the_clients_answered_most_surveys_and_the_supervisors_evaluated(seeded):
    from handover.models import ClientSurvey, HandoverClient, SurveyDelivery

    entries = HandoverClient.objects.filter(handover__in=past())
    surveys = ClientSurvey.objects.filter(handover_client__in=entries)
    assert surveys.count() == entries.count()
    answered = surveys.filter(answered_at__isnull=False)
    assert answered.count() > surveys.count() / 2
    assert answered.filter(rating__lte=2).exists() and answered.filter(rating__gte=4).exists()
    for s in answered.select_related("handover_client__handover"):
        assert s.handover_client.handover.completed_at < s.answered_at < s.expires_at
    # No email or SMS is owed for the demo's past.
    assert not SurveyDelivery.objects.filter(survey__in=surveys).exists()

    from handover.models import HandoverEvaluation

    for h in past():
        evaluation = HandoverEvaluation.objects.get(handover=h)
        assert evaluation.evaluated_by == h.supervisor
        assert h.completed_at < evaluation.evaluated_at < h.completed_at + datetime.timedelta(days=40)


def test_nothing_is_owed_and_the_book_stays_consistent(seeded):
    from handover.services import pending_invitation_ids
    from notifications.models import Notification

    assert pending_invitation_ids() == []
    # What the past told people was read and sent back then.
    notices = Notification.objects.filter(handover__in=past())
    assert notices.exists()
    assert not notices.filter(read_at__isnull=True).exists()
    assert not notices.filter(emailed_at__isnull=True).exists()
    for contract in Contract.objects.filter(client__handover_entries__handover__in=past()).prefetch_related(
        "receivables"
    ):
        contract.clean_fields()
        assert contract.signed_on <= contract.start_date <= contract.end_date
        assert contract.amount == sum(r.amount_due for r in contract.receivables.all())
        assert contract.amount_paid == sum(r.amount_received for r in contract.receivables.all())
    lost = Client.objects.filter(handover_entries__handover__in=past(), status=ClientStatus.LOST)
    assert lost.exists() and all(c.lost_reason for c in lost)
