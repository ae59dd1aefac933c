"""Departures registered by the HR system: a handover started with the company's defaults.

The HR system sends the person's employee number, the kind of departure, the notice date and the
last working day (and, for a leave or a temporary transfer, the return date: a cover), and may name
the receivers by employee number. Everything else comes from the
book: the person's direct supervisor, and the witness, the manager in charge and (when the HR
system names no receiver) the receiver set for the person's department in the admin. The handover
is started by handover_start, with every check a person starting one on the page meets.

The HR system's own id makes a sending idempotent: sent again, the same departure is answered with
the handover it started; the same id with other content is refused (409).
"""

import datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy
from ..models import HrDeparture
from .errors import Conflict, InvalidInput, NotAllowed
from .start import handover_start


def _person(employee_no: str, *, field: str) -> User:
    person = User.objects.select_related("department", "supervisor").filter(employee_no=employee_no).first()
    if person is None:
        raise InvalidInput(_("No employee has the employee number %(no)s.") % {"no": employee_no}, field=field)
    return person


def _existing(external_id: str, request: dict) -> HrDeparture | None:
    existing = HrDeparture.objects.select_related("handover").filter(external_id=external_id).first()
    if existing is not None and not existing.same_request(**request):
        raise Conflict(
            _("The HR system id %(id)s was registered already, for another departure.") % {"id": external_id}
        )
    return existing


def hr_departure_register(
    *,
    by: User,
    external_id: str,
    employee_no: str,
    kind: str,
    notice_date: datetime.date,
    last_working_day: datetime.date,
    receiver_employee_nos: list[str] | tuple[str, ...] = (),
    returns_on: datetime.date | None = None,
) -> tuple[HrDeparture, bool]:
    """Start the handover of a departure the HR system registers. (the departure, whether it is new)."""
    if not policy.may_register_departures(by):
        raise NotAllowed(_("Only HR may register departures."))
    receiver_employee_nos = list(dict.fromkeys(receiver_employee_nos))
    request = {
        "employee_no": employee_no,
        "kind": kind,
        "notice_date": notice_date,
        "last_working_day": last_working_day,
        "receiver_employee_nos": receiver_employee_nos,
        "returns_on": returns_on,
    }
    existing = _existing(external_id, request)
    if existing is not None:
        return existing, False
    departing = _person(employee_no, field="employee_no")
    department = departing.department
    if department is None:
        raise InvalidInput(
            _("%(name)s belongs to no department, so the handover has no default witness or manager.")
            % {"name": departing},
            field="employee_no",
        )
    receivers = [_person(no, field="receiver_employee_nos") for no in receiver_employee_nos]
    if not receivers:
        if department.default_receiver is None:
            raise InvalidInput(
                _("Name the receivers: the department %(department)s has no default receiver.")
                % {"department": department},
                field="receiver_employee_nos",
            )
        receivers = [department.default_receiver]
    defaults = ((department.default_witness, _("witness")), (department.default_manager, _("manager in charge")))
    for person, label in defaults:
        if person is None:
            raise InvalidInput(
                _("The department %(department)s has no default %(role)s; set it in the administration.")
                % {"department": department, "role": label},
                field="employee_no",
            )
    try:
        with transaction.atomic():
            h = handover_start(
                started_by=by,
                departing=departing,
                receiver=receivers[0],
                receivers=receivers[1:],
                witness=department.default_witness,
                manager=department.default_manager,
                reason=kind,
                notice_date=notice_date,
                last_working_day=last_working_day,
                returns_on=returns_on,
            )
            departure = HrDeparture.objects.create(external_id=external_id, handover=h, registered_by=by, **request)
    except IntegrityError:
        # The same departure, sent twice at once: the other sending started it.
        existing = _existing(external_id, request)
        if existing is None:
            raise
        return existing, False
    return departure, True
