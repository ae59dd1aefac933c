"""The materials: the departing person hands each item over, its receiver confirms or disputes it,
and the departing person answers a dispute by handing the item over again with a reply."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy
from ..models import ChecklistItem, Handover, ItemStatus, State
from ..notify import notice_if_ready, notice_item_disputed, notice_items_waiting
from .common import bump, lock_handover, log_event, require_state
from .errors import InvalidInput, NotAllowed, WrongState


def _tell_receivers(h: Handover, event, user: User, items, comment: str = "") -> None:
    """One notice per receiver of the items this one action handed over."""
    waiting: dict[int, list[int]] = {}
    for receiver_id, pk in items:
        waiting.setdefault(receiver_id, []).append(pk)
    notice_items_waiting(h, event_id=event.pk, actor=user, items=waiting, comment=comment)


@transaction.atomic
def item_hand_over(*, item: ChecklistItem, user: User, note: str = "", expected_version: int | None = None):
    h = lock_handover(item.handover_id, expected_version)
    if not policy.may_hand_over_items(h, user):
        raise NotAllowed(_("Only the departing salesperson hands items over."))
    require_state(h, State.MATERIALS)
    item = ChecklistItem.objects.get(pk=item.pk)
    if item.status not in (ItemStatus.PENDING, ItemStatus.DISPUTED):
        raise WrongState(_("This item has already been handed over."))
    note = (note or "").strip()
    again = item.status == ItemStatus.DISPUTED
    item.status, item.handed_over_at, item.confirmed_at = ItemStatus.HANDED_OVER, timezone.now(), None
    fields = ["status", "handed_over_at", "confirmed_at"]
    if again and note:
        # Handed over again after a dispute: the note is the reply the receiver reads.
        item.dispute_reply = note
        fields.append("dispute_reply")
    item.save(update_fields=fields)
    bump(h)
    event = log_event(h, actor=user, kind="item_handed_over", comment=note, item=item.title)
    _tell_receivers(h, event, user, [(item.receiver_id, item.pk)], note)
    return item


@transaction.atomic
def items_hand_over_all(*, handover: Handover, user: User, expected_version: int | None = None) -> int:
    h = lock_handover(handover, expected_version)
    if not policy.may_hand_over_items(h, user):
        raise NotAllowed(_("Only the departing salesperson hands items over."))
    require_state(h, State.MATERIALS)
    pending = h.items.filter(status=ItemStatus.PENDING)
    handed = list(pending.values_list("receiver_id", "pk"))
    n = pending.update(status=ItemStatus.HANDED_OVER, handed_over_at=timezone.now())
    if n == 0:
        # Refused like confirm-all with nothing waiting: a no-op must not bump the version (which
        # makes every open page stale) nor write an empty event.
        raise InvalidInput(_("There is nothing left to hand over."))
    bump(h)
    event = log_event(h, actor=user, kind="items_handed_over", count=n)
    _tell_receivers(h, event, user, handed)
    return n


@transaction.atomic
def item_answer_dispute(
    *, item: ChecklistItem, user: User, reply: str, expected_version: int | None = None
) -> ChecklistItem:
    """The departing person answers a disputed item: the reply is kept on the item for its
    receiver to read, and the item is handed over to them again."""
    reply = (reply or "").strip()
    h = lock_handover(item.handover_id, expected_version)
    if not policy.may_hand_over_items(h, user):
        raise NotAllowed(_("Only the departing salesperson answers a dispute."))
    require_state(h, State.MATERIALS)
    item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
    if item.status != ItemStatus.DISPUTED:
        raise WrongState(_("This item is not disputed (any more): there is nothing to answer. Please reload the page."))
    if not reply:
        raise InvalidInput(_("Write your reply to the dispute; the receiver reads it."), field="reply")
    try:
        ChecklistItem._meta.get_field("dispute_reply").clean(reply, item)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], field="reply") from exc
    item.status, item.dispute_reply = ItemStatus.HANDED_OVER, reply
    item.handed_over_at, item.confirmed_at = timezone.now(), None
    item.save(update_fields=["status", "dispute_reply", "handed_over_at", "confirmed_at"])
    bump(h)
    event = log_event(h, actor=user, kind="item_dispute_answered", comment=reply, item=item.title)
    _tell_receivers(h, event, user, [(item.receiver_id, item.pk)], reply)
    return item


def _receiver_item(h: Handover, item: ChecklistItem, user: User) -> ChecklistItem:
    item = ChecklistItem.objects.get(pk=item.pk)
    if not policy.may_answer_for_item(item, user):
        raise NotAllowed(_("Only this item's receiver may confirm or dispute it."))
    require_state(h, State.MATERIALS)
    if item.status != ItemStatus.HANDED_OVER:
        raise WrongState(_("Only an item that has been handed over can be confirmed or disputed."))
    return item


# Confirming clears the dispute and its answer: the item is as its receiver accepts it.
_CONFIRMED = {"status": ItemStatus.CONFIRMED, "dispute_reason": "", "dispute_reply": ""}


@transaction.atomic
def item_confirm(*, item: ChecklistItem, user: User, expected_version: int | None = None) -> ChecklistItem:
    h = lock_handover(item.handover_id, expected_version)
    item = _receiver_item(h, item, user)
    for name, value in {**_CONFIRMED, "confirmed_at": timezone.now()}.items():
        setattr(item, name, value)
    item.save(update_fields=[*_CONFIRMED, "confirmed_at"])
    bump(h)
    event = log_event(h, actor=user, kind="item_confirmed", item=item.title)
    notice_if_ready(h, event_id=event.pk, actor=user)
    return item


@transaction.atomic
def items_confirm_all(*, handover: Handover, user: User, expected_version: int | None = None) -> int:
    h = lock_handover(handover, expected_version)
    require_state(h, State.MATERIALS)
    if not h.items.filter(receiver=user).exists():
        # Someone who receives nothing here is refused (403), not told their input was wrong.
        raise NotAllowed(_("Only an item's receiver may confirm it; no item of this handover is handed over to you."))
    n = h.items.filter(receiver=user, status=ItemStatus.HANDED_OVER).update(**_CONFIRMED, confirmed_at=timezone.now())
    if n == 0:
        raise InvalidInput(_("There is nothing handed over to you waiting for confirmation."))
    bump(h)
    event = log_event(h, actor=user, kind="items_confirmed", count=n)
    notice_if_ready(h, event_id=event.pk, actor=user)
    return n


@transaction.atomic
def items_confirm(*, handover: Handover, user: User, item_ids: list[int], expected_version: int | None = None) -> int:
    """The receiver confirms the items they selected, all or none: every one must be theirs and
    handed over to them now."""
    wanted = sorted({int(pk) for pk in item_ids or ()})
    if not wanted:
        raise InvalidInput(_("Select the items to confirm."), field="items")
    h = lock_handover(handover, expected_version)
    require_state(h, State.MATERIALS)
    items = list(ChecklistItem.objects.select_for_update().filter(handover=h, pk__in=wanted).order_by("order", "pk"))
    if len(items) != len(wanted):
        raise InvalidInput(
            _("Some of the selected items are not in this handover. Please reload the page."), field="items"
        )
    others = [i for i in items if not policy.may_answer_for_item(i, user)]
    if others:
        raise NotAllowed(
            _("Only an item's receiver may confirm it; not yours: %(items)s.") % {"items": _titles(others)},
        )
    not_waiting = [i for i in items if i.status != ItemStatus.HANDED_OVER]
    if not_waiting:
        raise WrongState(
            _("Nothing was confirmed: these items are not waiting for your confirmation (any more): %(items)s.")
            % {"items": _titles(not_waiting)},
        )
    n = ChecklistItem.objects.filter(pk__in=wanted).update(**_CONFIRMED, confirmed_at=timezone.now())
    bump(h)
    event = log_event(h, actor=user, kind="items_confirmed", count=n)
    notice_if_ready(h, event_id=event.pk, actor=user)
    return n


def _titles(items: list[ChecklistItem], limit: int = 3) -> str:
    names = "、".join(i.title for i in items[:limit])
    return names + ("…" if len(items) > limit else "")


@transaction.atomic
def item_dispute(*, item: ChecklistItem, user: User, reason: str, expected_version: int | None = None):
    if not (reason or "").strip():
        raise InvalidInput(_("Please give the reason for the dispute."), field="reason")
    h = lock_handover(item.handover_id, expected_version)
    item = _receiver_item(h, item, user)
    item.status, item.dispute_reason, item.confirmed_at = ItemStatus.DISPUTED, reason.strip(), None
    # A new dispute: the answer to an earlier one no longer applies.
    item.dispute_reply = ""
    item.save(update_fields=["status", "dispute_reason", "dispute_reply", "confirmed_at"])
    bump(h)
    event = log_event(
        h, actor=user, kind="item_disputed", comment=item.dispute_reason, item=item.title, item_id=item.pk
    )
    notice_item_disputed(h, event_id=event.pk, actor=user, item=item, comment=item.dispute_reason)
    return item
