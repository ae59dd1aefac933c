"""Who should receive each client: the candidates ranked by fit, with the reasons (issue 15).

The research behind it: a receiver with similar industry and client experience loses far fewer
clients than a top performer, and a client attached to a person stays with whoever they already
know. So each candidate is weighed, per client, on:

  - experience: clients of their book in the client's industry and in its region, and how those
    fared (the ones marked lost count against them; the ones they received in completed
    handovers and kept count for them);
  - relationship: they owned the client before (the ownership history), they followed it up (the
    follow-ups they recorded, and how many of its contacts those were with);
  - load: the clients they hold (their book, lost clients aside, plus what they are to receive in
    open handovers), A clients, outstanding receivables and open deals, against their cap
    (accounts.User.effective_client_cap: their own, else their department's; None: no cap).

The candidates are the plan's receiver choices (visibility.receivers_for): nobody is suggested
whom the service would refuse. A candidate whose cap leaves no room is ranked last and marked full.

This module is the one place of the rule: the score (fit_score), the reasons (fit_reasons), the
loads the cap is checked against (receiver_loads, asked by services.common.check_caps too) and the
split by fit (assign_by_fit, used by services.receivers). receiver_suggestions answers for a whole
handover in a constant number of queries, whatever its size.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext as _

from accounts.models import User
from clients.models import OPEN_STAGES, Client, ClientStatus, FollowUp, Opportunity, OwnershipChange, Receivable

from .. import policy
from ..models import OPEN_STATES, Handover, HandoverClient, State
from .visibility import receivers_for

ZERO = Decimal("0")
A_GRADE = "A"
SEPARATOR = "；"

# The weights of the score, in points. Each count is capped so one strong signal cannot drown the rest.
PER_SAME_INDUSTRY, MAX_SAME_INDUSTRY = 4, 10
PER_SAME_REGION, MAX_SAME_REGION = 2, 10
PER_KEPT, MAX_KEPT = 2, 5
PER_LOST, MAX_LOST = 4, 5
FORMER_OWNER = 25
PER_FOLLOW_UP, MAX_FOLLOW_UPS = 6, 5
PER_CONTACT, MAX_CONTACTS = 5, 3
# The load: a full book against the cap costs LOAD_AT_CAP points; with no cap, each client held
# costs PER_CLIENT_NO_CAP up to the same total; each A client held costs PER_A_CLIENT more.
LOAD_AT_CAP = 30
PER_CLIENT_NO_CAP = Decimal("0.3")
PER_A_CLIENT, MAX_A_CLIENTS = 1, 20


@dataclass
class Load:
    """What a salesperson holds: their book (lost clients aside) and what they are to receive in open
    handovers; `cap` is their effective client cap (None: none)."""

    clients: int = 0
    a_clients: int = 0
    receivable: Decimal = ZERO
    open_deals: int = 0
    cap: int | None = None

    def room_for(self, n: int) -> bool:
        """May they take n more clients?"""
        return self.cap is None or self.clients + n <= self.cap

    def add(self, grade: str, receivable: Decimal = ZERO, deals: int = 0) -> None:
        self.clients += 1
        self.a_clients += grade == A_GRADE
        self.receivable += receivable
        self.open_deals += deals

    def copy(self) -> "Load":
        return Load(self.clients, self.a_clients, self.receivable, self.open_deals, self.cap)


@dataclass
class Facts:
    """What weighs for one candidate and one client, apart from the load."""

    same_industry: int = 0
    same_region: int = 0
    industry_lost: int = 0
    received: int = 0
    received_kept: int = 0
    former_owner: bool = False
    follow_ups: int = 0
    contacts_met: int = 0


@dataclass
class Suggestion:
    receiver: User
    score: int
    reasons: list[str]
    facts: Facts
    load: Load
    # Their cap leaves no room for this client.
    full: bool = False

    @property
    def reasons_text(self) -> str:
        return SEPARATOR.join(self.reasons)


@dataclass
class ClientSuggestions:
    handover_client: HandoverClient
    receivable: Decimal
    open_deals: int
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def top(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None


# ---------------------------------------------------------------------------------------
# The rule: score and reasons


def fit_score(f: Facts, load: Load) -> int:
    points = Decimal(
        PER_SAME_INDUSTRY * min(f.same_industry, MAX_SAME_INDUSTRY)
        + PER_SAME_REGION * min(f.same_region, MAX_SAME_REGION)
        + PER_KEPT * min(f.received_kept, MAX_KEPT)
        - PER_LOST * min(f.industry_lost, MAX_LOST)
        + FORMER_OWNER * f.former_owner
        + PER_FOLLOW_UP * min(f.follow_ups, MAX_FOLLOW_UPS)
        + PER_CONTACT * min(f.contacts_met, MAX_CONTACTS)
        - PER_A_CLIENT * min(load.a_clients, MAX_A_CLIENTS)
    )
    if load.cap:
        points -= LOAD_AT_CAP * Decimal(min(load.clients, load.cap)) / load.cap
    elif load.cap is None:
        points -= min(PER_CLIENT_NO_CAP * load.clients, Decimal(LOAD_AT_CAP))
    else:  # a cap of 0: nothing more may come
        points -= LOAD_AT_CAP
    return int(points.to_integral_value())


def load_text(load: Load) -> str:
    if load.cap is None:
        return _("current load %(load)s (no cap)") % {"load": load.clients}
    return _("current load %(load)s/%(cap)s") % {"load": load.clients, "cap": load.cap}


def fit_reasons(f: Facts, load: Load, *, full: bool = False) -> list[str]:
    """The reasons in words, the strongest first; the load always last."""
    reasons = []
    if f.former_owner:
        reasons.append(_("owned this client before"))
    if f.follow_ups:
        reasons.append(_("followed up this client %(n)s times") % {"n": f.follow_ups})
    if f.contacts_met:
        reasons.append(_("knows %(n)s of its contacts") % {"n": f.contacts_met})
    if f.same_industry:
        reasons.append(_("%(n)s clients in the same industry") % {"n": f.same_industry})
    if f.industry_lost:
        reasons.append(_("%(n)s clients of the same industry lost") % {"n": f.industry_lost})
    if f.received:
        reasons.append(
            _("kept %(kept)s of %(n)s clients of the same industry received in handovers")
            % {"kept": f.received_kept, "n": f.received}
        )
    if f.same_region:
        reasons.append(_("%(n)s clients in the same region") % {"n": f.same_region})
    reasons.append(load_text(load))
    if load.a_clients:
        reasons.append(_("%(n)s A clients") % {"n": load.a_clients})
    if full:
        reasons.append(_("at the cap"))
    return reasons


# ---------------------------------------------------------------------------------------
# The loads


def receiver_loads(people: Iterable[User]) -> dict[int, Load]:
    """Each person's load, in six queries whatever their number. Their department must be loaded
    with them (select_related), for the cap."""
    people = list(people)
    loads = {p.pk: Load(cap=p.effective_client_cap) for p in people}
    if not loads:
        return loads
    ids = list(loads)
    kept = ~Q(status=ClientStatus.LOST)
    for row in (
        Client.objects.filter(kept, owner_id__in=ids)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("pk"), a=Count("pk", filter=Q(grade=A_GRADE)))
    ):
        loads[row["owner_id"]].clients += row["n"]
        loads[row["owner_id"]].a_clients += row["a"]
    incoming = (
        HandoverClient.objects.filter(receiver_id__in=ids, handover__state__in=OPEN_STATES)
        .exclude(client__owner_id=F("receiver_id"))
        .order_by()
        .values("receiver_id")
        .annotate(n=Count("pk"), a=Count("pk", filter=Q(grade=A_GRADE)))
    )
    for row in incoming:
        loads[row["receiver_id"]].clients += row["n"]
        loads[row["receiver_id"]].a_clients += row["a"]
    owed = F("amount_due") - F("amount_received")
    entry = "contract__client__handover_entries__"
    receivables = Receivable.objects.outstanding()
    for key, queryset in (
        ("contract__client__owner_id", receivables.filter(contract__client__owner_id__in=ids)),
        (
            f"{entry}receiver_id",
            receivables.filter(**{f"{entry}receiver_id__in": ids, f"{entry}handover__state__in": OPEN_STATES}),
        ),
    ):
        for row in queryset.order_by().values(key).annotate(total=Sum(owed)):
            loads[row[key]].receivable += row["total"] or ZERO
    deals = Opportunity.objects.filter(stage__in=OPEN_STAGES)
    for key, queryset in (
        ("client__owner_id", deals.filter(client__owner_id__in=ids)),
        (
            "client__handover_entries__receiver_id",
            deals.filter(
                client__handover_entries__receiver_id__in=ids,
                client__handover_entries__handover__state__in=OPEN_STATES,
            ),
        ),
    ):
        for row in queryset.order_by().values(key).annotate(n=Count("pk")):
            loads[row[key]].open_deals += row["n"]
    return loads


# ---------------------------------------------------------------------------------------
# The facts of a handover's clients, and the suggestions


@dataclass
class FitBasis:
    """Everything the rule weighs for some clients of a handover and some candidates, read once."""

    rows: list[HandoverClient]
    candidates: list[User]
    loads: dict[int, Load]
    facts: dict[tuple[int, int], Facts]  # (handover client id, candidate id) -> facts
    receivables: dict[int, Decimal]  # client id -> outstanding
    open_deals: dict[int, int]  # client id -> open deals

    def facts_for(self, hc: HandoverClient, candidate_id: int) -> Facts:
        return self.facts.get((hc.pk, candidate_id)) or Facts()


def fit_basis(h: Handover, rows: Sequence[HandoverClient], candidates: Sequence[User]) -> FitBasis:
    """Read what the rule weighs for these rows (with their clients) and candidates (with their
    departments): the loads (six queries) and the experience and relationships (five), whatever
    their numbers."""
    rows, candidates = list(rows), list(candidates)
    loads = receiver_loads(candidates)
    facts: dict[tuple[int, int], Facts] = {}
    basis = FitBasis(rows, candidates, loads, facts, {}, {})
    if not rows or not candidates:
        return basis
    ids = [p.pk for p in candidates]
    client_ids = [hc.client_id for hc in rows]
    industries = {hc.client.industry for hc in rows} - {""}
    regions = {hc.client.region for hc in rows} - {""}

    # Their book in these industries and regions: how many, and how many of the industry's lost.
    by_industry: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    by_region: dict[tuple[int, str], int] = defaultdict(int)
    book = (
        Client.objects.filter(owner_id__in=ids)
        .filter(Q(industry__in=industries) | Q(region__in=regions))
        .exclude(pk__in=client_ids)
        .order_by()
        .values("owner_id", "industry", "region")
        .annotate(
            n=Count("pk", filter=~Q(status=ClientStatus.LOST)), lost=Count("pk", filter=Q(status=ClientStatus.LOST))
        )
    )
    for row in book:
        if row["industry"] in industries:
            by_industry[row["owner_id"], row["industry"]][0] += row["n"]
            by_industry[row["owner_id"], row["industry"]][1] += row["lost"]
        if row["region"] in regions:
            by_region[row["owner_id"], row["region"]] += row["n"]
    # What became of the clients of these industries they received in completed handovers.
    received: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in (
        HandoverClient.objects.filter(
            receiver_id__in=ids, handover__state=State.COMPLETED, client__industry__in=industries
        )
        .order_by()
        .values("receiver_id", "client__industry")
        .annotate(n=Count("pk"), kept=Count("pk", filter=~Q(client__status=ClientStatus.LOST)))
    ):
        received[row["receiver_id"], row["client__industry"]] = [row["n"], row["kept"]]
    # Their follow-ups of these very clients, and with how many of its contacts.
    follow_ups = {
        (row["client_id"], row["created_by_id"]): row
        for row in FollowUp.objects.filter(client_id__in=client_ids, created_by_id__in=ids)
        .order_by()
        .values("client_id", "created_by_id")
        .annotate(n=Count("pk"), contacts=Count("contact", distinct=True))
    }
    owned_before = set(
        OwnershipChange.objects.filter(client_id__in=client_ids, from_owner_id__in=ids)
        .order_by()
        .values_list("client_id", "from_owner_id")
        .distinct()
    )
    owed = F("amount_due") - F("amount_received")
    basis.receivables.update(
        Receivable.objects.outstanding()
        .filter(contract__client_id__in=client_ids)
        .order_by()
        .values("contract__client_id")
        .annotate(total=Sum(owed))
        .values_list("contract__client_id", "total")
    )
    basis.open_deals.update(
        Opportunity.objects.filter(stage__in=OPEN_STAGES, client_id__in=client_ids)
        .order_by()
        .values("client_id")
        .annotate(n=Count("pk"))
        .values_list("client_id", "n")
    )
    for hc in rows:
        industry, region = hc.client.industry, hc.client.region
        for pk in ids:
            industry_counts = by_industry.get((pk, industry), [0, 0]) if industry else [0, 0]
            got = received.get((pk, industry), [0, 0]) if industry else [0, 0]
            seen = follow_ups.get((hc.client_id, pk))
            f = Facts(
                same_industry=industry_counts[0],
                industry_lost=industry_counts[1],
                same_region=by_region.get((pk, region), 0) if region else 0,
                received=got[0],
                received_kept=got[1],
                former_owner=(hc.client_id, pk) in owned_before,
                follow_ups=seen["n"] if seen else 0,
                contacts_met=seen["contacts"] if seen else 0,
            )
            if f != Facts():
                facts[hc.pk, pk] = f
    return basis


def _rank(hc: HandoverClient, basis: FitBasis, loads: dict[int, Load]) -> list[Suggestion]:
    out = []
    for person in basis.candidates:
        load = loads[person.pk]
        f = basis.facts_for(hc, person.pk)
        # The client already going to them is already counted in their load.
        full = not load.room_for(0 if hc.receiver_id == person.pk else 1)
        out.append(Suggestion(person, fit_score(f, load), fit_reasons(f, load, full=full), f, load, full))
    out.sort(key=lambda s: (s.full, -s.score, s.load.clients, s.receiver.pk))
    return out


def _rows(h: Handover):
    return (
        HandoverClient.objects.filter(handover=h)
        .select_related("client", "receiver")
        .order_by("grade", "client__name", "pk")
    )


def receiver_suggestions(h: Handover, *, limit: int | None = 3) -> list[ClientSuggestions]:
    """For each client of the handover, the candidates best first (at most `limit`), in a constant
    number of queries whatever the number of clients."""
    rows = list(_rows(h))
    basis = fit_basis(h, rows, list(receivers_for(h)))
    out = []
    for hc in rows:
        ranked = _rank(hc, basis, basis.loads)
        out.append(
            ClientSuggestions(
                handover_client=hc,
                receivable=basis.receivables.get(hc.client_id) or ZERO,
                open_deals=basis.open_deals.get(hc.client_id, 0),
                suggestions=ranked[:limit] if limit else ranked,
            )
        )
    return out


def suggestions_panel(h: Handover, user) -> list[ClientSuggestions] | None:
    """The plan tab's suggestions (templates/handover/_receiver_suggestions.html): for whoever may
    change receivers, while the plan is open; None for anyone else."""
    if h.state != State.PLAN or not policy.may_set_receiver(h, user):
        return None
    return receiver_suggestions(h)


# ---------------------------------------------------------------------------------------
# The split by fit


class NoRoom(Exception):
    """Some clients fit no candidate's cap; `clients` names them."""

    def __init__(self, clients: list[HandoverClient]):
        super().__init__(", ".join(str(hc.client) for hc in clients))
        self.clients = clients


