"""The archive: the sealed confirmation of a completed handover, and what a file or code belongs to."""

import hashlib
from dataclasses import dataclass

from django.db.models import QuerySet

from .. import codes
from ..models import ArchivedDocument, Handover, State
from ..seal import SealCheck, verify_pdf

# Larger than any confirmation we print: an upload over it is refused unread.
MAX_VERIFY_BYTES = 50 * 1024 * 1024


def archive_for(h: Handover) -> ArchivedDocument | None:
    return ArchivedDocument.objects.filter(handover=h).first()


def archive_matching(*, sha256: str = "", code: str = "") -> ArchivedDocument | None:
    """The archive a file (by its SHA-256) or a verification code belongs to, if any."""
    queryset = ArchivedDocument.objects.select_related("handover__departing")
    if sha256:
        return queryset.filter(sha256=sha256.lower()).first()
    code = codes.normalize_code(code)
    if code:
        return queryset.filter(verification_code=code).first()
    return None


def archived_handovers() -> QuerySet[Handover]:
    """HR's archive list (page and API): every completed handover, newest first, with its archive if made."""
    return (
        Handover.objects.filter(state=State.COMPLETED)
        .select_related("departing__department", "archive")
        .order_by("-completed_at", "-id")
    )


@dataclass(frozen=True)
class VerifyResult:
    """What a printed code or an uploaded file was found to be (the verify page and the API)."""

    archive: ArchivedDocument | None
    sha256: str = ""
    code: str = ""
    seal: SealCheck | None = None


def verify_code(code: str) -> VerifyResult:
    return VerifyResult(archive=archive_matching(code=code), code=codes.normalize_code(code) or code)


def verify_file(data: bytes) -> VerifyResult:
    """The archive whose file has these very bytes, and whether the company seal on them holds."""
    digest = hashlib.sha256(data).hexdigest()
    return VerifyResult(archive=archive_matching(sha256=digest), sha256=digest, seal=verify_pdf(data))
