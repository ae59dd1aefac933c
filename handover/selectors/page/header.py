"""The header: the deadline, a return's reason and whether this person must act on it, and the
receiver form of the plan stage."""

import datetime
from dataclasses import dataclass, field

from accounts.models import User

from ... import policy
from ...flow import WORK_STATES
from ...models import Handover, State
from ..visibility import is_overdue, receivers_for
from .rows import PageRows


@dataclass(frozen=True)
class Header:
    current_due_on: datetime.date | None
    overdue: bool
    return_reason: str
    viewer_must_act_on_return: bool
    can_set_receiver: bool
    receiver_choices: list[User] = field(default_factory=list)


def header(h: Handover, user, rows: PageRows, today: datetime.date) -> Header:
    state = h.state
    can_set_receiver = state == State.PLAN and policy.may_set_receiver(h, user)
    receiver_choices = []
    if can_set_receiver:
        receiver_choices = list(receivers_for(h))
    is_receiver = any(hc.receiver_id == user.pk for hc in rows.clients)
    must_act = state in WORK_STATES and (policy.is_departing(h, user) or (state == State.VISITS and is_receiver))
    return_reason = h.last_return_reason if state in WORK_STATES else ""
    return Header(
        current_due_on=h.current_due_on,
        overdue=is_overdue(h, today),
        return_reason=return_reason,
        viewer_must_act_on_return=bool(return_reason) and must_act,
        can_set_receiver=can_set_receiver,
        receiver_choices=receiver_choices,
    )
