"""The stages bar: each stage of the procedure done, current, returned, cancelled or to do."""

from dataclasses import dataclass

from ...models import STAGES, Handover, State


@dataclass(frozen=True)
class StageCell:
    key: str
    label: str
    status: str  # done, current, returned, cancelled, todo
    state_label: str = ""


def stage_cells(h: Handover, events: list[dict]) -> list[StageCell]:
    # A cancelled handover shows the stage it was cancelled at.
    cancelled_from = next((e["from_state"] for e in reversed(events) if e["to_state"] == State.CANCELLED), "")
    current = next((i for i, (_k, _l, states) in enumerate(STAGES) if h.state in states), None)
    if h.state == State.CANCELLED:
        current = next((i for i, (_k, _l, states) in enumerate(STAGES) if cancelled_from in states), None)
    cells = []
    for i, (key, label, states) in enumerate(STAGES):
        if current is None or i > current:
            status = "todo"
        elif i < current or h.state == State.COMPLETED:
            status = "done"
        elif h.state == State.CANCELLED:
            status = "cancelled"
        elif h.last_return_reason and h.state == states[0]:
            status = "returned"
        else:
            status = "current"
        # Name the review or approval the stage waits for; the stage's own work needs no second label.
        state_label = h.get_state_display() if status == "current" and h.state != states[0] else ""
        cells.append(StageCell(key, str(label), status, state_label))
    return cells
