"""The joint visits: the departing person and the receiver meet each client and both confirm it."""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy
from ..models import HandoverClient, State, Visit, VisitMode, check_visit_date
from .common import bump, bump_row, check_rule, lock_handover, lock_row, log_event, require_state
from .errors import InvalidInput, NotAllowed, WrongState


@transaction.atomic
def visit_record(
    *,
    handover_client: HandoverClient,
    user: User,
    visited_on: datetime.date,
    mode: str,
    contact_met: str,
    outcome: str,
    concerns: str = "",
    expected_version: int | None = None,
    expected_row_version: int | None = None,
) -> Visit:
    h = lock_handover(handover_client.handover_id, expected_version)
    hc = lock_row(h, handover_client, expected_row_version)
    if not policy.may_record_visit(h, hc, user):
        raise NotAllowed(_("Only the departing salesperson and this client's receiver record the visit."))
    require_state(h, State.VISITS)
    if mode not in VisitMode.values:
        raise InvalidInput(_("Choose how the client was met."), field="mode")
    check_rule(check_visit_date, visited_on, today=timezone.localdate())
    if not contact_met.strip() or not outcome.strip():
        raise InvalidInput(_("Record the contact met and the outcome of the visit."), field="outcome")
    now = timezone.now()
    visit = Visit.objects.create(
        handover_client=hc,
        visited_on=visited_on,
        mode=mode,
        contact_met=contact_met.strip(),
        outcome=outcome.strip(),
        concerns=concerns.strip(),
        recorded_by=user,
        # Whoever records it confirms it; the other party confirms separately.
        departing_confirmed_at=now if user.pk == h.departing_id else None,
        receiver_confirmed_at=now if user.pk == hc.receiver_id else None,
    )
    bump_row(hc)
    bump(h)
    log_event(h, actor=user, kind="visit_recorded", client=hc.client.name, mode=mode, visited_on=str(visited_on))
    return visit


@transaction.atomic
def visit_confirm(
    *, visit: Visit, user: User, expected_version: int | None = None, expected_row_version: int | None = None
) -> Visit:
    visit = Visit.objects.select_related("handover_client__client").get(pk=visit.pk)
    hc = visit.handover_client
    h = lock_handover(hc.handover_id, expected_version)
    hc = lock_row(h, hc, expected_row_version)
    require_state(h, State.VISITS)
    if visit.superseded:
        raise WrongState(_("This visit record has been superseded; record a new visit."))
    if user.pk == h.departing_id and visit.departing_confirmed_at is None:
        visit.departing_confirmed_at = timezone.now()
    elif user.pk == hc.receiver_id and visit.receiver_confirmed_at is None:
        visit.receiver_confirmed_at = timezone.now()
    else:
        raise NotAllowed(_("Only the other salesperson of this visit may confirm it."))
    visit.save(update_fields=["departing_confirmed_at", "receiver_confirmed_at"])
    bump_row(hc)
    bump(h)
    log_event(h, actor=user, kind="visit_confirmed", client=hc.client.name)
    return visit
