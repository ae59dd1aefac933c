"""The plan: the departing person's notes per client, who receives each client, and taking out a
client that has left the departing person's book."""

import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy, selectors
from ..models import (
    OPEN_STATES,
    Event,
    HandoverClient,
    ItemStatus,
    Report,
    State,
    check_planned_visit,
)
from .common import bump, check_receiver, check_rule, lock_handover, log_event, require_state
from .errors import InvalidInput, NotAllowed, WrongState


@transaction.atomic
def handover_client_update_plan(
    *,
    handover_client: HandoverClient,
    user: User,
    current_status: str,
    risks: str,
    next_steps: str,
    planned_visit_on: datetime.date | None,
    expected_version: int | None = None,
) -> HandoverClient:
    h = lock_handover(handover_client.handover_id, expected_version)
    if not policy.may_fill_plan(h, user):
        raise NotAllowed(_("Only the departing salesperson fills in the plan."))
    require_state(h, State.PLAN)
    if planned_visit_on:
        check_rule(check_planned_visit, h, planned_visit_on)
    hc = HandoverClient.objects.get(pk=handover_client.pk)
    hc.current_status, hc.risks, hc.next_steps, hc.planned_visit_on = (
        current_status,
        risks,
        next_steps,
        planned_visit_on,
    )
    hc.save(update_fields=["current_status", "risks", "next_steps", "planned_visit_on"])
    bump(h)
    log_event(h, actor=user, kind="plan_updated", client=hc.client.name)
    return hc


@transaction.atomic
def handover_client_set_receiver(
    *, handover_client: HandoverClient, user: User, receiver: User, expected_version: int | None = None
) -> HandoverClient:
    h = lock_handover(handover_client.handover_id, expected_version)
    if not policy.may_set_receiver(h, user):
        raise NotAllowed(_("Only the departing salesperson or the supervisor may change who receives a client."))
    require_state(h, State.PLAN)
    check_receiver(receiver, departing=h.departing, h_parties=[h.supervisor, h.manager, h.witness])
    hc = HandoverClient.objects.select_related("receiver", "client").get(pk=handover_client.pk)
    previous = hc.receiver
    hc.receiver = receiver
    hc.save(update_fields=["receiver"])
    hc.items.update(receiver=receiver, status=ItemStatus.PENDING, handed_over_at=None, confirmed_at=None)
    bump(h)
    log_event(
        h,
        actor=user,
        kind="receiver_changed",
        client=hc.client.name,
        from_receiver=str(previous),
        to_receiver=str(receiver),
    )
    return hc


@transaction.atomic
def handover_client_drop(
    *, handover_client: HandoverClient, user: User, reason: str, expected_version: int | None = None
) -> Event:
    """The supervisor takes out of the handover a client the departing person no longer owns.

    Completion moves only what the departing person still owns, so such a client would stop it.
    The client leaves with its items, visits and calls (each of those records is about handing it
    over, which no longer happens); the timeline keeps the client, what was removed and why.
    Signatures over the checklist no longer match and are given again.
    """
    h = lock_handover(handover_client.handover_id, expected_version)
    if not policy.may_drop_client(h, user):
        raise NotAllowed(_("Only the supervisor of this handover may remove a client from it."))
    require_state(h, *OPEN_STATES)
    hc = HandoverClient.objects.select_related("client__owner", "receiver").filter(pk=handover_client.pk).first()
    if hc is None or hc.handover_id != h.pk:
        raise WrongState(_("This client is no longer in this handover. Please reload the page."))
    client = hc.client
    if client.owner_id == h.departing_id:
        raise InvalidInput(
            _(
                "%(client)s still belongs to %(departing)s and is handed over with the others; only a client "
                "that has left the departing salesperson's book can be removed."
            )
            % {"client": client.name, "departing": h.departing}
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            _("Please give the reason for removing this client; it stays on the timeline."), field="reason"
        )
    removed = {
        "items_removed": hc.items.count(),
        "visits_removed": hc.visits.count(),
        "calls_removed": hc.phone_checks.count(),
    }
    hc.delete()
    if h.state in (State.REPORT_REVIEW, State.REPORT_APPROVAL):
        # The submitted figures counted this client; the report signed from here on must not.
        Report.objects.filter(handover=h).update(figures=selectors.report_figures(h))
    bump(h)
    return log_event(
        h,
        actor=user,
        kind="client_dropped",
        comment=reason,
        client=client.name,
        credit_code=client.credit_code,
        owner=str(client.owner),
        receiver=str(hc.receiver),
        in_sample=hc.in_sample,
        **removed,
    )
