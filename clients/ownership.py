"""May a client change hands now, and may this person be given clients now?

Every path that changes a client's owner outside a handover (the client-book import, the admin)
asks owner_change_refusals() first and refuses what it answers, with the reason. The reasons
themselves belong to other apps: a client inside an open handover moves only at its completion,
and someone who is leaving receives nothing more. Those apps register a guard when they start
(handover does in its AppConfig.ready()), so this app asks without importing them.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import User
from notifications.models import WebhookEventType
from notifications.webhooks import person_data, webhook_emit_all

from .models import Client, OwnershipChange


@dataclass
class OwnershipRefusals:
    # client id -> why that client may not change hands now
    clients: dict[int, str] = field(default_factory=dict)
    # user id -> why that person may not be given clients now
    owners: dict[int, str] = field(default_factory=dict)

    def merge(self, other: "OwnershipRefusals") -> None:
        for client_id, message in other.clients.items():
            self.clients.setdefault(client_id, message)
        for owner_id, message in other.owners.items():
            self.owners.setdefault(owner_id, message)

    def for_change(self, *, client_id: int | None, new_owner_id: int) -> list[str]:
        """The reasons against giving this client (None: a new one) to this owner."""
        reasons = [self.clients[client_id]] if client_id in self.clients else []
        if new_owner_id in self.owners:
            reasons.append(self.owners[new_owner_id])
        return reasons


# guard(client_ids=..., owner_ids=...) -> OwnershipRefusals, in a fixed number of queries.
OwnerGuard = Callable[..., OwnershipRefusals]

_guards: list[OwnerGuard] = []


def register_owner_guard(guard: OwnerGuard) -> None:
    if guard not in _guards:
        _guards.append(guard)


def owner_change_refusals(*, client_ids: Collection[int], owner_ids: Collection[int]) -> OwnershipRefusals:
    """What every registered guard refuses among these clients changing hands and these new owners."""
    client_ids, owner_ids = set(client_ids) - {None}, set(owner_ids) - {None}
    refusals = OwnershipRefusals()
    if not client_ids and not owner_ids:
        return refusals
    _hold_people(client_ids, owner_ids)
    for guard in _guards:
        refusals.merge(guard(client_ids=client_ids, owner_ids=owner_ids))
    return refusals


def _hold_people(client_ids: set[int], owner_ids: set[int]) -> None:
    """Inside the caller's transaction, lock the people on both sides of the changes until it ends.

    A handover started for one of them at the same moment (it locks its departing person) then
    either waits for the change and carries the client, or goes first and the guards see it.
    """
    if not transaction.get_connection().in_atomic_block:
        return
    people = set(owner_ids)
    ids = sorted(client_ids)
    for start in range(0, len(ids), 500):
        people |= set(Client.objects.filter(pk__in=ids[start : start + 500]).values_list("owner_id", flat=True))
    lock_people(people)


def lock_people(user_ids) -> None:
    """Lock these people's rows until the caller's transaction ends.

    In one order everywhere (by id): the owner changes here and the handover's start and receiver
    changes all take their people this way, so two such transactions never wait for each other in
    a circle.
    """
    ids = sorted(set(user_ids) - {None})
    list(User.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def owner_change_refusal(*, client_id: int | None, new_owner_id: int) -> list[str]:
    """The reasons against one change: an existing client (or None, a new one) given to new_owner_id."""
    refusals = owner_change_refusals(client_ids=[client_id] if client_id else [], owner_ids=[new_owner_id])
    return refusals.for_change(client_id=client_id, new_owner_id=new_owner_id)


def ownership_changes_record(changes: list[OwnershipChange], *, batch_size: int | None = None) -> list[OwnershipChange]:
    """Write the rows of clients changing hands, and tell the subscribed systems (client.owner_changed),
    in the caller's transaction: every change of hands goes through here (the import, the admin,
    the completion of a handover)."""
    rows = OwnershipChange.objects.bulk_create(changes, batch_size=batch_size)
    webhook_emit_all(WebhookEventType.CLIENT_OWNER_CHANGED, lambda: _owner_change_events(rows))
    return rows


def _owner_change_events(rows: list[OwnershipChange]) -> list[tuple[dict, None]]:
    clients = Client.objects.in_bulk({r.client_id for r in rows})
    people = {
        u.pk: u
        for u in User.objects.filter(
            pk__in={r.to_owner_id for r in rows} | {r.from_owner_id for r in rows if r.from_owner_id}
        )
    }

    def person(pk):
        return person_data(people.get(pk))

    return [
        (
            {
                "client": {
                    "id": r.client_id,
                    "name": clients[r.client_id].name,
                    "credit_code": clients[r.client_id].credit_code,
                },
                "from_owner": person(r.from_owner_id),
                "to_owner": person(r.to_owner_id),
                "reason": r.reason,
                "changed_at": r.changed_at,
            },
            None,
        )
        for r in rows
    ]
