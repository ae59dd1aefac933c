"""The services' refusals. Each carries a message for a person; the API maps them to 400/403/404/409."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class HandoverError(Exception):
    status = 400

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = str(message)
        self.field = field


class InvalidInput(HandoverError):
    status = 400


class CapExceeded(InvalidInput):
    """A receiver would hold more clients than their cap (accounts.User.effective_client_cap)."""

    code = "over_cap"


class NotAllowed(HandoverError, PermissionDenied):
    status = 403


class WrongState(HandoverError):
    status = 409


class Conflict(HandoverError):
    status = 409


def changed_meanwhile() -> Conflict:
    return Conflict(_("This handover was changed by someone else in the meantime. Please reload the page."))


class RowErrors(HandoverError):
    """Several rows refused together (a grid save, an uploaded sheet): nothing was written.

    `rows` maps each refused row's key (the handover client's id) to {field: message}; the field
    "__all__" holds what is about the row as a whole. `conflicts` names the rows someone else
    changed since the person loaded them: their input is kept, and the page offers to reload just
    that row. `refused` names the rows refused for who is asking (a change that is not theirs to
    make): when every refused row is one, the whole is a refusal (403), not invalid input.
    """

    status = 400

    def __init__(
        self,
        rows: dict[int, dict[str, str]],
        *,
        conflicts: set[int] | None = None,
        refused: set[int] | None = None,
        labels=None,
    ):
        self.rows = rows
        self.conflicts = set(conflicts or ())
        self.refused = set(refused or ())
        self.labels = dict(labels or {})
        if self.conflicts and len(self.conflicts) == len(rows):
            self.status = 409
        elif self.refused and len(self.refused) == len(rows):
            self.status = 403
        n = len(rows)
        super().__init__(
            _("Nothing was saved: %(n)s row needs attention; the message is on the row.") % {"n": n}
            if n == 1
            else _("Nothing was saved: %(n)s rows need attention; each message is on its row.") % {"n": n}
        )


def row_changed_meanwhile() -> Conflict:
    return Conflict(
        _("Someone else changed this client in the meantime. Your input is kept; reload the row to see theirs."),
        field="row_version",
    )


class SheetErrors(HandoverError):
    """An uploaded sheet (the plan, the visit record) was refused: nothing was written. `errors`
    lists every problem by row and column (clients.importer's ImportRowError); `conflicts` counts
    the rows someone else changed since the sheet was downloaded (409 when they are all there is)."""

    status = 400

    def __init__(self, errors: list, *, conflicts: int = 0, conflict: bool = False):
        self.errors = errors
        self.conflicts = conflicts
        if conflict or (conflicts and conflicts == len(errors)):
            self.status = 409
        n = len(errors)
        super().__init__(
            ngettext(
                "The file has %(n)d error; nothing was saved. Correct the file and upload it again.",
                "The file has %(n)d errors; nothing was saved. Correct the file and upload it again.",
                n,
            )
            % {"n": n}
        )
