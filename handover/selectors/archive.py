"""The archive: the sealed confirmation of a completed handover, and what a file or code belongs to."""

from .. import codes
from ..models import ArchivedDocument, Handover


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
