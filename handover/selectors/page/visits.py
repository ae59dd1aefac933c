"""The joint visits: each client's visits, whether one covers the client, and the record and
confirm actions of the visits stage."""

from dataclasses import dataclass, field

from django.urls import reverse

from clients.models import Contact

from ... import policy, rules
from ...models import Handover, State, Visit, VisitMode
from ..display import Row, labels, url_pattern
from .grids import Typed
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


# ---------------------------------------------------------------------------------------
# The visits grid: this person's clients at the visits stage, one new visit per row.

VISIT_INPUTS = ("visited_on", "mode", "contact_met", "outcome", "concerns")


@dataclass(slots=True)
class VisitGridRow(Row):
    pk: int
    client: str
    grade: str
    receiver: str
    planned_visit_on: str
    row_version: int
    covered: bool
    visits: list[VisitRow]
    # The values in the inputs: the defaults for a new visit, or as typed when a save was refused.
    values: dict[str, str]
    errors: dict[str, str]
    conflict: bool
    # The defaults shown ("date|contact"): a row whose input still matches them and has no
    # outcome typed was not touched (handover.views.visit_defaults_untouched).
    shown: str = ""

    @property
    def row_error(self) -> str:
        return self.errors.get("__all__", "")

    @property
    def confirmable(self) -> list[VisitRow]:
        return [v for v in self.visits if v.confirm_url]


@dataclass(frozen=True)
class VisitsGrid:
    rows: list[VisitGridRow]
    save_url: str
    confirm_url: str
    sheet_url: str
    upload_url: str
    modes: list[tuple[str, str]]
    today: str
    # Visits waiting for this person's confirmation.
    waiting: int = 0
    selected: set[int] = field(default_factory=set)
    message: str = ""
    anchor: str = "visits-grid"


def visits_grid(h: Handover, user, rows: PageRows, section: VisitSection, today, typed: Typed | None = None):
    """The grid of the visits stage for this person, or None when they record no visit now: the
    departing person sees every client, a receiver their own."""
    if h.state != State.VISITS:
        return None
    mine = [hc for hc in rows.clients if policy.may_record_visit(h, hc, user)]
    if not mine:
        return None
    typed = typed or Typed()
    modes = [(str(v), str(label)) for v, label in VisitMode.choices]
    grid_rows = []
    waiting = 0
    # The defaults of a new visit: the day planned (today, if that is still ahead) and the client's
    # first contact (its key decision maker first), so most rows need only the outcome typed.
    first_contact: dict[int, str] = {}
    for client_id, name in Contact.objects.filter(client_id__in=[hc.client_id for hc in mine]).values_list(
        "client_id", "name"
    ):
        first_contact.setdefault(client_id, name)
    for hc in mine:
        conflict = hc.pk in typed.conflicts
        day = min(hc.planned_visit_on, today) if hc.planned_visit_on else today
        defaults = {
            "mode": VisitMode.IN_PERSON,
            "visited_on": day.isoformat(),
            "contact_met": first_contact.get(hc.client_id, ""),
        }
        values = typed.values.get(hc.pk) or defaults
        visit_rows = section.by_client.get(hc.pk, [])
        waiting += sum(1 for v in visit_rows if v.confirm_url)
        grid_rows.append(
            VisitGridRow(
                pk=hc.pk,
                client=hc.client.name,
                grade=hc.grade,
                receiver=rows.names.get(hc.receiver_id, ""),
                planned_visit_on=hc.planned_visit_on.isoformat() if hc.planned_visit_on else "",
                # A conflicting row is shown as it is now, with the input kept: saving again adds it.
                row_version=hc.row_version if conflict else typed.row_versions.get(hc.pk, hc.row_version),
                covered=hc.pk in section.covered,
                visits=visit_rows,
                values={name: values.get(name, "") for name in VISIT_INPUTS},
                errors=typed.errors.get(hc.pk, {}),
                conflict=conflict,
                shown=f"{defaults['visited_on']}|{defaults['contact_met']}",
            )
        )
    return VisitsGrid(
        rows=grid_rows,
        save_url=reverse("handover:visits_save", args=[h.pk]),
        confirm_url=reverse("handover:visits_confirm", args=[h.pk]),
        # Client data is never exported by the departing person (the sheet is for the receivers).
        sheet_url="" if policy.is_departing(h, user) else reverse("handover:visits_sheet", args=[h.pk]),
        upload_url=reverse("handover:visits_sheet_upload", args=[h.pk]),
        modes=modes,
        today=today.isoformat(),
        waiting=waiting,
        selected=typed.selected,
        message=typed.message,
    )
