"""The to-do inbox: what each person must act on now, and the signatures they owe."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.roles import Role

from .. import flow, rules
from ..flow import WORK_STATES, Party
from ..models import (
    ChecklistItem,
    Duty,
    DutyKind,
    Handover,
    HandoverClient,
    ItemStatus,
    Signature,
    SignaturePurpose,
    State,
    Visit,
)
from .visibility import is_overdue, with_current_due

# The people named on the handover whose to-do a state is (the flow spec's `by` and `todo`).
TODO_PARTIES = [Party.DEPARTING, Party.SUPERVISOR, Party.MANAGER, Party.WITNESS]


@dataclass
class DisputeRow:
    """A disputed item in the departing person's to-do, answered in place (templates/handover/_disputes.html).

    `reply` and `error` carry back what they typed and why it was refused, so nothing is lost.
    """

    pk: int
    handover_id: int
    title: str
    client: str
    receiver: str
    reason: str
    answer_url: str
    link: str
    reply: str = ""
    error: str = ""


@dataclass(frozen=True)
class InboxEntry:
    handover: Handover
    action: str
    due_on: datetime.date | None
    overdue: bool
    return_reason: str = ""
    # Set for HR's "revoke the accounts" duty, which the inbox lets HR close in place.
    revoke: bool = False
    # The departing person's disputed items, each with its reason and the form that answers it.
    disputes: tuple[DisputeRow, ...] = ()
    # Where it is done when not on the handover page (a duty after completion: the duty page).
    link: str = ""

    @property
    def url(self) -> str:
        """The handover page at the tab where this is done (flow.tab_of), or the person's own view."""
        if self.link:
            return self.link
        tab = flow.tab_of(self.handover.state) if self.handover.state in flow.OPEN_STATES else "mine"
        return reverse("handover:detail", args=[self.handover.pk]) + f"?tab={tab}"


def disputed_items(user, handover_ids=None) -> dict[int, list[DisputeRow]]:
    """The items disputed by their receivers that this person, leaving, must answer; per handover, one query."""
    rows = (
        ChecklistItem.objects.filter(
            status=ItemStatus.DISPUTED, handover__departing=user, handover__state=State.MATERIALS
        )
        .select_related("handover_client__client", "receiver")
        .order_by("handover_id", "order", "pk")
    )
    if handover_ids is not None:
        rows = rows.filter(handover_id__in=handover_ids)
    result: dict[int, list[DisputeRow]] = {}
    for item in rows:
        detail = reverse("handover:detail", args=[item.handover_id])
        result.setdefault(item.handover_id, []).append(
            DisputeRow(
                pk=item.pk,
                handover_id=item.handover_id,
                title=item.title,
                client=item.handover_client.client.name if item.handover_client else "",
                receiver=item.receiver.display_name,
                reason=item.dispute_reason,
                answer_url=reverse("handover:item_answer", args=[item.handover_id, item.pk]),
                link=f"{detail}?tab=materials#item-{item.pk}",
            )
        )
    return result


def _all_signed(purpose: str) -> Q:
    """Every signer of the purpose has signed (a current signature each): the query form of
    handover.signing's required_signers, for the states that wait for signatures first
    (flow.StateSpec.signed_first). Whether each still holds shows on the handover page."""
    if purpose != SignaturePurpose.CHECKLIST:
        raise ValueError(f"no query for the signers of {purpose}")
    current = Signature.objects.filter(purpose=purpose, superseded_at__isnull=True)
    by_receiver = current.filter(handover=OuterRef("handover"), signer=OuterRef("receiver"))
    unsigned_clients = HandoverClient.objects.filter(handover=OuterRef("pk")).exclude(Exists(by_receiver))
    unsigned_items = ChecklistItem.objects.filter(handover=OuterRef("pk")).exclude(Exists(by_receiver))
    return (
        Exists(current.filter(handover=OuterRef("pk"), signer=OuterRef("departing")))
        & Exists(current.filter(handover=OuterRef("pk"), signer=OuterRef("witness")))
        & ~Exists(unsigned_clients)
        & ~Exists(unsigned_items)
    )


def _todo(party: Party, user) -> Q:
    """The handovers whose current state is this party's to-do for this person; a state that waits
    for signatures first only once they are all in."""
    q = Q()
    for state in flow.todo_states(party):
        here = Q(**{party: user, "state": state})
        if purpose := flow.STATES[state].signed_first:
            here &= _all_signed(purpose)
        q |= here
    return q


DUTY_TODO = {
    DutyKind.CONTACT_CLIENT: gettext_lazy("Contact %(n)d client(s) you received (a call, WeChat, email or visit)"),
    DutyKind.VISIT_CLIENT: gettext_lazy("Visit %(n)d client(s) you received"),
    DutyKind.REVOKE_ACCOUNTS: gettext_lazy("Revoke the departed person's system accounts"),
    DutyKind.EVALUATE_HANDOVER: gettext_lazy(
        "Evaluate the handover: the materials, the clients' feedback and the receiver's adaptation"
    ),
}


def _duty_link(handover_id: int, kind: str) -> str:
    """The duty page at that handover's duties of that kind; the evaluation, at its form."""
    if kind == DutyKind.EVALUATE_HANDOVER:
        return reverse("handover:outcomes", args=[handover_id]) + "#evaluation"
    return reverse("handover:duties") + f"#handover-{handover_id}-{kind}"


