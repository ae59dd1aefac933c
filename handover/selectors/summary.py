"""What the departing person keeps of a completed handover."""

from dataclasses import dataclass

from django.utils import timezone

from .. import signing
from ..models import Handover, SignaturePurpose
from .display import labels, local_time


@dataclass(frozen=True)
class OwnSignature:
    purpose_label: str
    signed_at: str
    valid: bool


@dataclass(frozen=True)
class HandoverSummary:
    """The header of a handover, without a word about its clients (see may_read_client_data)."""

    handover: Handover
    clients: int
    signatures: list[OwnSignature]


def handover_summary(h: Handover, user) -> HandoverSummary:
    # Validity is worked out over the whole signed content here, on the server; only the verdict leaves.
    checker = signing.SignatureChecker(h)
    purposes = labels(SignaturePurpose.choices)
    tz = timezone.get_current_timezone()
    own = [
        OwnSignature(purposes.get(sig.purpose, sig.purpose), local_time(sig.signed_at, tz), checker.is_valid(sig))
        for sig in sorted(checker.signatures, key=lambda s: (s.signed_at, s.pk))
        if sig.signer_id == user.pk
    ]
    return HandoverSummary(handover=h, clients=h.clients.count(), signatures=own)
