"""The rows the handover page reads, each once, shared by its sections.

The sections build from these lists in memory, so the page costs the same number of queries
for five clients or five hundred. A signature covers these same rows (signing.ITEM_FIELDS).
"""

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from accounts.models import User

from ... import signing
from ...models import Handover, HandoverClient, PhoneCheck, Signature, Visit
from ..visibility import handovers_visible_to, with_current_due

PEOPLE = ["departing", "receiver", "supervisor", "witness", "manager", "started_by"]
# The same fields a signature covers, so the page checks signatures on the rows it shows.
ITEM_FIELDS = signing.ITEM_FIELDS
EVENT_FIELDS = ["kind", "at", "actor_id", "from_state", "to_state", "comment", "data"]


def page_queryset(user) -> QuerySet[Handover]:
    # Visits, calls, items and events are read apart (see page_rows). The clients are
    # prefetched as handover.clients because plan_gaps(), a transition condition, reads that;
    # nothing else is prefetched under them, since conditions that filter handover.clients
    # would drag every prefetch along into their own queries.
    clients = HandoverClient.objects.select_related("client").only(
        *[f.name for f in HandoverClient._meta.concrete_fields], "client__name", "client__owner"
    )
    return (
        with_current_due(handovers_visible_to(user))
        .select_related("departing__department", "report", "archive", *PEOPLE[1:])
        .prefetch_related(Prefetch("clients", queryset=clients))
    )


@dataclass(frozen=True)
class PageRows:
    clients: list[HandoverClient]
    items: list[dict]
    events: list[dict]
    visits: list[Visit]
    checks: list[PhoneCheck]
    signatures: list[Signature]
    # Display names of everyone the page mentions, by user id.
    names: dict[int, str]


def page_rows(h: Handover) -> PageRows:
    hcs = list(h.clients.all())
    # The reply to a dispute is shown, not signed (signing.ITEM_FIELDS are what signatures cover).
    items = list(h.items.values(*ITEM_FIELDS, "dispute_reply"))
    events = list(h.events.values(*EVENT_FIELDS))
    visits = list(Visit.objects.filter(handover_client__handover=h))
    checks = list(PhoneCheck.objects.filter(handover_client__handover=h))
    signatures = list(Signature.objects.filter(handover=h, superseded_at__isnull=True).defer("image").order_by("pk"))
    people = _people(h, hcs, items, events, visits, [sig.signer_id for sig in signatures])
    names = {pk: u.display_name for pk, u in people.items()}
    return PageRows(hcs, items, events, visits, checks, signatures, names)


def _people(h: Handover, hcs: list[HandoverClient], items: list[dict], events: list[dict], visits, signers=()) -> dict:
    """Everyone the page mentions.

    The handover's own people come with it; anyone else (a per-client receiver, an HR
    colleague who cancelled) is read in one query, rather than joining a user to each of
    thousands of items and events.
    """
    people = {getattr(h, f"{p}_id"): getattr(h, p) for p in PEOPLE}
    wanted = {hc.receiver_id for hc in hcs} | {i["receiver_id"] for i in items}
    wanted |= {e["actor_id"] for e in events if e["actor_id"]} | {v.recorded_by_id for v in visits}
    wanted |= set(signers)
    missing = wanted - people.keys()
    if missing:
        people.update({u.pk: u for u in User.objects.filter(pk__in=missing)})
    return people
