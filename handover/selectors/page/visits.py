"""The joint visits: each client's visits, whether one covers the client, and the record and
confirm actions of the visits stage."""

from dataclasses import dataclass, field

from ... import policy, rules
from ...models import Handover, State, Visit, VisitMode
from ..display import Row, labels, url_pattern
from .rows import PageRows


@dataclass(slots=True)
class VisitRow(Row):
    pk: int
    visited_on: str
    mode_label: str
    contact_met: str
    outcome: str
    concerns: str
    recorded_by: str
    confirmed: bool
    superseded: bool
    confirm_url: str = ""


@dataclass(frozen=True)
class VisitSection:
    # By handover client.
    by_client: dict[int, list[VisitRow]] = field(default_factory=dict)
    covered: set[int] = field(default_factory=set)
    record_urls: dict[int, str] = field(default_factory=dict)


def visit_section(h: Handover, user, rows: PageRows) -> VisitSection:
    me = user.pk
    names = rows.names
    modes = labels(VisitMode.choices)
    at_visits = h.state == State.VISITS
    is_departing = policy.is_departing(h, user)
    visit_record = url_pattern("handover:visit_record", h.pk)
    visit_confirm = url_pattern("handover:visit_confirm", h.pk)
    visits_by_client: dict[int, list[Visit]] = {}
    for v in rows.visits:
        visits_by_client.setdefault(v.handover_client_id, []).append(v)

    section = VisitSection()
    for hc in rows.clients:
        client_visits = visits_by_client.get(hc.pk, [])
        covered = any(rules.visit_covers(v, hc.grade) for v in client_visits)
        may_visit = at_visits and policy.may_record_visit(h, hc, user)
        visit_rows = section.by_client[hc.pk] = []
        for v in client_visits:
            vrow = VisitRow(
                pk=v.pk,
                visited_on=v.visited_on.isoformat(),
                mode_label=modes.get(v.mode, v.mode),
                contact_met=v.contact_met,
                outcome=v.outcome,
                concerns=v.concerns,
                recorded_by=names.get(v.recorded_by_id, ""),
                confirmed=v.is_confirmed,
                superseded=v.superseded,
            )
            if may_visit and not v.superseded:
                mine_open = (is_departing and v.departing_confirmed_at is None) or (
                    me == hc.receiver_id and v.receiver_confirmed_at is None
                )
                if mine_open:
                    vrow.confirm_url = visit_confirm.format(v.pk)
            visit_rows.append(vrow)
        if covered:
            section.covered.add(hc.pk)
        elif may_visit:
            section.record_urls[hc.pk] = visit_record.format(hc.pk)
    return section
