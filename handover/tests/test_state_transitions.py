"""Every transition tried from every state, by the person the flow spec says moves it.

Only the moves the model declares (source -> target) pass; from any other state the step is
refused with WrongState and nothing changes. One handover is walked to each state and every
transition is tried on it inside a savepoint that is rolled back.
"""

import pytest
from django.db import transaction

from handover import flow, services
from handover.flow import Party, State
from handover.models import CallResult, Handover
from tests.walk import advance_to, do_stage_work, signature_of

FSM = list(Handover._meta.get_field("state").get_all_transitions(Handover))
DECLARED = {(t.name, t.source): t.target for t in FSM}
REFUSED = "refused (WrongState)"


def _target(declared, h: Handover) -> str:
    return declared.func(h) if hasattr(declared, "func") else declared


def _reach(h: Handover, state: State) -> Handover:
    if state == State.CANCELLED:
        h = advance_to(h, State.MATERIALS)
        services.handover_transition(handover=h.pk, name="cancel", user=h.manager, comment="不再离职")
        return Handover.objects.get(pk=h.pk)
    return advance_to(h, state)


def _mover(h: Handover, by: Party):
    # Cancelling is the manager's or HR's; the manager stands for both.
    return h.manager if by == Party.MANAGER_OR_HR else getattr(h, by)


def _prepare(h: Handover, name: str) -> None:
    """Meet the step's conditions: the state's own work, and for a return from the spot-check an unaware client."""
    if name == "cancel":
        return
    do_stage_work(Handover.objects.get(pk=h.pk))
    if name == "return_spot_check":
        hc = h.clients.filter(in_sample=True).first()
        hc.phone_checks.all().delete()
        services.phone_check_record(handover_client=hc, user=h.witness, result=CallResult.UNAWARE, note="客户不知情")


def _try(h: Handover, name: str) -> str:
    spec = flow.TRANSITIONS[name]
    user = _mover(h, spec.by)
    declared = (name, h.state) in DECLARED
    if declared:
        _prepare(h, name)
    before = Handover.objects.values_list("state", "version").get(pk=h.pk)
    try:
        moved = services.handover_transition(
            handover=h.pk,
            name=name,
            user=user,
            comment="理由：资料不全",
            signature=signature_of(user) if spec.signature else None,
        )
    except services.WrongState:
        # Refused before anything was written.
        assert Handover.objects.values_list("state", "version").get(pk=h.pk) == before
        return REFUSED
    except services.HandoverError as exc:
        return f"{type(exc).__name__}: {exc.message}"
    return moved.state


@pytest.mark.parametrize("state", list(State))
def test_only_the_declared_moves_pass_from_each_state(handover, state):
    h = _reach(handover, state)
    assert h.state == state
    outcomes = {}
    for name in flow.TRANSITIONS:
        with transaction.atomic():
            outcomes[name] = _try(h, name)
            transaction.set_rollback(True)
    # A move out of a part of the procedure leads where the handover's parts say (every part here).
    expected = {name: _target(DECLARED.get((name, state), REFUSED), h) for name in flow.TRANSITIONS}
    assert outcomes == expected
    # An open state has a way forward and the cancellation; a closed one has none.
    passed = [name for name, outcome in outcomes.items() if outcome != REFUSED]
    assert ("cancel" in passed and len(passed) >= 2) if state in flow.OPEN_STATES else passed == []
