"""The timeline: every event of the handover, oldest first, with who did what."""

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ... import flow
from ...models import CallResult, NoticeAnswer, NoticeChannel, SignaturePurpose, State, VisitMode
from ..display import Row, labels, local_time

EVENT_LABELS = {
    "started": gettext_lazy("Handover started"),
    "plan_updated": gettext_lazy("Plan updated"),
    "receiver_changed": gettext_lazy("Receiver changed"),
    "item_handed_over": gettext_lazy("Item handed over"),
    "items_handed_over": gettext_lazy("All pending items handed over"),
    "item_confirmed": gettext_lazy("Item confirmed"),
    "items_confirmed": gettext_lazy("Items confirmed"),
    "item_disputed": gettext_lazy("Item disputed"),
    "item_dispute_answered": gettext_lazy("Dispute answered, item handed over again"),
    "visit_recorded": gettext_lazy("Joint visit recorded"),
    "visit_confirmed": gettext_lazy("Joint visit confirmed"),
    "phone_check": gettext_lazy("Spot-check call"),
    "report_updated": gettext_lazy("Report updated"),
    "signed": gettext_lazy("Signed"),
    "archived": gettext_lazy("Signed confirmation archived and sealed"),
    "client_dropped": gettext_lazy("Client removed from the handover"),
    "client_notice_sent": gettext_lazy("Client notice sent"),
    "client_notice_answered": gettext_lazy("The client answered the notice"),
    "evaluated": gettext_lazy("Handover evaluated by the supervisor"),
    "client_survey_sent": gettext_lazy("Client survey sent"),
    "client_survey_answered": gettext_lazy("The client answered the survey"),
    "cover_ended": gettext_lazy("Cover ended: the clients went back"),
    "cover_return_refused": gettext_lazy("Cover: the return of the clients was refused"),
    "cover_return_date_changed": gettext_lazy("Cover: return date changed"),
}


@dataclass(slots=True)
class EventRow(Row):
    kind: str
    at: str
    actor: str
    label: str
    detail: str
    from_label: str
    to_label: str
    comment: str


def event_rows(events: list[dict], names: dict[int, str]) -> list[EventRow]:
    tz = timezone.get_current_timezone()
    states = labels(State.choices)
    modes = labels(VisitMode.choices)
    results = labels(CallResult.choices)
    kinds = {k: str(v) for k, v in EVENT_LABELS.items()}
    steps = {name: str(spec.label) for name, spec in flow.TRANSITIONS.items()}
    purposes = labels(SignaturePurpose.choices)
    system = _("System")
    rows = []
    for e in events:
        kind, data = e["kind"], e["data"] or {}
        if kind == "transition":
            kind = data.get("name", kind)
            label = steps.get(kind, kind)
        else:
            label = kinds.get(kind, kind)
        parts = [str(data[k]) for k in ("client", "item") if data.get(k)]
        if data.get("from_receiver") or data.get("to_receiver"):
            parts.append(f"{data.get('from_receiver', '')} → {data.get('to_receiver', '')}")
        if data.get("mode"):
            parts.append(modes.get(data["mode"], data["mode"]))
        if data.get("visited_on"):
            parts.append(str(data["visited_on"]))
        if data.get("result"):
            parts.append(results.get(data["result"], data["result"]))
        for key, choices in (("channel", NoticeChannel.choices), ("answer", NoticeAnswer.choices)):
            if data.get(key):
                parts.append(labels(choices).get(data[key], data[key]))
        if data.get("count") is not None:
            parts.append(_("%(n)d item(s)") % {"n": data["count"]})
        if data.get("clients") is not None:
            parts.append(_("%(n)d client(s)") % {"n": data["clients"]})
        if data.get("receivers"):
            # The start's clients split among several receivers.
            parts.append("、".join(str(r) for r in data["receivers"]))
        if data.get("purpose"):
            parts.append(purposes.get(data["purpose"], data["purpose"]))
        if data.get("signature"):
            parts.append(_("signed"))
        rows.append(
            EventRow(
                kind=kind,
                at=local_time(e["at"], tz),
                actor=names.get(e["actor_id"], system),
                label=label,
                detail=" · ".join(parts),
                from_label=states.get(e["from_state"], e["from_state"]),
                to_label=states.get(e["to_state"], e["to_state"]),
                comment=e["comment"],
            )
        )
    return rows
