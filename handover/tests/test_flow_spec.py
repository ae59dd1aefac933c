"""The flow spec (handover/flow.py) covers the model's flowchart exactly, and agrees with it."""

import pytest

from handover import flow, models, services, signing
from handover.flow import Party, State
from handover.models import Handover

FSM = list(Handover._meta.get_field("state").get_all_transitions(Handover))
MODEL_TRANSITIONS = {t.name for t in FSM}
PERMISSION_OF = {
    Party.DEPARTING: models.is_departing,
    Party.SUPERVISOR: models.is_supervisor,
    Party.MANAGER: models.is_manager,
    Party.WITNESS: models.is_witness,
    Party.MANAGER_OR_HR: models.may_cancel,
}


def _targets(t) -> list[str]:
    """Where the transition may lead: a move out of a part of the procedure declares every state it may reach."""
    return list(t.target.allowed_states) if hasattr(t.target, "allowed_states") else [t.target]


def test_every_transition_of_the_model_has_a_spec_and_every_spec_a_transition():
    assert set(flow.TRANSITIONS) == MODEL_TRANSITIONS
    assert list(flow.TRANSITIONS) == models.TRANSITIONS


def test_every_state_has_a_spec_and_every_spec_is_a_state():
    assert set(flow.STATES) == set(State)
    assert set(dict(Handover._meta.get_field("state").choices)) == set(State.values)
    named = {t.source for t in FSM} | {s for t in FSM for s in _targets(t)}
    assert named <= set(State.values)
    assert set(flow.SIGNED_AT.values()) <= set(State)


@pytest.mark.parametrize("transition", FSM, ids=lambda t: f"{t.name}@{t.source}")
def test_the_model_checks_the_party_the_spec_names(transition):
    spec = flow.TRANSITIONS[transition.name]
    assert transition.permission is PERMISSION_OF[spec.by]
    # Nothing else rides on the model's transitions: what a transition means is the spec's.
    assert transition.custom == {}


@pytest.mark.parametrize("transition", [t for t in FSM if t.name != "cancel"], ids=lambda t: t.name)
def test_who_moves_a_transition_is_who_acts_in_the_state_it_leaves(transition):
    assert flow.TRANSITIONS[transition.name].by == flow.STATES[transition.source].by


def test_open_states_have_a_todo_a_deadline_and_a_stage():
    for state in flow.OPEN_STATES:
        spec = flow.STATES[state]
        assert spec.todo and spec.days > 0 and spec.stage in flow.STAGE_LABELS, state
    for state in flow.CLOSED_STATES:
        assert not flow.STATES[state].todo and not flow.STATES[state].days, state
        # Someone hears that the handover ended so; an open state tells through its actors instead.
        assert flow.STATES[state].told, state
    for state in flow.OPEN_STATES:
        assert not flow.STATES[state].told, state
    # Every state but a cancellation sits on the progress bar, once.
    on_bar = [s for _key, _label, states in flow.STAGES for s in states]
    assert sorted(on_bar) == sorted(s for s in State if s != State.CANCELLED)
    # Cancelling is possible from every open state and from no other.
    assert {t.source for t in FSM if t.name == "cancel"} == set(flow.OPEN_STATES)


def test_approvals_carry_each_approval_signature_once():
    purposes = [spec.signature for spec in flow.TRANSITIONS.values() if spec.signature]
    assert len(purposes) == len(set(purposes))
    assert set(purposes) | set(flow.SIGNED_AT) == set(flow.SignaturePurpose)
    assert not set(purposes) & set(flow.SIGNED_AT)
    # The approval signed at a state is the one of the approval leaving it.
    for t in FSM:
        if flow.TRANSITIONS[t.name].signature:
            assert models.APPROVAL_PURPOSE_AT[t.source] == flow.TRANSITIONS[t.name].signature


def test_what_follows_and_what_is_told_is_provided():
    hooks = [hook for spec in flow.TRANSITIONS.values() for hook in spec.after]
    hooks += [hook for spec in flow.STATES.values() for hook in spec.entered]
    assert set(hooks) == set(services.AFTER_TRANSITION)
    for name, spec in flow.TRANSITIONS.items():
        for unmet in spec.unmet:
            assert callable(getattr(signing.Facts, f"_{unmet.fact}", None)), (name, unmet.fact)
        assert spec.notice in flow.NOTICE_TITLES
    for purpose, spec in flow.SIGNATURES.items():
        if spec.unmet:
            assert callable(getattr(signing.Facts, f"_{spec.unmet.fact}", None)), (purpose, spec.unmet.fact)
        assert spec.todo and spec.label and spec.at in flow.OPEN_STATES
        # Every step has a label for its button and the timeline.
        assert str(spec.label)


def test_returns_go_back_to_the_departing_persons_work():
    for t in FSM:
        spec = flow.TRANSITIONS[t.name]
        if spec.notice == flow.Notice.SENT_BACK:
            assert spec.reason and set(_targets(t)) <= flow.WORK_STATES, t.name
