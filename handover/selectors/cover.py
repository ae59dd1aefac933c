"""What a cover (代管) lets the absent person see of their clients, and whether they may export.

Registered with clients.hooks in HandoverConfig.ready(): clients_visible_to ORs the grant in, and
the export asks the lock. Edits need the client's owner (clients.followups.may_record_follow_up,
clients.status.may_change_client_status), so the grant reads and never writes.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from ..models import COVER_REASONS, CoverAccess, CoverPolicy, Handover, HandoverClient, State


def active_covers_of(user) -> QuerySet[Handover]:
    """The covers of this absent person under way: completed, neither ended nor refused."""
    return Handover.objects.filter(
        departing=user,
        reason__in=COVER_REASONS,
        state=State.COMPLETED,
        cover_ended_at__isnull=True,
        cover_refused_at__isnull=True,
    )


def clients_covered_for(user) -> Q:
    """A condition on clients.Client: the clients of this person's active cover that its cover person
    still holds, when the company's CoverPolicy lets the absent person read them (default: nothing).

    The policy is read in the same query (no row, or "none": nothing), so the grant adds no query
    to the client list."""
    if not getattr(user, "pk", None):
        return Q(pk__in=[])
    covered = HandoverClient.objects.filter(
        client=OuterRef("pk"),
        receiver=OuterRef("owner"),
        handover__in=active_covers_of(user),
    )
    readable = CoverPolicy.objects.filter(absent_access=CoverAccess.READ)
    return Q(Exists(covered)) & Q(Exists(readable))


def absent_in_cover(user) -> bool:
    """During their cover the absent person exports no client (the export lock of clients.hooks)."""
    return bool(getattr(user, "pk", None)) and active_covers_of(user).exists()
