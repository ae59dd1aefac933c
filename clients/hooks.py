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
# listener(follow_up) -> how many things the follow-up closed (handover: the duties it proves);
# called inside the transaction that saves the follow-up.
FollowUpListener = Callable[..., int]

_visibility_grants: list[VisibilityGrant] = []
_export_locks: list[ExportLock] = []
_follow_up_listeners: list[FollowUpListener] = []


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


def register_follow_up_listener(listener: FollowUpListener) -> None:
    if listener not in _follow_up_listeners:
        _follow_up_listeners.append(listener)


def follow_up_recorded(follow_up) -> int:
    """Tell the other apps of a new follow-up, in its transaction; the number of things it closed."""
    return sum(listener(follow_up) or 0 for listener in _follow_up_listeners)


# section(client, user) -> HTML of a section of the client's page ("" for none): what other apps
# know of the client (handover: the client's answers to its satisfaction surveys).
ClientSection = Callable[..., str]
_client_sections: list[ClientSection] = []


def register_client_section(section: ClientSection) -> None:
    if section not in _client_sections:
        _client_sections.append(section)


def client_sections(client, user) -> list[str]:
    return [html for html in (section(client, user) for section in _client_sections) if html]
