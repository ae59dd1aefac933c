"""What this person may run now: the transitions declared on the model whose conditions are met."""

from accounts.models import User

from ..models import TRANSITIONS, Handover, approver_signed


def conditions_met(h: Handover, name: str, *, skip=()) -> bool:
    transition = getattr(Handover, name)._django_fsm.get_transition(h.state)
    if transition is None:
        return False
    return all(condition(h) for condition in (transition.conditions or []) if condition not in skip)


def transitions_for(h: Handover, user: User) -> list[str]:
    """The transitions this person may run now, conditions met.

    An approval is listed when everything but the approver's own signature is in place: that
    signature is given in the same request (handover_transition(signature=...)).
    """
    names = []
    for name in TRANSITIONS:
        meta = getattr(Handover, name)._django_fsm
        if not meta.has_transition(h.state) or not meta.has_transition_perm(h, h.state, user):
            continue
        if conditions_met(h, name, skip={approver_signed}):
            names.append(name)
    return names
