"""The steps: the transitions this person could run now, each ready or with why it is blocked."""

from dataclasses import dataclass

from ... import flow, signing
from ...models import TRANSITIONS, Handover
from ..display import url_pattern
from ..transitions import transitions_for


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    url: str
    ready: bool
    needs_reason: bool
    hint: str = ""
    # An approval: signed by the approver in the same action.
    needs_signature: bool = False


def steps(h: Handover, user, checker: "signing.SignatureChecker | None" = None) -> list[Step]:
    ready = set(transitions_for(h, user))
    pattern = url_pattern("handover:transition", h.pk)
    facts = signing.Facts(h, checker)
    result = []
    for name in TRANSITIONS:
        meta = getattr(Handover, name)._django_fsm
        if not meta.has_transition(h.state) or not meta.has_transition_perm(h, h.state, user):
            continue
        spec = flow.TRANSITIONS[name]
        if name not in ready and spec.reason:
            # A return that is not possible yet (no client said they were unaware) is not offered.
            continue
        result.append(
            Step(
                name=name,
                label=str(spec.label),
                url=pattern.format(name),
                ready=name in ready,
                needs_reason=spec.reason,
                hint="" if name in ready else flow.unmet_message(name, facts, hint=True),
                needs_signature=spec.signature is not None,
            )
        )
    return result
