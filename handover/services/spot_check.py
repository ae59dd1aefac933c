"""The phone spot-check: the sample drawn when the joint visits are approved, the witness's calls,
and the visits done again for clients who did not know of them."""

import math
import random
from collections import Counter
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy
from ..choices import RiskLevel
from ..models import CallResult, Handover, HandoverClient, PhoneCheck, State, Visit
from ..selectors.risk import client_risks
from .common import bump, bump_row, lock_handover, lock_row, log_event, require_state
from .errors import InvalidInput, NotAllowed, RowErrors, row_changed_meanwhile


def sample_size(n_others: int) -> int:
    """Of the clients below grade A: at least 20% and at least 3 (or all of them, if fewer)."""
    return min(n_others, max(3, math.ceil(n_others * 0.2)))


def draw_sample(hcs: list[HandoverClient], seed: int) -> set[int]:
    """The ids drawn: every A client and every client at high risk when drawn (their stored
    sample_risk), plus a random share of the others. Same seed and stored risks, same draw."""
    always = [hc.pk for hc in hcs if hc.grade == "A" or hc.sample_risk == RiskLevel.HIGH]
    others = sorted(hc.pk for hc in hcs if hc.grade != "A" and hc.sample_risk != RiskLevel.HIGH)
    return set(always) | set(random.Random(seed).sample(others, sample_size(len(others))))


def draw_sample_once(h: Handover) -> None:
    """Follows the approval of the visits; visits approved again after a return keep the first draw.
    Each client's risk is stored with the draw, so a later change of risk does not change it."""
    if h.sample_seed is not None:
        return
    h.sample_seed = random.SystemRandom().randrange(2**62)
    h.sample_drawn_at = timezone.now()
    hcs = list(h.clients.all())
    risks = client_risks(h)
    for hc in hcs:
        hc.sample_risk = risks[hc.pk].level
    HandoverClient.objects.bulk_update(hcs, ["sample_risk"], batch_size=500)
    drawn = draw_sample(hcs, h.sample_seed)
    h.clients.filter(pk__in=drawn).update(in_sample=True)


def _call_problem(result: str, note: str) -> tuple[str, str] | None:
    """(field, message) of what is wrong with a call's result and note, or None: one choice of
    result, and a note of what the client said unless they confirmed."""
    if result not in CallResult.values:
        return "result", _("Choose the result of the call.")
    if result != CallResult.CONFIRMED and not (note or "").strip():
        return "note", _("Please note what the client said.")
    return None


@transaction.atomic
def phone_check_record(
    *,
    handover_client: HandoverClient,
    user: User,
    result: str,
    note: str = "",
    expected_version: int | None = None,
    expected_row_version: int | None = None,
) -> PhoneCheck:
    h = lock_handover(handover_client.handover_id, expected_version)
    if not policy.may_record_call(h, user):
        raise NotAllowed(_("Only the witness records the spot-check calls."))
    require_state(h, State.SPOT_CHECK)
    hc = lock_row(h, handover_client, expected_row_version)
    if not hc.in_sample:
        raise InvalidInput(_("This client was not drawn for the spot-check."))
    problem = _call_problem(result, note)
    if problem:
        raise InvalidInput(problem[1], field=problem[0])
    check = PhoneCheck.objects.create(handover_client=hc, result=result, note=note.strip(), witness=user)
    bump_row(hc)
    bump(h)
    log_event(h, actor=user, kind="phone_check", comment=note, client=hc.client.name, result=result)
    return check


def supersede_unaware(h: Handover, user: User) -> None:
    ids = [hc.pk for hc in h.spot_check_outcome()[1]]
    # The client did not know: the visit did not really happen and must be done again.
    Visit.objects.filter(handover_client_id__in=ids).update(superseded=True)
    # Their calls stay in the record but no longer count: after the new visit the witness calls again.
    PhoneCheck.objects.filter(handover_client_id__in=ids).update(superseded=True)


@dataclass
class CallRow:
    """One sampled client's row of the call list: the result the witness chose and their note.
    `row_version` is the version the row was loaded at (None: no check). A row with neither a
    result nor a note is skipped."""

    handover_client_id: int
    result: str = ""
    note: str = ""
    row_version: int | None = None

    def is_blank(self) -> bool:
        return not (self.result or "").strip() and not (self.note or "").strip()


@transaction.atomic
def calls_save_rows(*, handover, user: User, rows: list[CallRow], expected_version: int | None = None):
    """Record the witness's calls typed in several rows together: all of them, or none.

    The rules are those of one call (the witness, the spot-check stage, a client of the sample,
    one result, a note unless the client confirmed); refusals by row and field, a row changed
    since it was loaded is a conflict of that row. Returns the calls recorded."""
    h = lock_handover(handover.pk if hasattr(handover, "pk") else handover, expected_version)
    if not policy.may_record_call(h, user):
        raise NotAllowed(_("Only the witness records the spot-check calls."))
    require_state(h, State.SPOT_CHECK)
    typed = [r for r in rows if not r.is_blank()]
    locked = {
        hc.pk: hc
        for hc in HandoverClient.objects.select_for_update()
        .select_related("client")
        .filter(handover=h, pk__in=[r.handover_client_id for r in typed])
        .order_by("pk")
    }
    times = Counter(r.handover_client_id for r in typed)
    errors: dict[int, dict[str, str]] = {}
    conflicts: set[int] = set()
    for row in typed:
        key = row.handover_client_id
        hc = locked.get(key)
        if hc is None:
            errors[key] = {"__all__": _("This client is no longer in this handover. Please reload the page.")}
        elif not hc.in_sample:
            errors[key] = {"__all__": _("This client was not drawn for the spot-check.")}
        elif row.row_version is not None and row.row_version != hc.row_version:
            conflicts.add(key)
            errors[key] = {"__all__": row_changed_meanwhile().message}
        elif times[key] > 1:
            errors[key] = {"__all__": _("This client appears twice; record one call per row.")}
        else:
            problem = _call_problem(row.result, row.note)
            if problem:
                errors[key] = {problem[0]: problem[1]}
            else:
                try:
                    PhoneCheck(note=(row.note or "").strip()).clean_fields(
                        exclude=[f.name for f in PhoneCheck._meta.fields if f.name != "note"]
                    )
                except ValidationError as exc:
                    errors[key] = {"note": exc.message_dict["note"][0]}
    if errors:
        raise RowErrors(errors, conflicts=conflicts, labels={pk: hc.client.name for pk, hc in locked.items()})
    saved = []
    for row in typed:
        hc = locked[row.handover_client_id]
        note = (row.note or "").strip()
        saved.append(PhoneCheck.objects.create(handover_client=hc, result=row.result, note=note, witness=user))
        bump_row(hc)
        log_event(h, actor=user, kind="phone_check", comment=note, client=hc.client.name, result=row.result)
    if saved:
        bump(h)
    return saved
