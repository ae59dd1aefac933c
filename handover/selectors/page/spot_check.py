"""The phone spot-check: each sampled client's calls and contacts, and the witness's call action."""

import datetime
from dataclasses import dataclass, field

from clients.models import Contact

from ... import policy
from ...models import CallResult, Handover, PhoneCheck, State
from ..display import Row, labels, local_time, url_pattern
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
