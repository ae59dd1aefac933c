"""Running one transition of the procedure, and what follows it by the flow spec's `after`."""

from django.db import transaction
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accounts.models import User

from .. import flow, selectors, signing
from ..models import TRANSITIONS, Handover, State, approver_signed
from ..notify import notice_for_event
from ..reminders import duties_create
from .archive import queue_archive_after_commit
from .client_notices import after_transition as prepare_client_notices
from .common import bump, lock_handover, log_event
from .completion import transfer_ownership
from .errors import InvalidInput, NotAllowed, WrongState
from .invitations import invitations_sync
from .report import draft_report, fill_report_figures
from .signatures import SignatureInput, make_signature
from .spot_check import draw_sample_once, supersede_unaware


def _condition_message(h: Handover, name: str) -> str:
    return flow.unmet_message(name, signing.Facts(h))


@transaction.atomic
def handover_transition(
    *,
    handover: Handover | int,
    name: str,
    user: User,
    comment: str = "",
    expected_version: int | None = None,
    signature: SignatureInput | None = None,
) -> Handover:
    """Run one transition. An approval (the flow spec's `signature`) needs the approver's signature,
    given here and stored in the same transaction: no approval without it, no signature without
    the approval."""
    if name not in TRANSITIONS:
        raise InvalidInput(_("Unknown step “%(name)s”.") % {"name": name})
    h = lock_handover(handover, expected_version)
    method = getattr(h, name)
    if not can_proceed(method, check_conditions=False):
        raise WrongState(
            _("This cannot be done while the handover is at “%(state)s”. Please reload the page.")
            % {"state": h.get_state_display()}
        )
    # Who may act is asked apart from the conditions, so the refused person hears "not yours",
    # and the right person hears what is missing.
    if not method._django_fsm.has_transition_perm(h, h.state, user):
        raise NotAllowed(_("You may not do this step of this handover."))
    if not selectors.conditions_met(h, name, skip={approver_signed}):
        raise InvalidInput(_condition_message(h, name))
    spec = flow.TRANSITIONS[name]
    comment = (comment or "").strip()
    if spec.reason and not comment:
        raise InvalidInput(_("Please give a reason; the person who must act next will read it."), field="comment")
    signed = None
    if spec.signature:
        signed = make_signature(h, user=user, purpose=spec.signature, signature=signature)
    if not can_proceed(method):
        raise InvalidInput(_condition_message(h, name))

    from_state = h.state
    if spec.reason:
        method(reason=comment)
    else:
        method()
    for hook in spec.after:
        AFTER_TRANSITION[hook](h, user)
    if h.state != from_state:
        for hook in flow.STATES[h.state].entered:
            AFTER_TRANSITION[hook](h, user)
    # The client notices wait for a stage the company chooses (ClientNoticeTemplate.prepare_at).
    prepare_client_notices(h, user)

    bump(h)
    extra = {"signature": signed.pk, "sha256": signed.content_sha256} if signed else {}
    event = log_event(
        h, actor=user, kind="transition", from_state=from_state, to_state=h.state, comment=comment, name=name, **extra
    )
    notice_for_event(h, event_id=event.pk, kind=name, actor=user, comment=comment)
    if h.state == State.CANCELLED:
        invitations_sync(h)  # every visit off the calendars
    return h


def _figures_without_report(h: Handover, user: User) -> None:
    """A handover that goes through no report of its own has its figures fixed as the final approval is reached."""
    if not h.goes_through(flow.Part.REPORT):
        fill_report_figures(h, user)


# What follows a transition, by the names the flow spec gives in its `after` and its states'
# `entered`; each stage's module provides its own.
AFTER_TRANSITION = {
    "draw_sample": lambda h, user: draw_sample_once(h),
    "supersede_unaware": supersede_unaware,
    "fill_report_figures": fill_report_figures,
    "draft_report": draft_report,
    "transfer_ownership": transfer_ownership,
    "create_duties": lambda h, user: duties_create(h),
    "queue_archive": queue_archive_after_commit,
    "figures_without_report": _figures_without_report,
}
