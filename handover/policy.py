"""May this person do X: each answer once, asked by the models' transitions, the services, the
selectors, the views, the API and (through the views) the templates.

It reads only what it is handed (a handover, a client of it, a person) and imports no model of
this app: the @transition permissions in handover/models.py point at the party checks below, so
models import policy and policy sits beneath them. What must be true of the data before a step
(the conditions) lives with the models and signing; who must sign what, in signing.py.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext_lazy

from accounts.roles import Role

# ---------------------------------------------------------------------------------------
# The parties: who moves each transition. Each takes (handover, user) and only reads.


def _is(user, other_id) -> bool:
    return bool(user and user.is_authenticated and user.pk == other_id)


def is_departing(h, user) -> bool:
    return _is(user, h.departing_id)


def is_supervisor(h, user) -> bool:
    return _is(user, h.supervisor_id)


def is_witness(h, user) -> bool:
    return _is(user, h.witness_id)


def is_manager(h, user) -> bool:
    return _is(user, h.manager_id)


def is_hr(h, user) -> bool:
    return bool(user and user.is_authenticated and user.has_role(Role.HR))


def may_cancel(h, user) -> bool:
    # The departing person may hold the HR role in a small company; they still cannot cancel their own.
    return not is_departing(h, user) and (is_manager(h, user) or is_hr(h, user))


# ---------------------------------------------------------------------------------------
# Starting a handover


def may_register_departures(user) -> bool:
    """The HR system's way in (POST /api/hr/departures/): with the token of a person holding the HR role."""
    return bool(user and user.is_authenticated and user.is_active and user.has_role(Role.HR))


def may_start_for_anyone(user) -> bool:
    """HR (and a superuser) start anyone's handover; a supervisor only their own people's."""
    return bool(user.has_role(Role.HR) or user.is_superuser)


def may_start_handover(user, departing=None) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if may_start_for_anyone(user):
        return True
    if not user.has_role(Role.SUPERVISOR):
        return False
    if departing is None:
        return True
    return departing.supervisor_id == user.pk or (
        departing.department_id is not None and departing.department.head_id == user.pk
    )


def own_people(user) -> Q:
    """The queryset form of may_start_handover's last clause, on accounts.User: whom a supervisor
    (not HR) may start a handover for: the people they supervise or whose department they head."""
    return Q(supervisor=user) | Q(department__head=user)


# ---------------------------------------------------------------------------------------
# The work of each stage (the services also check the state)


def may_fill_plan(h, user) -> bool:
    return is_departing(h, user)


def may_set_receiver(h, user) -> bool:
    return is_departing(h, user) or user.pk == h.supervisor_id


def may_hand_over_items(h, user) -> bool:
    return is_departing(h, user)


def may_answer_for_item(item, user) -> bool:
    """Confirm or dispute a checklist item: its receiver."""
    return item.receiver_id == user.pk


def may_record_visit(h, hc, user) -> bool:
    """Record or confirm a joint visit to this client: the departing person and the client's receiver."""
    return user.pk in (h.departing_id, hc.receiver_id)


def may_record_call(h, user) -> bool:
    return user.pk == h.witness_id


def may_write_report(h, user) -> bool:
    return is_departing(h, user)


def may_drop_client(h, user) -> bool:
    """Take out of the handover a client that left the departing person's book: its supervisor."""
    return user.pk == h.supervisor_id


def may_revoke_access(h, user) -> bool:
    return user.has_role(Role.HR) and user.pk != h.departing_id


def may_end_cover(h, user) -> bool:
    """End a cover before its return date (提前结束代管): HR, never the absent person themselves.

    Only the permission: the service also refuses a handover that is no cover, not yet completed, or ended."""
    return bool(
        user and user.is_authenticated and user.is_active and user.has_role(Role.HR) and user.pk != h.departing_id
    )


def may_change_return_date(h, user) -> bool:
    """Move a cover's return date (extend it, or bring it forward): HR, as for ending it early."""
    return may_end_cover(h, user)


def may_evaluate(h, user) -> bool:
    """The handover's evaluation (交接评估) is its supervisor's, and theirs alone."""
    return is_supervisor(h, user)


# ---------------------------------------------------------------------------------------
# Its clients' data, prints and the archive

WITHHELD_MESSAGE = gettext_lazy(
    "This handover is completed: its clients belong to their receivers now, and their data is no longer open to you."
)


class ClientDataWithheld(PermissionDenied):
    """The handover is visible to this person, its clients' data no longer is (see may_read_client_data)."""

    def __init__(self, handover):
        super().__init__(str(WITHHELD_MESSAGE))
        self.handover = handover


def may_read_client_data(h, user) -> bool:
    """May this person, who sees the handover, read its clients' data (plan, items, visits, calls, report, prints)?

    At completion the clients move to their receivers and the departing person's access to
    them ends (for a transfer too, whose account lives on): from then on they keep only the
    handover's header (handover_summary), whatever other role they hold. A cancelled handover
    leaves the clients theirs, so they keep reading it. Everyone else who sees it reads it all.
    """
    return not (h.is_completed and getattr(user, "pk", None) == h.departing_id)


def require_client_data(h, user):
    if not may_read_client_data(h, user):
        raise ClientDataWithheld(h)
    return h


def may_download_plan(h, user, *, plan_open: bool) -> bool:
    """The plan as an Excel sheet: for whoever may print it, and for the departing person while the
    plan is open (plan_open: the handover is at its plan stage), to fill it in offline and upload it back.

    The sheet holds the plan's rows, not the client book; the download is logged like a print.
    """
    return may_print(h, user) or (plan_open and may_fill_plan(h, user))


def may_upload_plan(h, user) -> bool:
    """The departing person uploads the plan; the supervisor too, for its receivers only (the rows'
    service refuses any other change of theirs)."""
    return may_fill_plan(h, user) or may_set_receiver(h, user)


def may_print(h, user) -> bool:
    """The plan, materials and visits lists print for the people of the handover, never for the departing person.

    Client data is not exported by the departing salesperson, printed or otherwise (as for the client list).
    """
    return may_read_client_data(h, user) and getattr(user, "pk", None) != h.departing_id


def is_archivist(user) -> bool:
    """HR and the administrators list, download and archive the signed confirmations."""
    return bool(user.is_superuser or user.has_role(Role.HR) or user.has_role(Role.ADMIN))


def require_archivist(user) -> None:
    if not is_archivist(user):
        raise PermissionDenied


# ---------------------------------------------------------------------------------------
# The client notice (客户告知函)


def may_send_notice(h, hc, user) -> bool:
    """Send, print or mark sent a client's notice: the departing person (while the clients' data is
    theirs to read) and the supervisor for every client, a receiver for the clients they receive."""
    if not (user and user.is_authenticated) or not may_read_client_data(h, user):
        return False
    return user.pk in (h.departing_id, h.supervisor_id) or user.pk == hc.receiver_id


def may_send_notices(h, user, receiver_ids=()) -> bool:
    """May send the notice of some client of the handover (receiver_ids: its clients' receivers)."""
    if not (user and user.is_authenticated) or not may_read_client_data(h, user):
        return False
    return user.pk in (h.departing_id, h.supervisor_id) or user.pk in set(receiver_ids)
