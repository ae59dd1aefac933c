"""The phone spot-check: the sample drawn when the joint visits are approved, the witness's calls,
and the visits done again for clients who did not know of them."""

import math
import random

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy
from ..models import CallResult, Handover, HandoverClient, PhoneCheck, State, Visit
from .common import bump, bump_row, lock_handover, lock_row, log_event, require_state
from .errors import InvalidInput, NotAllowed


def sample_size(n_others: int) -> int:
    """Of the clients below grade A: at least 20% and at least 3 (or all of them, if fewer)."""
    return min(n_others, max(3, math.ceil(n_others * 0.2)))


def draw_sample(hcs: list[HandoverClient], seed: int) -> set[int]:
    """The ids drawn: every A client plus a random share of the others. Same seed, same draw."""
    a_clients = [hc.pk for hc in hcs if hc.grade == "A"]
    others = sorted(hc.pk for hc in hcs if hc.grade != "A")
    return set(a_clients) | set(random.Random(seed).sample(others, sample_size(len(others))))


def draw_sample_once(h: Handover) -> None:
    """Follows the approval of the visits; visits approved again after a return keep the first draw."""
    if h.sample_seed is not None:
        return
    h.sample_seed = random.SystemRandom().randrange(2**62)
    h.sample_drawn_at = timezone.now()
    drawn = draw_sample(list(h.clients.all()), h.sample_seed)
    h.clients.filter(pk__in=drawn).update(in_sample=True)


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
    if result not in CallResult.values:
        raise InvalidInput(_("Choose the result of the call."), field="result")
    if result != CallResult.CONFIRMED and not note.strip():
        raise InvalidInput(_("Please note what the client said."), field="note")
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
