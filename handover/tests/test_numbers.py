"""Handover numbers: unique without a race, and a refusal that says what really happened."""

import threading

import pytest
from django.db import connection, connections

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.tests.factories import ClientFactory
from handover import services
from handover.models import Handover, State
from handover.services import start as starting

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="two transactions at once need a server database; scripts/test.sh runs this on PostgreSQL",
)


def _at_once(calls):
    """Run the calls in threads at once; return (results, exceptions), whatever the exception."""
    barrier = threading.Barrier(len(calls))
    results, raised = [None] * len(calls), [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - every failure counts as one here
            raised[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results, raised


@pytest.fixture
def both_read_the_same_number(monkeypatch):
    """Hold each thread after its first reading of the next number until the other has read too,
    so both draw the same number, as two starts in the same instant do."""
    original = starting._next_number
    barrier = threading.Barrier(2)
    seen = threading.local()

    def next_number(today):
        number = original(today)
        if not getattr(seen, "once", False):
            seen.once = True
            barrier.wait(timeout=20)
        return number

    monkeypatch.setattr(starting, "_next_number", next_number)


@needs_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_handovers_started_at_once_for_different_people_both_start(start, people, book, both_read_the_same_number):
    north_receiver = UserFactory(
        username="north_receiver", department=people.north, supervisor=people.other_supervisor, roles=[Role.SALES]
    )
    ClientFactory(owner=people.other_sales, grade="B")

    results, raised = _at_once(
        [
            lambda: start(),
            lambda: start(departing=people.other_sales, receiver=north_receiver),
        ]
    )

    assert raised == [None, None]
    numbers = {h.number for h in results}
    assert len(numbers) == 2
    assert set(Handover.objects.values_list("number", flat=True)) == numbers
    assert set(Handover.objects.values_list("departing", flat=True)) == {people.departing.pk, people.other_sales.pk}


@needs_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_starts_for_the_same_person_at_once_keep_one_and_say_why(start, people, book):
    # The start locks the departing person, so the second waits for the first and then finds the
    # open handover (or, without the lock, the one-open-handover constraint refuses it): either
    # way one handover, and the refusal names the person, never a number clash.
    results, raised = _at_once([lambda: start(), lambda: start()])

    assert sum(exc is None for exc in raised) == 1
    refused = next(exc for exc in raised if exc is not None)
    assert isinstance(refused, services.HandoverError)
    assert "李离职" in refused.message
    assert "already has an open handover" in str(refused.message) or "已有进行中的交接" in refused.message
    assert Handover.objects.count() == 1


def test_a_number_taken_in_the_meantime_is_drawn_again(start, people, book, monkeypatch):
    # The same collision as above without threads, so it runs on SQLite too: the first draw
    # returns a number another handover took between the reading and the writing.
    north_receiver = UserFactory(
        username="north_receiver", department=people.north, supervisor=people.other_supervisor, roles=[Role.SALES]
    )
    ClientFactory(owner=people.other_sales, grade="B")
    first = start(departing=people.other_sales, receiver=north_receiver)
    original, draws = starting._next_number, []

    def next_number(today):
        draws.append(first.number if not draws else original(today))
        return draws[-1]

    monkeypatch.setattr(starting, "_next_number", next_number)

    second = start()

    assert second.departing == people.departing and second.state == State.PLAN
    assert second.number != first.number and len(draws) == 2
