"""The stages bar: each stage of the procedure done, current, returned, cancelled or to do."""

from dataclasses import dataclass

from ...flow import Part, part_of
from ...models import STAGES, Handover, State


@dataclass(frozen=True)
class StageCell:
    key: str
    label: str
    status: str  # done, current, returned, cancelled, todo
    state_label: str = ""


def handover_stages(h: Handover) -> list[tuple[str, str, list[State]]]:
    """The stages of the progress bar this handover goes through, each with its states on its path.

    A stage left with only a part of its own (the report stage without the report: the final
    approval) is named after that part."""
    on_path = set(h.path) | {State.COMPLETED}
    stages = []
    for key, label, states in STAGES:
        kept = [s for s in states if s in on_path]
        if not kept:
            continue
        parts = {part_of(s) for s in kept} - {None}
        if len(parts) == 1 and (part := parts.pop()) != key:
            label = Part(part).label
        stages.append((key, label, kept))
    return stages


def stage_cells(h: Handover, events: list[dict]) -> list[StageCell]:
    stages = handover_stages(h)
    # A cancelled handover shows the stage it was cancelled at.
    cancelled_from = next((e["from_state"] for e in reversed(events) if e["to_state"] == State.CANCELLED), "")
    current = next((i for i, (_k, _l, states) in enumerate(stages) if h.state in states), None)
    if h.state == State.CANCELLED:
        current = next((i for i, (_k, _l, states) in enumerate(stages) if cancelled_from in states), None)
    cells = []
    for i, (key, label, states) in enumerate(stages):
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
