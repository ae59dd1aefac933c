"""What the editable grids of the handover page share: the input a person typed and had refused.

A grid re-rendered after a refusal shows every value as it was typed, the message on its row and,
on a row someone else changed meanwhile, that row as it is now beside the kept input.
"""

from dataclasses import dataclass, field

from clients.phones import tel_href  # noqa: F401 - the call list uses it


@dataclass(frozen=True)
class Typed:
    # By handover client: {field: value as typed}.
    values: dict[int, dict[str, str]] = field(default_factory=dict)
    # By handover client: {field or "__all__": message}.
    errors: dict[int, dict[str, str]] = field(default_factory=dict)
    conflicts: set[int] = field(default_factory=set)
    # The row versions the person loaded, kept for the rows without a conflict.
    row_versions: dict[int, int] = field(default_factory=dict)
    # The visits ticked for confirmation.
    selected: set[int] = field(default_factory=set)
    message: str = ""
