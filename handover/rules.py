"""Each condition of the procedure, once.

Where a rule is needed both over the database and over rows already loaded (the handover page
and the signatures read thousands of rows once and must not ask again per row), its queryset
form and its in-memory form stand side by side here, and handover/tests/test_rules.py checks
on generated data that the two agree.

This module imports no model: the transition conditions of handover.models call it.
"""

from collections.abc import Iterable

from django.db.models import Q

from clients.models import Grade

from .choices import CallResult, ItemStatus, VisitMode

# ---------------------------------------------------------------------------------------
# The plan: every client has its status, risks, next steps and (where the handover goes through
# joint visits) a planned visit, and what was prefilled from the book has been checked by the
# departing person.


def plan_complete(hc, *, visits: bool = True) -> bool:
    filled = hc.current_status.strip() and hc.risks.strip() and hc.next_steps.strip()
    filled = filled and (hc.planned_visit_on or not visits)
    return bool(filled and not hc.prefilled)


def plan_gaps(hcs: Iterable, *, visits: bool = True) -> list:
    return [hc for hc in hcs if not plan_complete(hc, visits=visits)]


# ---------------------------------------------------------------------------------------
# The materials: every item is confirmed by its receiver.

# On ChecklistItem rows.
ITEM_CONFIRMED = Q(status=ItemStatus.CONFIRMED)


def item_confirmed(status: str) -> bool:
    return status == ItemStatus.CONFIRMED


def unconfirmed_items(items: Iterable[dict]) -> list[dict]:
    """The items (as ChecklistItem .values() rows) not yet confirmed by their receiver."""
    return [i for i in items if not item_confirmed(i["status"])]


# ---------------------------------------------------------------------------------------
# The joint visits: a client is covered by a visit both salespeople confirmed that was not
# superseded by a spot-check; an A client only by a visit in person.

# On Visit rows (visit_mode_counts over the database).
VISIT_COVERS = Q(superseded=False, departing_confirmed_at__isnull=False, receiver_confirmed_at__isnull=False) & (
    Q(mode=VisitMode.IN_PERSON) | ~Q(handover_client__grade=Grade.A)
)


def visit_mode_counts(mode: str, grade: str) -> bool:
    """Whether a visit in this mode can cover a client of this grade: an A client only in person.

    The one form of the rule: the grid and the API refuse such a visit where it is typed
    (models.check_visit_mode), and the transition does not count one (visit_covers, VISIT_COVERS)."""
    return mode == VisitMode.IN_PERSON or grade != Grade.A


def visit_covers(visit, grade: str) -> bool:
    return (
        not visit.superseded
        and visit.departing_confirmed_at is not None
        and visit.receiver_confirmed_at is not None
        and visit_mode_counts(visit.mode, grade)
    )


def visit_gaps(hcs: Iterable, visits: Iterable) -> list:
    """The clients no visit covers, over rows already loaded."""
    by_client: dict[int, list] = {}
    for v in visits:
        by_client.setdefault(v.handover_client_id, []).append(v)
    return [hc for hc in hcs if not any(visit_covers(v, hc.grade) for v in by_client.get(hc.pk, []))]


# ---------------------------------------------------------------------------------------
# The phone spot-check: each sampled client's latest call that still counts decides.


def latest_call(calls: Iterable):
    """The latest call that counts (a call superseded by a return to visits does not), or None."""
    counting = sorted((c for c in calls if not c.superseded), key=lambda c: (c.called_at, c.pk))
    return counting[-1] if counting else None


def call_outcome(calls_by_client: Iterable[tuple]) -> tuple[list, list]:
    """(sampled clients still to call, sampled clients who said they were unaware), from (client, its calls)."""
    pending, unaware = [], []
    for hc, calls in calls_by_client:
        latest = latest_call(calls)
        if latest is None:
            pending.append(hc)
        elif latest.result == CallResult.UNAWARE:
            unaware.append(hc)
    return pending, unaware


# ---------------------------------------------------------------------------------------
# The report: its summary is written.


def report_written(report) -> bool:
    return bool(report and report.summary.strip())
