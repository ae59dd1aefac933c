"""What other apps add to the client book's rules, without this app importing them.

The reasons belong to the handover procedure: during a handover its receivers and witness see
the clients they visit and phone, and the departing person exports nothing once it has started.
handover registers these hooks in its AppConfig.ready(), as it does clients.ownership's owner
guard, so clients asks without importing handover.
"""

from collections.abc import Callable

from django.db.models import Q

# grant(user) -> a condition on Client, OR-ed into what that person sees.
VisibilityGrant = Callable[..., Q]
# lock(user) -> True when that person may no longer export clients.
ExportLock = Callable[..., bool]

_visibility_grants: list[VisibilityGrant] = []
_export_locks: list[ExportLock] = []


def register_visibility_grant(grant: VisibilityGrant) -> None:
    if grant not in _visibility_grants:
        _visibility_grants.append(grant)


def register_export_lock(lock: ExportLock) -> None:
    if lock not in _export_locks:
        _export_locks.append(lock)


def visibility_grants(user) -> list[Q]:
    return [grant(user) for grant in _visibility_grants]


def export_locked(user) -> bool:
    return any(lock(user) for lock in _export_locks)
