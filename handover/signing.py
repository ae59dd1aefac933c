"""Signatures: what each one vouches for, whether it still holds, and what one may look like.

A signature pins the data it vouches for by the SHA-256 of a canonical JSON of that data
(SignedContent below). "Valid" means: recompute the JSON from the data as it is now, and
the hash still matches. Nothing here writes; handover/services/signatures.py stores signatures.

Only data the handover itself holds goes into the JSON (its clients' plan and receivers, the
checklist items as handed over, the visits, the calls, the report), never the live client
book, which the receivers keep editing after the handover: a client renamed next year must
not unsign the handover.
"""

import base64
import binascii
import datetime
import hashlib
import io
import json
from collections.abc import Mapping
from decimal import Decimal

from django.utils.translation import gettext as _

from accounts.models import User

from . import rules
from .flow import APPROVERS, PER_SIGNER, Part
from .models import (
    APPROVAL_PURPOSE_AT,
    ChecklistItem,
    Handover,
    HandoverClient,
    PhoneCheck,
    Report,
    Signature,
    SignaturePurpose,
    Visit,
)

# The fields of a checklist item that a signature covers (the handover page reads the same).
ITEM_FIELDS = [
    "pk",
    "handover_client_id",
    "kind",
    "title",
    "description",
    "storage_location",
    "receiver_id",
    "status",
    "dispute_reason",
]


