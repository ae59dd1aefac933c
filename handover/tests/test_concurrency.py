"""Two people acting on one handover at the same moment: one succeeds, the other is told to reload."""

import threading

import pytest
from django.db import connection, connections

from handover import services
from handover.models import Event, Handover, State
from handover.walk import advance_to

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need a server database; scripts/test.sh runs this on PostgreSQL when one is there",
)


def _race(calls):
    """Run the calls at once in threads; return what each raised (None for success).

    Only the procedure's refusals (HandoverError) are outcomes: anything else a thread raises, or a
    thread that never finishes, fails the test.
    """
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)
    unexpected = []

    def run(i, call):
        try:
            barrier.wait()
            call()
        except services.HandoverError as exc:
            outcomes[i] = exc
        except Exception as exc:
            unexpected.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    if unexpected:
        raise ExceptionGroup("a thread of the race raised", unexpected)
    assert not any(t.is_alive() for t in threads), "a thread of the race did not finish in 30 s"
    return outcomes


def test_the_race_helper_fails_on_an_unexpected_exception():
    def bug():
        raise KeyError("not a refusal")

    def refused():
        raise services.Conflict("reload")

    with pytest.raises(ExceptionGroup) as raised:
        _race([bug, refused, lambda: None])
    assert [type(e) for e in raised.value.exceptions] == [KeyError]


def test_the_race_helper_returns_refusals_and_successes():
    refusal = services.Conflict("reload")

    def refused():
        raise refusal

    assert _race([refused, lambda: None]) == [refusal, None]


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_double_submit_acts_once(handover, people):
    h = advance_to(handover, State.PLAN)
    from handover.walk import do_stage_work

    do_stage_work(h)
    h = Handover.objects.get(pk=h.pk)

    def submit():
        services.handover_transition(handover=h.pk, name="submit_plan", user=people.departing)

    outcomes = _race([submit, submit])
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, services.WrongState | services.Conflict) for o in outcomes if o is not None)
    assert Event.objects.filter(handover=h, data__name="submit_plan").count() == 1
    assert Handover.objects.get(pk=h.pk).state == State.PLAN_REVIEW


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_return_and_a_cancel_at_once_give_one_result(handover, people):
    h = advance_to(handover, State.PLAN_REVIEW)
    version = Handover.objects.get(pk=h.pk).version

    def cancel():
        services.handover_transition(
            handover=h.pk, name="cancel", user=people.hr, comment="员工撤回离职", expected_version=version
        )

    def send_back():
        services.handover_transition(
            handover=h.pk, name="return_plan_review", user=people.supervisor, comment="再核对", expected_version=version
        )

    outcomes = _race([cancel, send_back])
    assert sum(o is None for o in outcomes) == 1
    loser = next(o for o in outcomes if o is not None)
    assert isinstance(loser, services.Conflict)
    assert "reload" in loser.message.lower() or "刷新" in loser.message
    assert Event.objects.filter(handover=h, kind="transition", from_state=State.PLAN_REVIEW).count() == 1
