"""Splitting clients among receivers: who gets which, balanced, the same way every time.

Pure: it reads only what it is handed (no database), so the start of a handover, the bulk
split of the plan stage, its preview and its tests all use the same function.

The balance, in order of weight:
  1. A clients: each A client (largest outstanding receivable first) goes to the receiver with
     the fewest A clients, so their A counts end at most one apart (from an even start);
  2. the number of clients: each other client (largest receivable first) goes to the receiver
     with the fewest clients, so the counts end at most one apart (from an even start);
  3. outstanding receivables: among receivers tied on the count above, the one with the least
     outstanding receivables gets the client; taking the largest receivables first, this deals
     them like a snake draft and keeps the sums close.
Remaining ties go to the smaller existing book, then to the lower user id: the same input
always gives the same split, whatever order the receivers were chosen in.

A receiver's load starts from what they already receive in this handover outside the split
(`Load` given per receiver), so splitting a part of the clients evens out the whole.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

A_GRADE = "A"

# How the plan's split gives the clients: evenly (split_clients below), or each to its best fit
# (按匹配度分配, handover.selectors.fit.assign_by_fit).
EVEN, FIT = "even", "fit"
MODE_CHOICES = [(EVEN, EVEN), (FIT, FIT)]


@dataclass(frozen=True)
class ClientFacts:
    """What the split weighs of one client: its key (a handover client's id, or a client's id at
    the start), its grade and its outstanding receivables."""

    key: int
    grade: str
    receivable: Decimal = Decimal("0")


@dataclass
class Load:
    """What a receiver has or will have: clients, A clients and outstanding receivables."""

    clients: int = 0
    a_clients: int = 0
    receivable: Decimal = field(default_factory=lambda: Decimal("0"))

    def add(self, c: ClientFacts) -> None:
        self.clients += 1
        self.a_clients += c.grade == A_GRADE
        self.receivable += c.receivable


@dataclass(frozen=True)
class Receiver:
    """A receiver to split among: their user id, their existing book size, and what they already
    receive in this handover outside the clients being split."""

    pk: int
    book_size: int = 0
    base: Load = field(default_factory=Load)


def _order(clients: Iterable[ClientFacts]) -> list[ClientFacts]:
    # A clients first, then the others; within each, the largest receivable first; then by key.
    return sorted(clients, key=lambda c: (c.grade != A_GRADE, -c.receivable, c.key))


def split_clients(clients: Iterable[ClientFacts], receivers: Sequence[Receiver]) -> dict[int, int]:
    """{client key: receiver pk} for every client; see the module's docstring for the balance."""
    if not receivers:
        raise ValueError("at least one receiver")
    people = sorted({r.pk: r for r in receivers}.values(), key=lambda r: r.pk)
    loads = {r.pk: Load(r.base.clients, r.base.a_clients, Decimal(r.base.receivable)) for r in people}
    books = {r.pk: r.book_size for r in people}
    assignment: dict[int, int] = {}

    def for_a_client(pk: int):
        load = loads[pk]
        return (load.a_clients, load.receivable, load.clients, books[pk], pk)

    def for_other_client(pk: int):
        load = loads[pk]
        return (load.clients, load.receivable, load.a_clients, books[pk], pk)

    for c in _order(clients):
        chosen = min(loads, key=for_a_client if c.grade == A_GRADE else for_other_client)
        loads[chosen].add(c)
        assignment[c.key] = chosen
    return assignment


def loads_after(
    clients: Iterable[ClientFacts], assignment: dict[int, int], receivers: Sequence[Receiver]
) -> dict[int, Load]:
    """Each receiver's load once the assignment applies (their base load plus what it gives them)."""
    loads = {r.pk: Load(r.base.clients, r.base.a_clients, Decimal(r.base.receivable)) for r in receivers}
    for c in clients:
        pk = assignment.get(c.key)
        if pk in loads:
            loads[pk].add(c)
    return loads
