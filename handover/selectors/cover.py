"""What a cover (代管) lets the absent person see of their clients, and whether they may export.

Registered with clients.hooks in HandoverConfig.ready(): clients_visible_to adds the grant's clients,
and the export asks the lock. Edits need the client's owner (clients.followups.may_record_follow_up,
clients.status.may_change_client_status), so the grant reads and never writes.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from ..models import COVER_REASONS, CoverAccess, CoverPolicy, Handover, HandoverClient, State
from .visibility import seen_in_open_handovers


def active_covers_of(user) -> QuerySet[Handover]:
    """The covers of this absent person under way: completed, neither ended nor refused."""
    return Handover.objects.filter(
        departing=user,
        reason__in=COVER_REASONS,
        state=State.COMPLETED,
        cover_ended_at__isnull=True,
        cover_refused_at__isnull=True,
    )


def covered_for(user) -> Q:
    """A condition on HandoverClient (inside a subquery on clients.Client): the entries of this person's
    active covers whose client the cover person still holds, when the company's CoverPolicy lets the
    absent person read them (default: nothing). The policy is read in the same query (no row, or
    "none": nothing), so the grant adds no query to the client list."""
    return (
        Q(handover__in=active_covers_of(user))
        & Q(receiver=OuterRef("owner"))
        & Q(Exists(CoverPolicy.objects.filter(absent_access=CoverAccess.READ)))
    )


def clients_granted(user) -> Exists:
    """The procedure's grant of clients beyond one's book, registered with clients.hooks: those of open
    handovers one receives or witnesses (visibility.seen_in_open_handovers), and, during a cover, the
    covered clients (covered_for). One EXISTS over the handovers' clients, so the database looks the
    few granted clients up from there (a semi-join) rather than testing an OR on every client."""
    if not getattr(user, "pk", None):
        return Exists(HandoverClient.objects.none())
    entries = HandoverClient.objects.filter(client=OuterRef("pk"))
    return Exists(entries.filter(seen_in_open_handovers(user) | covered_for(user)))


def absent_in_cover(user) -> bool:
    """During their cover the absent person exports no client (the export lock of clients.hooks)."""
    return bool(getattr(user, "pk", None)) and active_covers_of(user).exists()
