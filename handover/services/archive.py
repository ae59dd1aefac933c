"""The archived confirmation: printed once when the last signature lands, sealed, never replaced."""

import contextlib
import hashlib
import logging
import os

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User

from .. import codes, seal
from ..models import ArchivedDocument, Handover, State
from .common import lock_handover, log_event, require_state
from .errors import Conflict

logger = logging.getLogger(__name__)


# The Celery tasks sit above the services (they call them): HandoverConfig.ready() hands the
# archive task's queueing down here, rather than this module importing handover/tasks.py.
_archive_queue: list = []


def queue_archive_with(enqueue) -> None:
    _archive_queue[:] = [enqueue]


def _queue_archive(handover_id: int) -> bool:
    try:
        _archive_queue[0](handover_id)
    except Exception:  # noqa: BLE001 - a broker that is down must not fail the approval; the scan retries
        logger.warning("could not queue the archive of handover %s; the scan will retry", handover_id, exc_info=True)
        return False
    return True


def archives_queue_missing() -> int:
    """Queue the archive of every completed handover that has none; the periodic scan calls it.

    Its queueing at completion may have failed (broker down) or its run may have (seal missing).
    Several scans at once queue the same handover more than once: handover_archive is idempotent
    under the row lock, so the duplicates find the archive made and change nothing.
    """
    missing = list(
        Handover.objects.filter(state=State.COMPLETED, archive__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    if not missing:
        return 0
    try:
        seal.require_configured()
    except seal.SealNotConfigured as exc:
        # Once a scan, not once a handover: nothing can be archived until the seal is in place.
        logger.warning("%d completed handovers wait for their archive: %s", len(missing), exc)
        return 0
    queued = 0
    for handover_id in missing:
        if not _queue_archive(handover_id):
            break  # the broker is down: the next scan tries again
        queued += 1
    return queued


def queue_archive_after_commit(h: Handover, user: User) -> None:
    # The manager's signature was the last: print, seal and archive the confirmation after the commit.
    handover_id = h.pk
    transaction.on_commit(lambda: _queue_archive(handover_id))


def archive_name(h: Handover) -> str:
    # Under the field's upload_to (archive/): one name per handover, so a second file cannot sit beside it.
    return f"{h.number}.pdf"


def handover_archive(*, handover_id: int) -> ArchivedDocument:
    """Render the signed confirmation of a completed handover, seal it, store it with its hash.

    Idempotent: a handover already archived returns its archive untouched. The PDF is rendered
    and sealed before the handover row is locked (it takes seconds for a large book); the
    lock then decides who stores it, and the write-once storage refuses a second file.
    """
    # WeasyPrint takes about a second to load: the PDF module is loaded on the first archive, not at start.
    from .. import pdf

    existing = ArchivedDocument.objects.filter(handover_id=handover_id).first()
    if existing is not None:
        return existing
    h = Handover.objects.get(pk=handover_id)
    require_state(h, State.COMPLETED)
    seal.require_configured()
    code = codes.new_verification_code()
    while ArchivedDocument.objects.filter(verification_code=code).exists():
        code = codes.new_verification_code()
    sealed = seal.seal_pdf(pdf.render_confirmation(h, verification_code=code))
    digest = hashlib.sha256(sealed.data).hexdigest()

    written = None
    try:
        with transaction.atomic():
            h = lock_handover(h)
            existing = ArchivedDocument.objects.filter(handover=h).first()
            if existing is not None:
                return existing
            doc = ArchivedDocument(
                handover=h,
                sha256=digest,
                size=len(sealed.data),
                verification_code=code,
                sealed=True,
                seal_signer=sealed.signer[:300],
            )
            try:
                doc.file.save(archive_name(h), ContentFile(sealed.data), save=False)
            except FileExistsError as exc:
                raise Conflict(
                    _("An archived file for %(number)s already exists; it is never overwritten.") % {"number": h.number}
                ) from exc
            written = doc.file.path
            doc.save()
            log_event(h, actor=None, kind="archived", sha256=digest, code=code)
    except BaseException:
        # The row did not make it: take back the file we wrote, so a retry can write it.
        if written:
            with contextlib.suppress(OSError):
                os.remove(written)
        raise
    return doc
