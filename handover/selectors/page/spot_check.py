"""The phone spot-check: each sampled client's calls and contacts, and the witness's call action."""

import datetime
from dataclasses import dataclass, field

from django.urls import reverse

from clients.models import Contact

from ... import policy, rules
from ...models import CallResult, Handover, PhoneCheck, State
from ..display import Row, labels, local_time, url_pattern
from .grids import Typed, tel_href
from .rows import PageRows


@dataclass(slots=True)
class CallRow(Row):
    called_at: str
    result_label: str
    note: str
    superseded: bool


@dataclass(frozen=True)
class SpotCheckSection:
    # By handover client.
    calls: dict[int, list[CallRow]] = field(default_factory=dict)
    call_urls: dict[int, str] = field(default_factory=dict)
    # By client: the contacts the witness may call, only while they call.
    contacts: dict[int, list[Contact]] = field(default_factory=dict)
    sampled: int = 0
    # Sampled clients without a call that counts.
    pending: int = 0


def spot_check_section(h: Handover, user, rows: PageRows, tz: datetime.tzinfo) -> SpotCheckSection:
    may_call = h.state == State.SPOT_CHECK and policy.may_record_call(h, user)
    results = labels(CallResult.choices)
    call_url = url_pattern("handover:phone_check_record", h.pk) if may_call else ""
    checks_by_client: dict[int, list[PhoneCheck]] = {}
    for c in rows.checks:
        checks_by_client.setdefault(c.handover_client_id, []).append(c)

    contacts: dict[int, list[Contact]] = {}
    if may_call:
        sampled = [hc.client_id for hc in rows.clients if hc.in_sample]
        for contact in Contact.objects.filter(client_id__in=sampled):
            contacts.setdefault(contact.client_id, []).append(contact)

    calls: dict[int, list[CallRow]] = {}
    call_urls: dict[int, str] = {}
    pending = 0
    for hc in rows.clients:
        client_checks = checks_by_client.get(hc.pk, [])
        calls[hc.pk] = [
            CallRow(local_time(c.called_at, tz), results.get(c.result, c.result), c.note, c.superseded)
            for c in client_checks
        ]
        if hc.in_sample and all(c.superseded for c in client_checks):
            pending += 1
        if call_url and hc.in_sample:
            call_urls[hc.pk] = call_url.format(hc.pk)
    return SpotCheckSection(
        calls=calls,
        call_urls=call_urls,
        contacts=contacts,
        sampled=sum(1 for hc in rows.clients if hc.in_sample),
        pending=pending,
    )


# ---------------------------------------------------------------------------------------
# The call list: the witness's sample, each client's contacts to call and one result per row.


@dataclass(slots=True)
class CallContact(Row):
    name: str
    position: str
    phone: str
    tel: str


@dataclass(slots=True)
class CallGridRow(Row):
    pk: int
    client: str
    grade: str
    receiver: str
    row_version: int
    contacts: list[CallContact]
    calls: list[CallRow]
    # The result of the latest call that counts, or "" while the client is still to call.
    latest: str
    values: dict[str, str]
    errors: dict[str, str]
    conflict: bool
    # The risk level stored with the draw (selectors/risk.py): a high one was drawn for it.
    sample_risk: str = ""

    @property
    def row_error(self) -> str:
        return self.errors.get("__all__", "")


@dataclass(frozen=True)
class CallsGrid:
    rows: list[CallGridRow]
    save_url: str
    results: list[tuple[str, str]]
    pending: int = 0
    message: str = ""
    anchor: str = "calls-grid"


def calls_grid(h: Handover, user, rows: PageRows, section: SpotCheckSection, typed: Typed | None = None):
    """The witness's call list at the spot-check, or None for anyone else: only the sample."""
    if h.state != State.SPOT_CHECK or not policy.may_record_call(h, user):
        return None
    typed = typed or Typed()
    results = labels(CallResult.choices)
    checks_by_client: dict[int, list[PhoneCheck]] = {}
    for c in rows.checks:
        checks_by_client.setdefault(c.handover_client_id, []).append(c)
    grid_rows = []
    for hc in rows.clients:
        if not hc.in_sample:
            continue
        conflict = hc.pk in typed.conflicts
        latest = rules.latest_call(checks_by_client.get(hc.pk, []))
        values = typed.values.get(hc.pk, {})
        grid_rows.append(
            CallGridRow(
                pk=hc.pk,
                client=hc.client.name,
                grade=hc.grade,
                receiver=rows.names.get(hc.receiver_id, ""),
                row_version=hc.row_version if conflict else typed.row_versions.get(hc.pk, hc.row_version),
                contacts=[
                    CallContact(c.name, c.position, c.phone, tel_href(c.phone))
                    for c in section.contacts.get(hc.client_id, [])
                ],
                calls=section.calls.get(hc.pk, []),
                latest=results.get(latest.result, latest.result) if latest else "",
                values={"result": values.get("result", ""), "note": values.get("note", "")},
                errors=typed.errors.get(hc.pk, {}),
                conflict=conflict,
                sample_risk=hc.sample_risk,
            )
        )
    return CallsGrid(
        rows=grid_rows,
        save_url=reverse("handover:calls_save", args=[h.pk]),
        results=list(results.items()),
        pending=section.pending,
        message=typed.message,
    )
