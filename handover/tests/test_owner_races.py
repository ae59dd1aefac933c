"""Owner changes and a handover start for the same person at the same moment take turns.

Each side checks one set of rows and writes another: the start reads the departing person's book
and whether they are receiving; an owner change asks whether the new owner is leaving; a receiver
change asks whether the receiver is leaving. Both sides hold the person's row until their commit,
so the one that comes second sees what the first did (issue 9, items 2 and 3).
"""

import datetime
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.ownership import owner_change_refusals
from clients.tests.factories import ClientFactory
from handover import services
from handover.models import Handover, HandoverClient

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need a server database; scripts/test.sh runs this on PostgreSQL when one is there",
)

PAUSE = 0.6


def _together(first, second):
    """first runs and signals `ready` while it still holds its transaction; then second runs."""
    ready = threading.Event()
    errors = []

    def run(call, *args):
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            ready.set()
            connections.close_all()

    threads = [threading.Thread(target=run, args=(first, ready)), threading.Thread(target=run, args=(second, ready))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return errors


def _start(people, departing, receiver):
    today = timezone.localdate()
    return services.handover_start(
        started_by=people.hr,
        departing=departing,
        receiver=receiver,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=today,
        last_working_day=today + datetime.timedelta(days=30),
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_client_given_just_before_the_start_is_carried_by_the_handover(people, book):
    def give(ready):
        with transaction.atomic():
            assert not owner_change_refusals(client_ids=[], owner_ids=[people.departing.pk]).owners
            ready.set()
            time.sleep(PAUSE)
            ClientFactory(owner=people.departing, name="迟到客户有限公司")

    def start(ready):
        ready.wait(5)
        _start(people, people.departing, people.receiver)

    assert _together(give, start) == []
    h = Handover.objects.get(departing=people.departing)
    assert HandoverClient.objects.filter(handover=h, client__name="迟到客户有限公司").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_client_given_just_after_the_start_is_refused(people, book):
    answers = []

    def start(ready):
        with transaction.atomic():
            _start(people, people.departing, people.receiver)
            ready.set()
            time.sleep(PAUSE)

    def give(ready):
        ready.wait(5)
        with transaction.atomic():
            answers.append(owner_change_refusals(client_ids=[], owner_ids=[people.departing.pk]).owners)

    assert _together(start, give) == []
    assert people.departing.pk in answers[0]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_receiver_named_while_they_are_started_as_leaving_is_refused(people, handover):
    leaving = UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES])
    ClientFactory(owner=leaving)
    hc = handover.clients.first()

    def start(ready):
        with transaction.atomic():
            _start(people, leaving, people.other_sales)
            ready.set()
            time.sleep(PAUSE)

    def name_receiver(ready):
        ready.wait(5)
        services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=leaving)

    errors = _together(start, name_receiver)

    assert len(errors) == 1 and isinstance(errors[0], services.InvalidInput), errors
    assert HandoverClient.objects.get(pk=hc.pk).receiver == people.receiver