def assign_by_fit(basis: FitBasis) -> dict[int, int]:
    """{handover client id: receiver id}: each row of the basis to its best-fit candidate with room.

    A clients first, then the largest receivables (as the even split orders them); each one taken
    updates the receiver's load, so the load part of the score spreads the clients as they fill up.
    A row whose current receiver is among the candidates and stays the best costs no room. Raises
    NoRoom naming the clients no candidate has room for.
    """
    loads = {pk: load.copy() for pk, load in basis.loads.items()}
    order = sorted(
        basis.rows,
        key=lambda hc: (hc.grade != A_GRADE, -(basis.receivables.get(hc.client_id) or ZERO), hc.client_id),
    )
    # The rows being split leave their current receivers' loads first: each is placed again below.
    for hc in basis.rows:
        if hc.receiver_id in loads:
            load = loads[hc.receiver_id]
            load.clients -= 1
            load.a_clients -= hc.grade == A_GRADE
    assignment: dict[int, int] = {}
    stuck = []
    for hc in order:
        best = None
        for person in basis.candidates:
            load = loads[person.pk]
            if not load.room_for(1):
                continue
            key = (-fit_score(basis.facts_for(hc, person.pk), load), load.clients, person.pk)
            if best is None or key < best[0]:
                best = (key, person.pk)
        if best is None:
            stuck.append(hc)
            continue
        chosen = best[1]
        loads[chosen].add(hc.grade, basis.receivables.get(hc.client_id) or ZERO)
        assignment[hc.pk] = chosen
    if stuck:
        raise NoRoom(stuck)
    return assignment
