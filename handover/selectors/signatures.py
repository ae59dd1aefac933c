"""The signatures of a handover: whether each still holds, and the page's signature panel."""

from dataclasses import dataclass, field

from django.urls import reverse

from .. import flow, signing
from ..models import SIGNED_AT, Handover, SignatureMethod, SignaturePurpose
from .display import Row, labels, local_time, url_pattern


def signature_statuses(h: Handover, checker: "signing.SignatureChecker | None" = None) -> list[dict]:
    """The current signatures with whether each still holds: for pages and the API."""
    checker = checker or signing.checker_for(h)
    return [{"signature": sig, "valid": checker.is_valid(sig)} for sig in checker.signatures]


@dataclass(slots=True)
class SignatureRow(Row):
    pk: int
    purpose: str
    purpose_label: str
    signer_id: int
    signer: str
    method_label: str
    typed_name: str
    signed_at: str
    valid: bool
    image_url: str = ""


@dataclass(frozen=True)
class SignatureNeed:
    """One person the current stage asks to sign, and where they stand."""

    signer: str
    status: str  # valid, invalid, missing


@dataclass
class SignaturePanel:
    rows: list[SignatureRow] = field(default_factory=list)
    # The current stage's own signatures (receipt, visits or checklist), person by person.
    purpose_label: str = ""
    needs: list[SignatureNeed] = field(default_factory=list)
    # The viewer's signing form, when they must sign now; otherwise why they cannot yet.
    sign_url: str = ""
    sign_label: str = ""
    sign_blocked: str = ""
    invalid_mine: bool = False


def signature_panel(h: Handover, user, checker: "signing.SignatureChecker", names: dict, tz) -> SignaturePanel:
    purposes = labels(SignaturePurpose.choices)
    methods = labels(SignatureMethod.choices)
    image = url_pattern("handover:signature_image", h.pk)
    order = list(SignaturePurpose.values)
    panel = SignaturePanel()
    for sig in sorted(checker.signatures, key=lambda s: (s.signed_at, order.index(s.purpose), s.pk)):
        panel.rows.append(
            SignatureRow(
                pk=sig.pk,
                purpose=sig.purpose,
                purpose_label=purposes.get(sig.purpose, sig.purpose),
                signer_id=sig.signer_id,
                signer=names.get(sig.signer_id, ""),
                method_label=methods.get(sig.method, sig.method),
                typed_name=sig.typed_name,
                signed_at=local_time(sig.signed_at, tz),
                valid=checker.is_valid(sig),
                image_url=image.format(sig.pk) if sig.method == SignatureMethod.DRAWN else "",
            )
        )
    panel.invalid_mine = any(r.signer_id == user.pk and not r.valid for r in panel.rows)
    purpose = next((p for p, state in SIGNED_AT.items() if state == h.state), None)
    if purpose is None:
        return panel
    panel.purpose_label = purposes[purpose]
    for signer_id in checker.required_signers(purpose):
        sig = checker.current(purpose, signer_id)
        status = "missing" if sig is None else ("valid" if checker.is_valid(sig) else "invalid")
        panel.needs.append(SignatureNeed(names.get(signer_id, str(signer_id)), status))
        if signer_id != user.pk or status == "valid":
            continue
        panel.sign_blocked = flow.sign_unmet_message(purpose, signing.Facts(h, checker, signer_id=user.pk), hint=True)
        if not panel.sign_blocked:
            panel.sign_url = reverse("handover:sign", args=[h.pk, purpose])
            panel.sign_label = str(flow.SIGNATURES[purpose].label)
    return panel
