"""What the procedure tells the company's other systems (notifications.webhooks), from its events.

Every change of a handover leaves an Event row (common.log_event); the ones other systems hear of
are chosen here, once: a start, each transition (and the completion), a disputed item. The clients
changing hands at completion are told by clients.ownership, like every other change of hands.
"""

from notifications.models import WebhookEventType
from notifications.webhooks import person_data, webhook_emit

from ..models import Event, Handover, State


def handover_data(h: Handover) -> dict:
    return {
        "id": h.pk,
        "number": h.number,
        "state": h.state,
        "reason": h.reason,
        "departing": person_data(h.departing),
        "notice_date": h.notice_date,
        "last_working_day": h.last_working_day,
    }


def webhooks_for_event(h: Handover, event: Event) -> None:
    """Tell the subscribed systems of this event of the handover, in its transaction. The data is
    gathered only when a subscription asks for the event (a query or two, otherwise spared)."""
    actor = lambda: person_data(event.actor)  # noqa: E731 - read only if told
    if event.kind == "started":
        webhook_emit(WebhookEventType.HANDOVER_STARTED, lambda: {"handover": handover_data(h), "actor": actor()})
    elif event.kind == "transition":
        webhook_emit(
            WebhookEventType.STAGE_CHANGED,
            lambda: {
                "handover": handover_data(h),
                "transition": event.data.get("name", ""),
                "from_state": event.from_state,
                "to_state": event.to_state,
                "comment": event.comment,
                "actor": actor(),
            },
        )
        if event.to_state == State.COMPLETED:
            webhook_emit(
                WebhookEventType.HANDOVER_COMPLETED,
                lambda: {"handover": handover_data(h), "clients": h.clients.count(), "actor": actor()},
            )
    elif event.kind == "item_disputed":
        webhook_emit(
            WebhookEventType.ITEM_DISPUTED,
            lambda: {
                "handover": handover_data(h),
                "item": {"id": event.data.get("item_id"), "title": event.data.get("item", "")},
                "reason": event.comment,
                "actor": actor(),
            },
        )
