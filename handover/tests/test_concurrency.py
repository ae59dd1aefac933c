"""Two people acting on one handover at the same moment: one succeeds, the other is told to reload."""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from handover import services
from handover.models import Event, Handover, PhoneCheck, State
from tests.walk import advance_to

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
    from tests.walk import do_stage_work

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


def _phone_check_race(h, witness, n: int, *, headers: dict, body: dict) -> list:
    """n identical spot-check calls posted at once over the API, each by its own client."""
    token = api_token_create(user=witness)[0]
    responses = [None] * n

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        responses[i] = client.post(f"/api/handovers/{h.pk}/phone-checks/", body, format="json", headers=headers)

    _race([lambda i=i: post(i) for i in range(n)])
    return responses


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_identical_api_writes_with_one_idempotency_key_act_once(handover, people):
    h = advance_to(handover, State.SPOT_CHECK)
    hc = h.clients.filter(in_sample=True).first()
    version = Handover.objects.get(pk=h.pk).version

    responses = _phone_check_race(
        h,
        people.witness,
        20,
        headers={"Idempotency-Key": "call-1"},
        body={"handover_client": hc.pk, "result": "confirmed"},
    )

    assert PhoneCheck.objects.filter(handover_client__handover=h).count() == 1
    assert Event.objects.filter(handover=h, kind="phone_check").count() == 1
    assert Handover.objects.get(pk=h.pk).version == version + 1
    # Every one of them hears the first one's answer: the repeats waited for it.
    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.content for r in responses}) == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == 19


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_identical_api_writes_with_one_version_act_once(handover, people):
    h = advance_to(handover, State.SPOT_CHECK)
    hc = h.clients.filter(in_sample=True).first()
    version = Handover.objects.get(pk=h.pk).version

    responses = _phone_check_race(
        h, people.witness, 20, headers={}, body={"handover_client": hc.pk, "result": "confirmed", "version": version}
    )

    assert PhoneCheck.objects.filter(handover_client__handover=h).count() == 1
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
