"""The materials: the departing person hands each item over, its receiver confirms or disputes it."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy
from ..models import ChecklistItem, Handover, ItemStatus, State
from ..notify import notice_for_event
from .common import bump, lock_handover, log_event, require_state
from .errors import InvalidInput, NotAllowed, WrongState


@transaction.atomic
def item_hand_over(*, item: ChecklistItem, user: User, note: str = "", expected_version: int | None = None):
    h = lock_handover(item.handover_id, expected_version)
    if not policy.may_hand_over_items(h, user):
        raise NotAllowed(_("Only the departing salesperson hands items over."))
    require_state(h, State.MATERIALS)
    item = ChecklistItem.objects.get(pk=item.pk)
    if item.status not in (ItemStatus.PENDING, ItemStatus.DISPUTED):
        raise WrongState(_("This item has already been handed over."))
    item.status, item.handed_over_at, item.confirmed_at = ItemStatus.HANDED_OVER, timezone.now(), None
    item.save(update_fields=["status", "handed_over_at", "confirmed_at"])
    bump(h)
    log_event(h, actor=user, kind="item_handed_over", comment=note, item=item.title)
    return item


@transaction.atomic
def items_hand_over_all(*, handover: Handover, user: User, expected_version: int | None = None) -> int:
    h = lock_handover(handover, expected_version)
    if not policy.may_hand_over_items(h, user):
        raise NotAllowed(_("Only the departing salesperson hands items over."))
    require_state(h, State.MATERIALS)
    n = h.items.filter(status=ItemStatus.PENDING).update(status=ItemStatus.HANDED_OVER, handed_over_at=timezone.now())
    if n == 0:
        # Refused like confirm-all with nothing waiting: a no-op must not bump the version (which
        # makes every open page stale) nor write an empty event.
        raise InvalidInput(_("There is nothing left to hand over."))
    bump(h)
    log_event(h, actor=user, kind="items_handed_over", count=n)
    return n


def _receiver_item(h: Handover, item: ChecklistItem, user: User) -> ChecklistItem:
    item = ChecklistItem.objects.get(pk=item.pk)
    if not policy.may_answer_for_item(item, user):
        raise NotAllowed(_("Only this item's receiver may confirm or dispute it."))
    require_state(h, State.MATERIALS)
    if item.status != ItemStatus.HANDED_OVER:
        raise WrongState(_("Only an item that has been handed over can be confirmed or disputed."))
    return item


@transaction.atomic
def item_confirm(*, item: ChecklistItem, user: User, expected_version: int | None = None) -> ChecklistItem:
    h = lock_handover(item.handover_id, expected_version)
    item = _receiver_item(h, item, user)
    item.status, item.confirmed_at, item.dispute_reason = ItemStatus.CONFIRMED, timezone.now(), ""
    item.save(update_fields=["status", "confirmed_at", "dispute_reason"])
    bump(h)
    log_event(h, actor=user, kind="item_confirmed", item=item.title)
    return item


@transaction.atomic
def items_confirm_all(*, handover: Handover, user: User, expected_version: int | None = None) -> int:
    h = lock_handover(handover, expected_version)
    require_state(h, State.MATERIALS)
    n = h.items.filter(receiver=user, status=ItemStatus.HANDED_OVER).update(
        status=ItemStatus.CONFIRMED, confirmed_at=timezone.now(), dispute_reason=""
    )
    if n == 0:
        raise InvalidInput(_("There is nothing handed over to you waiting for confirmation."))
    bump(h)
    log_event(h, actor=user, kind="items_confirmed", count=n)
    return n


@transaction.atomic
def item_dispute(*, item: ChecklistItem, user: User, reason: str, expected_version: int | None = None):
    if not (reason or "").strip():
        raise InvalidInput(_("Please give the reason for the dispute."), field="reason")
    h = lock_handover(item.handover_id, expected_version)
    item = _receiver_item(h, item, user)
    item.status, item.dispute_reason, item.confirmed_at = ItemStatus.DISPUTED, reason.strip(), None
    item.save(update_fields=["status", "dispute_reason", "confirmed_at"])
    bump(h)
    event = log_event(h, actor=user, kind="item_disputed", comment=item.dispute_reason, item=item.title)
    notice_for_event(h, event_id=event.pk, kind="item_disputed", actor=user, comment=item.dispute_reason)
    return item
