"""The checklist items: each item's row under its client (or among the others), and the hand-over
and confirm actions of the materials stage."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from ... import policy, rules
from ...models import Handover, ItemKind, ItemStatus, State
from ..display import Row, labels, url_pattern
from .rows import PageRows

STATUS_STYLE = {
    ItemStatus.PENDING: "secondary",
    ItemStatus.HANDED_OVER: "primary",
    ItemStatus.CONFIRMED: "success",
    ItemStatus.DISPUTED: "danger",
}


@dataclass(slots=True)
class ItemRow(Row):
    pk: int
    kind_label: str
    title: str
    detail: str
    status: str
    status_label: str
    status_style: str
    dispute_reason: str
    receiver_name: str
    # The departing person's answer to the dispute, for the receiver to read.
    dispute_reply: str = ""
    hand_over_url: str = ""
    confirm_url: str = ""
    dispute_url: str = ""
    has_actions: bool = False


@dataclass(frozen=True)
class ItemSection:
    # By handover client; the items of no client under None.
    by_client: dict[int | None, list[ItemRow]]
    confirmed: int
    unconfirmed: int
    # Items handed over to the viewer, waiting for them to confirm.
    mine_waiting: int
    hand_over_all_url: str
    confirm_all_url: str


def _detail(item: dict, storage_label: str) -> str:
    parts = [item["description"]] if item["description"] else []
    if item["storage_location"]:
        parts.append(_("%(label)s: %(value)s") % {"label": storage_label, "value": item["storage_location"]})
    return " · ".join(parts)


def item_section(h: Handover, user, rows: PageRows) -> ItemSection:
    me = user.pk
    items, names = rows.items, rows.names
    kinds = labels(ItemKind.choices)
    statuses = labels(ItemStatus.choices)
    hand_over = url_pattern("handover:item_hand_over", h.pk)
    confirm = url_pattern("handover:item_confirm", h.pk)
    dispute = url_pattern("handover:item_dispute", h.pk)
    at_materials = h.state == State.MATERIALS
    may_hand_over = policy.may_hand_over_items(h, user)
    storage_label = _("storage place")

    by_client: dict[int | None, list[ItemRow]] = {}
    for i in items:
        row = ItemRow(
            pk=i["pk"],
            kind_label=kinds.get(i["kind"], i["kind"]),
            title=i["title"],
            detail=_detail(i, storage_label),
            status=i["status"],
            status_label=statuses.get(i["status"], i["status"]),
            status_style=STATUS_STYLE.get(i["status"], "secondary"),
            dispute_reason=i["dispute_reason"],
            receiver_name=names.get(i["receiver_id"], ""),
            dispute_reply=i.get("dispute_reply", ""),
        )
        if at_materials:
            if may_hand_over and i["status"] in (ItemStatus.PENDING, ItemStatus.DISPUTED):
                row.hand_over_url = hand_over.format(i["pk"])
            if i["receiver_id"] == me and i["status"] == ItemStatus.HANDED_OVER:
                row.confirm_url = confirm.format(i["pk"])
                row.dispute_url = dispute.format(i["pk"])
            row.has_actions = bool(row.hand_over_url or row.confirm_url)
        by_client.setdefault(i["handover_client_id"], []).append(row)

    mine_waiting = sum(1 for i in items if i["receiver_id"] == me and i["status"] == ItemStatus.HANDED_OVER)
    return ItemSection(
        by_client=by_client,
        confirmed=sum(1 for i in items if rules.item_confirmed(i["status"])),
        unconfirmed=len(rules.unconfirmed_items(items)),
        mine_waiting=mine_waiting,
        hand_over_all_url=(
            reverse("handover:items_hand_over_all", args=[h.pk])
            if at_materials and may_hand_over and any(i["status"] == ItemStatus.PENDING for i in items)
            else ""
        ),
        confirm_all_url=reverse("handover:items_confirm_all", args=[h.pk]) if at_materials and mine_waiting else "",
    )
