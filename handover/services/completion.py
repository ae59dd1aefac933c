"""Completion: every client moves to its receiver in one transaction; the guard on owner changes
outside the procedure; and afterwards HR revokes the departed person's access."""

from collections import defaultdict

from django.db import transaction
from django.db.models import DecimalField, F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.tokens import api_tokens_delete
from clients.models import ZERO, Client, OwnershipChange, Receivable
from clients.ownership import OwnershipRefusals, ownership_changes_record

from .. import policy
from ..models import OPEN_STATES, Duty, DutyKind, Handover, HandoverClient, State
from .common import bump, lock_handover, log_event, require_state
from .errors import Conflict, NotAllowed, WrongState


def _left_book_conflict(h: Handover, names: list[str]) -> Conflict:
    return Conflict(
        _(
            "%(n)d client(s) of this handover no longer belong to the departing salesperson: %(names)s. "
            "The supervisor (%(supervisor)s) removes them from the handover on its page, with the reason; "
            "then the handover can be completed."
        )
        % {"n": len(names), "names": "、".join(names[:5]) + ("…" if len(names) > 5 else ""), "supervisor": h.supervisor}
    )


def transfer_ownership(h: Handover, user: User) -> int:
    now = timezone.now()
    left = list(
        Client.objects.filter(handover_entries__handover=h)
        .exclude(owner_id=h.departing_id)
        .order_by("name")
        .values_list("name", flat=True)
    )
    if left:
        raise _left_book_conflict(h, left)
    hcs = list(h.clients.select_related("client"))
    by_receiver: dict[int, list[int]] = defaultdict(list)
    for hc in hcs:
        by_receiver[hc.receiver_id].append(hc.client_id)
    # Only clients the departing person still owns move; anything else changed hands meanwhile.
    moved = 0
    for receiver_id, client_ids in by_receiver.items():
        moved += Client.objects.filter(pk__in=client_ids, owner_id=h.departing_id).update(
            owner_id=receiver_id, updated_at=now
        )
    if moved != len(hcs):
        # One changed hands between the check above and the update.
        raise Conflict(_("Some clients of this handover no longer belong to the departing salesperson."))
    ownership_changes_record(
        [
            OwnershipChange(
                client_id=hc.client_id,
                from_owner_id=h.departing_id,
                to_owner_id=hc.receiver_id,
                changed_at=now,
                reason=_("Handover %(number)s") % {"number": h.number},
                changed_by=user,
            )
            for hc in hcs
        ]
    )
    snapshot_receivables(h)
    return moved


def snapshot_receivables(h: Handover) -> int:
    """Each client's receivables at completion (outstanding, received so far), in one statement
    whatever the number of clients; in the completing transaction, so the outcome's "at handover"
    is what the parties signed for."""
    of_client = (
        Receivable.objects.filter(contract__client_id=OuterRef("client_id")).order_by().values("contract__client_id")
    )
    outstanding = of_client.filter(amount_received__lt=F("amount_due")).annotate(
        total=Sum(F("amount_due") - F("amount_received"))
    )
    received = of_client.annotate(total=Sum("amount_received"))
    money = DecimalField(max_digits=14, decimal_places=2)
    return HandoverClient.objects.filter(handover=h).update(
        outstanding_at_completion=Coalesce(Subquery(outstanding.values("total"), output_field=money), ZERO),
        received_at_completion=Coalesce(Subquery(received.values("total"), output_field=money), ZERO),
    )


def ownership_refusals(*, client_ids: set[int], owner_ids: set[int]) -> OwnershipRefusals:
    """The procedure's guard on owner changes outside it (registered with clients.ownership).

    A client inside an open handover changes hands only at that handover's completion; someone
    leaving in an open handover is given no more clients, which would stay with them after they left.
    """
    refusals = OwnershipRefusals()
    ids = sorted(client_ids)
    for start in range(0, len(ids), 500):
        entries = HandoverClient.objects.filter(
            client_id__in=ids[start : start + 500], handover__state__in=OPEN_STATES
        ).select_related("client", "handover__departing")
        for hc in entries:
            refusals.clients[hc.client_id] = _(
                "%(client)s is in handover %(number)s (%(departing)s), which is still open; "
                "it changes hands only when that handover is completed."
            ) % {"client": hc.client.name, "number": hc.handover.number, "departing": hc.handover.departing}
    if owner_ids:
        for h in Handover.objects.filter(departing_id__in=owner_ids, state__in=OPEN_STATES).select_related("departing"):
            refusals.owners[h.departing_id] = _(
                "%(name)s is leaving (handover %(number)s is open) and cannot be given clients."
            ) % {"name": h.departing, "number": h.number}
    return refusals


@transaction.atomic
def handover_revoke_access(*, handover: Handover, user: User) -> int:
    """HR ends the departed person's system access and closes the revoke duty."""
    if not policy.may_revoke_access(handover, user):
        raise NotAllowed(_("Only HR revokes system accounts."))
    h = lock_handover(handover)
    require_state(h, State.COMPLETED)
    if h.is_cover:
        raise WrongState(_("This handover is a cover: the person comes back, and their accounts are not revoked."))
    duties = Duty.objects.select_for_update().filter(handover=h, kind=DutyKind.REVOKE_ACCOUNTS, done_at__isnull=True)
    if not duties.exists():
        raise WrongState(_("The system accounts of this handover have already been revoked."))
    User.objects.filter(pk=h.departing_id).update(is_active=False)
    # Tokens for the API die with the account (a bulk update sends no signal to do it).
    api_tokens_delete(user_ids=[h.departing_id])
    n = duties.update(done_at=timezone.now(), done_by=user)
    bump(h)
    log_event(h, actor=user, kind="access_revoked")
    return n