def canonical_json(data) -> bytes:
    def default(value):
        if isinstance(value, datetime.datetime):
            return value.astimezone(datetime.UTC).isoformat()
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        raise TypeError(f"cannot sign a {type(value).__name__}")

    return json.dumps(data, default=default, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sha256_of(data) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


_UNSET = object()


class SignedContent:
    """The data each signature vouches for. Pass rows already loaded (the handover page does) to
    spare the queries; anything not passed is read once, when first needed."""

    def __init__(self, h: Handover, *, clients=None, items=None, visits=None, calls=None, report=_UNSET):
        self.h = h
        self._clients = clients
        self._items = items
        self._visits = visits
        self._calls = calls
        self._report = report
        self._hashes: dict[tuple[str, int | None], str] = {}

    # --- the rows ---------------------------------------------------------------------

    @property
    def clients(self) -> list[HandoverClient]:
        if self._clients is None:
            self._clients = list(HandoverClient.objects.filter(handover=self.h).order_by("pk"))
        return self._clients

    @property
    def items(self) -> list[dict]:
        if self._items is None:
            self._items = list(ChecklistItem.objects.filter(handover=self.h).values(*ITEM_FIELDS))
        return self._items

    @property
    def visits(self) -> list[Visit]:
        if self._visits is None:
            self._visits = list(Visit.objects.filter(handover_client__handover=self.h))
        return self._visits

    @property
    def calls(self) -> list[PhoneCheck]:
        if self._calls is None:
            self._calls = list(PhoneCheck.objects.filter(handover_client__handover=self.h))
        return self._calls

    @property
    def report(self) -> Report | None:
        if self._report is _UNSET:
            self._report = Report.objects.filter(handover=self.h).first()
        return self._report

    # --- who is asked to sign -----------------------------------------------------------

    def item_receivers(self) -> list[int]:
        return sorted({i["receiver_id"] for i in self.items})

    def client_receivers(self) -> list[int]:
        return sorted({hc.receiver_id for hc in self.clients})

    def receiver_items_confirmed(self, receiver_id: int) -> bool:
        mine = [i for i in self.items if i["receiver_id"] == receiver_id]
        return bool(mine) and not rules.unconfirmed_items(mine)

    def receiver_visit_gaps(self, receiver_id: int) -> list[HandoverClient]:
        return rules.visit_gaps([hc for hc in self.clients if hc.receiver_id == receiver_id], self.visits)

    # --- the canonical data ---------------------------------------------------------------

    def _plan(self) -> list[dict]:
        return sorted(
            (
                {
                    "id": hc.pk,
                    "client": hc.client_id,
                    "grade": hc.grade,
                    "receiver": hc.receiver_id,
                    "current_status": hc.current_status,
                    "risks": hc.risks,
                    "next_steps": hc.next_steps,
                    "planned_visit_on": hc.planned_visit_on,
                }
                for hc in self.clients
            ),
            key=lambda row: row["id"],
        )

    def _item_rows(self, receiver_id: int | None = None) -> list[dict]:
        return sorted(
            (
                {
                    "id": i["pk"],
                    "client": i["handover_client_id"],
                    "kind": i["kind"],
                    "title": i["title"],
                    "description": i["description"],
                    "storage_location": i["storage_location"],
                    "receiver": i["receiver_id"],
                    "status": i["status"],
                    "dispute_reason": i["dispute_reason"],
                }
                for i in self.items
                if receiver_id is None or i["receiver_id"] == receiver_id
            ),
            key=lambda row: row["id"],
        )

    def _visit_rows(self, receiver_id: int | None = None) -> list[dict]:
        receiver_of = {hc.pk: hc.receiver_id for hc in self.clients}
        return sorted(
            (
                {
                    "id": v.pk,
                    "client": v.handover_client_id,
                    "visited_on": v.visited_on,
                    "mode": v.mode,
                    "contact_met": v.contact_met,
                    "outcome": v.outcome,
                    "concerns": v.concerns,
                    "confirmed_by_departing": v.departing_confirmed_at is not None,
                    "confirmed_by_receiver": v.receiver_confirmed_at is not None,
                }
                for v in self.visits
                if not v.superseded and (receiver_id is None or receiver_of.get(v.handover_client_id) == receiver_id)
            ),
            key=lambda row: row["id"],
        )

    def _call_rows(self) -> list[dict]:
        return sorted(
            (
                {
                    "id": c.pk,
                    "client": c.handover_client_id,
                    "called_at": c.called_at,
                    "result": c.result,
                    "note": c.note,
                }
                for c in self.calls
                if not c.superseded
            ),
            key=lambda row: row["id"],
        )

    def _report_data(self) -> dict:
        r = self.report
        if r is None:
            return {}
        return {"summary": r.summary, "open_risks": r.open_risks, "advice": r.advice, "figures": r.figures}

    def content(self, purpose: str, signer_id: int | None = None) -> dict:
        data: dict = {"handover": self.h.number, "purpose": str(purpose)}
        if purpose == SignaturePurpose.MATERIALS_RECEIPT:
            data.update(receiver=signer_id, items=self._item_rows(signer_id))
        elif purpose == SignaturePurpose.VISITS:
            data.update(receiver=signer_id, visits=self._visit_rows(signer_id))
        elif purpose in (SignaturePurpose.PLAN_REVIEW, SignaturePurpose.PLAN_APPROVAL):
            data.update(plan=self._plan())
        elif purpose == SignaturePurpose.MATERIALS_REVIEW:
            data.update(items=self._item_rows())
        elif purpose == SignaturePurpose.VISITS_REVIEW:
            data.update(visits=self._visit_rows())
        elif purpose == SignaturePurpose.REPORT_REVIEW:
            data.update(report=self._report_data())
        elif purpose in (SignaturePurpose.CHECKLIST, SignaturePurpose.REPORT_APPROVAL):
            # The final checklist: everything the handover carries, as the three parties and the manager sign it.
            data.update(
                people={
                    "departing": self.h.departing_id,
                    "supervisor": self.h.supervisor_id,
                    "witness": self.h.witness_id,
                    "manager": self.h.manager_id,
                },
                plan=self._plan(),
                items=self._item_rows(),
                visits=self._visit_rows(),
                calls=self._call_rows(),
                sample_seed=self.h.sample_seed,
                report=self._report_data(),
            )
        else:
            raise ValueError(f"unknown signature purpose {purpose!r}")
        return data

    def sha256(self, purpose: str, signer_id: int | None = None) -> str:
        key = (str(purpose), signer_id if purpose in PER_SIGNER else None)
        if key not in self._hashes:
            self._hashes[key] = sha256_of(self.content(purpose, signer_id))
        return self._hashes[key]


class SignatureChecker:
    """Which signatures the handover holds now, which still hold, and who still must sign."""

    def __init__(self, h: Handover, content: SignedContent | None = None, signatures: list[Signature] | None = None):
        self.h = h
        self.version = h.version
        self.content = content or SignedContent(h)
        self._signatures = signatures

    @property
    def signatures(self) -> list[Signature]:
        """The current signature of each person for each purpose (superseded ones left out)."""
        if self._signatures is None:
            self._signatures = list(
                Signature.objects.filter(handover=self.h, superseded_at__isnull=True).defer("image").order_by("pk")
            )
        return self._signatures

    def record(self, sig: Signature) -> None:
        """A signature just stored replaces the signer's earlier one for the purpose."""
        self._signatures = [
            s for s in self.signatures if not (s.purpose == sig.purpose and s.signer_id == sig.signer_id)
        ] + [sig]

    def current(self, purpose: str, signer_id: int) -> Signature | None:
        return next((s for s in self.signatures if s.purpose == purpose and s.signer_id == signer_id), None)

    def is_valid(self, sig: Signature) -> bool:
        return sig.content_sha256 == self.content.sha256(sig.purpose, sig.signer_id)

    def required_signers(self, purpose: str) -> list[int]:
        if purpose == SignaturePurpose.MATERIALS_RECEIPT:
            return self.content.item_receivers()
        if purpose == SignaturePurpose.VISITS:
            return self.content.client_receivers()
        if purpose == SignaturePurpose.CHECKLIST:
            receivers = sorted(set(self.content.item_receivers()) | set(self.content.client_receivers()))
            return [self.h.departing_id, *receivers, self.h.witness_id]
        return [approver_id(self.h, purpose)]

    def missing(self, purpose: str) -> list[int]:
        """Who must (still, or again) sign for this purpose."""
        missing = []
        for signer_id in self.required_signers(purpose):
            sig = self.current(purpose, signer_id)
            if sig is None or not self.is_valid(sig):
                missing.append(signer_id)
        return missing

    def approval_signed(self) -> bool:
        purpose = APPROVAL_PURPOSE_AT.get(self.h.state)
        if purpose is None:
            return False
        sig = self.current(purpose, approver_id(self.h, purpose))
        # Made in this very approval: nothing about the handover changed since.
        return sig is not None and sig.handover_version == self.h.version and self.is_valid(sig)


def approver_id(h: Handover, purpose: str) -> int:
    """The approval's signer: whoever moves the approval that carries it (the flow spec)."""
    if purpose not in APPROVERS:
        raise ValueError(f"{purpose} is not an approval")
    return getattr(h, f"{APPROVERS[purpose]}_id")


class _Params(Mapping):
    """A message's %(n)d and %(names)s, each worked out only if the message names it."""

    def __init__(self, value):
        self.value = value

    def __getitem__(self, key):
        if key == "n":
            return len(self.value) if isinstance(self.value, list) else int(bool(self.value))
        if key == "names":
            return _names_of(self.value) if isinstance(self.value, list) else ""
        raise KeyError(key)

    def __iter__(self):
        return iter(("n", "names"))

    def __len__(self):
        return 2


def _names_of(rows: list) -> str:
    if rows and isinstance(rows[0], int):
        names = dict(User.objects.filter(pk__in=rows).values_list("pk", "full_name"))
        return "、".join(names.get(pk) or str(pk) for pk in rows)
    return "、".join(str(hc.client) for hc in rows[:3])


class Facts:
    """What the conditions of the transitions look at, for the messages of the flow spec (flow.Unmet).

    Over the checker's rows: the handover page passes those it shows, a service lets them be
    read once. The clients are the handover's own (h.clients.all(), prefetched by the page), in
    their order, so the names a message gives are the first in the list.
    """

    def __init__(self, h: Handover, checker: "SignatureChecker | None" = None, *, signer_id: int | None = None):
        self.h = h
        self.checker = checker or checker_for(h)
        # For the facts about one signer's own part (their items, their clients).
        self.signer_id = signer_id
        self._values: dict[str, object] = {}

    def value(self, fact: str):
        if fact not in self._values:
            self._values[fact] = getattr(self, f"_{fact}")()
        return self._values[fact]

    def holds(self, fact: str) -> bool:
        return bool(self.value(fact))

    def params(self, fact: str) -> _Params:
        return _Params(self.value(fact))

    def _plan_gaps(self):
        return rules.plan_gaps(self.h.clients.all(), visits=self.h.goes_through(Part.VISITS))

    def _unconfirmed_items(self):
        return rules.unconfirmed_items(self.checker.content.items)

    def _receipt_unsigned(self):
        return self.checker.missing(SignaturePurpose.MATERIALS_RECEIPT)

    def _visit_gaps(self):
        return rules.visit_gaps(self.h.clients.all(), self.checker.content.visits)

    def _visits_unsigned(self):
        return self.checker.missing(SignaturePurpose.VISITS)

    def _calls_pending(self):
        return self.h.spot_check_outcome()[0]

    def _unaware(self):
        return self.h.spot_check_outcome()[1]

    def _none_unaware(self):
        return not self.h.spot_check_outcome()[1]

    def _summary_missing(self):
        return not rules.report_written(self.checker.content.report)

    def _checklist_unsigned(self):
        return self.checker.missing(SignaturePurpose.CHECKLIST)

    def _approval_unsigned(self):
        return not self.checker.approval_signed()

    def _my_items_unconfirmed(self):
        return not self.checker.content.receiver_items_confirmed(self.signer_id)

    def _my_visit_gaps(self):
        return self.checker.content.receiver_visit_gaps(self.signer_id)


def checker_for(h: Handover) -> SignatureChecker:
    """One checker per handover instance and version, so the conditions of one request share it."""
    cached = h.__dict__.get("_signature_checker")
    if cached is None or cached.version != h.version:
        cached = SignatureChecker(h)
        h.__dict__["_signature_checker"] = cached
    return cached


def forget_checker(h: Handover) -> None:
    h.__dict__.pop("_signature_checker", None)


# ---------------------------------------------------------------------------------------
# What a drawn signature may be

PNG_DATA_URL_PREFIX = "data:image/png;base64,"
MAX_IMAGE_BYTES = 200 * 1024
MAX_IMAGE_PIXELS = (3000, 1500)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class BadImage(ValueError):
    pass


def signature_png(data_url: str) -> bytes:
    """The PNG of a drawn signature, checked, cropped to the ink and re-encoded by us.

    Only a base64 PNG data URL of at most MAX_IMAGE_BYTES that Pillow decodes as a PNG of sane
    size with some ink on it is taken; what is stored is our own re-encoding (no chunks or
    metadata of the sender survive).
    """
    # Pillow is loaded for a drawn signature only, not in every process that checks signatures.
    from PIL import Image, UnidentifiedImageError

    data_url = (data_url or "").strip()
    if not data_url.startswith(PNG_DATA_URL_PREFIX):
        raise BadImage(_("The drawn signature must be a PNG image."))
    encoded = data_url[len(PNG_DATA_URL_PREFIX) :]
    if len(encoded) > (MAX_IMAGE_BYTES * 4) // 3 + 4:
        raise BadImage(_("The drawn signature is too large (at most %(kb)d KB).") % {"kb": MAX_IMAGE_BYTES // 1024})
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadImage(_("The drawn signature could not be read.")) from exc
    if len(raw) > MAX_IMAGE_BYTES:
        raise BadImage(_("The drawn signature is too large (at most %(kb)d KB).") % {"kb": MAX_IMAGE_BYTES // 1024})
    if not raw.startswith(PNG_MAGIC):
        raise BadImage(_("The drawn signature must be a PNG image."))
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format != "PNG":
                raise BadImage(_("The drawn signature must be a PNG image."))
            width, height = img.size
            if width > MAX_IMAGE_PIXELS[0] or height > MAX_IMAGE_PIXELS[1] or width < 1 or height < 1:
                raise BadImage(_("The drawn signature has an unusual size; please draw it again."))
            img.load()
            rgba = img.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadImage(_("The drawn signature could not be read.")) from exc

    # Ink: anything visibly darker than white once laid on white paper.
    paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    gray = Image.alpha_composite(paper, rgba).convert("L")
    ink = gray.point(lambda v: 255 if v < 224 else 0)
    box = ink.getbbox()
    if box is None:
        raise BadImage(_("The signature is empty; please sign in the box."))
    pad = 8
    box = (max(box[0] - pad, 0), max(box[1] - pad, 0), min(box[2] + pad, width), min(box[3] + pad, height))
    out = io.BytesIO()
    rgba.crop(box).save(out, format="PNG", optimize=True)
    return out.getvalue()