def inbox_for(user, *, today: datetime.date | None = None) -> list[InboxEntry]:
    """What this person must act on now, soonest due first; two queries whatever the number of handovers."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    today = today or timezone.localdate()
    base = with_current_due(Handover.objects.select_related("departing__department"))
    entries: list[InboxEntry] = []

    def add(h: Handover, action: str, disputes=()) -> None:
        reason = h.last_return_reason if h.state in WORK_STATES else ""
        entries.append(InboxEntry(h, action, h.current_due_on, is_overdue(h, today), reason, disputes=tuple(disputes)))

    duties = Q()
    for party in TODO_PARTIES:
        duties |= _todo(party, user)
    own = [h for h in base.filter(duties) if getattr(h, f"{flow.STATES[h.state].by}_id") == user.pk]
    at_materials = [h.pk for h in own if h.state == State.MATERIALS]
    disputes = disputed_items(user, at_materials) if at_materials else {}
    for h in own:
        add(h, str(flow.STATES[h.state].todo), disputes.get(h.pk, ()))

    items_waiting = (
        ChecklistItem.objects.filter(handover=OuterRef("pk"), receiver=user, status=ItemStatus.HANDED_OVER)
        .order_by()
        .values("handover")
        .annotate(n=Count("pk"))
        .values("n")
    )
    visits_waiting = (
        Visit.objects.filter(
            handover_client__handover=OuterRef("pk"),
            handover_client__receiver=user,
            receiver_confirmed_at__isnull=True,
            superseded=False,
        )
        .order_by()
        .values("handover_client__handover")
        .annotate(n=Count("pk"))
        .values("n")
    )
    receiving = (
        base.filter(state__in=[State.MATERIALS, State.VISITS])
        .annotate(
            items_waiting=Coalesce(Subquery(items_waiting, output_field=IntegerField()), Value(0)),
            visits_waiting=Coalesce(Subquery(visits_waiting, output_field=IntegerField()), Value(0)),
        )
        .filter(Q(state=State.MATERIALS, items_waiting__gt=0) | Q(state=State.VISITS, visits_waiting__gt=0))
    )
    for h in receiving:
        if h.state == State.MATERIALS:
            add(h, _("Confirm the %(n)d item(s) handed over to you, or dispute them") % {"n": h.items_waiting})
        else:
            add(h, _("Confirm the %(n)d joint visit(s) recorded for your clients") % {"n": h.visits_waiting})

    # After completion: the procedure's duties, one entry per handover and kind.
    mine = Q(assignee=user)
    if user.has_role(Role.HR):
        mine |= Q(assignee__isnull=True, kind=DutyKind.REVOKE_ACCOUNTS)
    duties = list(
        Duty.objects.filter(mine, done_at__isnull=True)
        .values("handover", "kind")
        .annotate(n=Count("pk"), due_on=Min("due_on"))
        .order_by()
    )
    duty_handovers = Handover.objects.select_related("departing__department").in_bulk({d["handover"] for d in duties})
    for d in duties:
        entries.append(
            InboxEntry(
                duty_handovers[d["handover"]],
                str(DUTY_TODO[d["kind"]]) % {"n": d["n"]},
                d["due_on"],
                d["due_on"] < today,
                revoke=d["kind"] == DutyKind.REVOKE_ACCOUNTS,
                link=_duty_link(d["handover"], d["kind"]),
            )
        )

    for h, action in _signatures_owed(base, user):
        add(h, action)

    far = datetime.date.max
    entries.sort(key=lambda e: (not e.overdue, e.due_on or far, e.handover.number))
    return entries


def _signatures_owed(base: QuerySet[Handover], user) -> list[tuple[Handover, str]]:
    """Handovers waiting for this person's signature, in one query.

    A receiver signs the receipt once every item of theirs is confirmed, and the visits once
    every client of theirs has a confirmed joint visit; the departing person, the receivers
    and the witness sign the checklist at the final approval. (A signature that no longer holds
    shows on the handover page, and in the departing person's hint, not here.)
    """
    mine = Signature.objects.filter(handover=OuterRef("pk"), signer=user, superseded_at__isnull=True)
    my_items = ChecklistItem.objects.filter(handover=OuterRef("pk"), receiver=user)
    my_clients = HandoverClient.objects.filter(handover=OuterRef("pk"), receiver=user)
    covering = Visit.objects.filter(handover_client=OuterRef("pk")).filter(rules.VISIT_COVERS)
    receipt = (
        Q(state=State.MATERIALS)
        & Exists(my_items)
        & ~Exists(my_items.exclude(rules.ITEM_CONFIRMED))
        & ~Exists(mine.filter(purpose=SignaturePurpose.MATERIALS_RECEIPT))
    )
    visits = (
        Q(state=State.VISITS)
        & Exists(my_clients)
        & ~Exists(my_clients.exclude(Exists(covering)))
        & ~Exists(mine.filter(purpose=SignaturePurpose.VISITS))
    )
    checklist = (
        Q(state=State.REPORT_APPROVAL)
        & (Q(departing=user) | Q(witness=user) | Exists(my_clients) | Exists(my_items))
        & ~Exists(mine.filter(purpose=SignaturePurpose.CHECKLIST))
    )
    actions = {spec.at: str(spec.todo) for spec in flow.SIGNATURES.values()}
    return [(h, actions[h.state]) for h in base.filter(receipt | visits | checklist)]
