"""The archived confirmation: printed once the last signature lands, sealed, never replaced.

Never inside a request: the completion writes an ArchiveJob row in its own transaction (so no
broker outage can lose it); after the commit Celery is asked to make the archive, or, with no
broker (no Redis: tasks would run eagerly, inside the request) or one that is down, a thread of
this process makes it. The periodic scan, and the pages that show a job waiting too long, ask
again for any that a dead process left behind. Whoever makes it, the handover's row lock and
the write-once storage keep it to one archive.
"""

import contextlib
import datetime
import hashlib
import logging
import os

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .. import codes, origin, policy, seal
from ..models import ArchivedDocument, ArchiveJob, ArchiveJobState, ConfirmationAnnex, Handover, State
from .background import InProcess
from .common import lock_handover, log_event, require_state
from .errors import Conflict, HandoverError, NotAllowed

logger = logging.getLogger(__name__)

# A job waiting this long was lost (its process ended before its thread ran, say): asked again.
STALE_PENDING = datetime.timedelta(minutes=2)
STALE_RUNNING = datetime.timedelta(minutes=15)


# The Celery tasks sit above the services (they call them): HandoverConfig.ready() hands the
# archive task's queueing down here, rather than this module importing handover/tasks.py.
_archive_queue: list = []
# Whether Celery runs tasks eagerly (no broker): its .delay would then run the task in the caller.
_broker_eager: list = [lambda: False]


def queue_archive_with(enqueue, *, eager=None) -> None:
    _archive_queue[:] = [enqueue]
    _broker_eager[:] = [eager or (lambda: False)]


def _queue_archive(handover_id: int) -> bool:
    if not _archive_queue:
        return False
    try:
        _archive_queue[0](handover_id)
    except Exception:  # noqa: BLE001 - a broker that is down must not fail the approval; the scan retries
        logger.warning("could not queue the archive of handover %s; the scan will retry", handover_id, exc_info=True)
        return False
    return True


in_process = InProcess(lambda handover_id: archive_job_run_logged(handover_id), "archive")
# How archive_soon hands a job to this process; tests that run inside one transaction replace it
# (a thread could not see their rows).
_run_in_process: list = [in_process.submit]


# The annex printed ahead (ConfirmationAnnex), the same way: a Celery task, or a thread of this process.
_annex_queue: list = []
annex_in_process = InProcess(lambda handover_id: confirmation_annex_print_logged(handover_id), "annex")
_annex_run_in_process: list = [annex_in_process.submit]


def queue_annex_with(enqueue) -> None:
    _annex_queue[:] = [enqueue]


def annex_soon(handover_id: int) -> str:
    """Ask for the confirmation's annex to be printed ahead, never in the caller (see archive_soon)."""
    if not _broker_eager[0]() and _annex_queue:
        try:
            _annex_queue[0](handover_id)
        except Exception:  # noqa: BLE001 - a broker that is down must not fail the signature
            logger.warning("could not queue the annex of handover %s; a thread prints it", handover_id, exc_info=True)
        else:
            return "queued"
    _annex_run_in_process[0](handover_id)
    return "thread"


def confirmation_annex_print(*, handover_id: int) -> ConfirmationAnnex | None:
    """Print the annex of a handover whose checklist the three parties have signed, and keep it
    for the archive; nothing once the archive exists. Printing it again replaces it."""
    from .. import pdf

    if ArchivedDocument.objects.filter(handover_id=handover_id).exists():
        return None
    annex = pdf.render_confirmation_annex(handover_id)
    row, _created = ConfirmationAnnex.objects.update_or_create(
        handover_id=handover_id,
        defaults={
            "html_sha256": annex.sha256,
            "pdf": annex.pdf,
            "pages": pdf.page_count(annex.pdf),
            "printed_at": timezone.now(),
        },
    )
    return row


def confirmation_annex_print_logged(handover_id: int) -> ConfirmationAnnex | None:
    """confirmation_annex_print for a thread: a failure is logged (the archive prints the annex itself)."""
    try:
        return confirmation_annex_print(handover_id=handover_id)
    except Exception:  # noqa: BLE001 - only a head start: the archive prints what is missing
        logger.exception("the annex of handover %s could not be printed ahead", handover_id)
        return None


def archive_soon(handover_id: int) -> str:
    """Ask for the archive of a completed handover to be made, never making it in the caller.

    "queued" for a Celery worker; "thread" for this process's archive thread, when there is no
    broker (Celery would run the task eagerly, here) or it cannot be reached.
    """
    if not _broker_eager[0]() and _queue_archive(handover_id):
        return "queued"
    _run_in_process[0](handover_id)
    return "thread"


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
    """The manager's signature was the last: the job is written now, in the completion's
    transaction; the archive is made after the commit, elsewhere."""
    ArchiveJob.objects.update_or_create(
        handover=h,
        defaults={
            "state": ArchiveJobState.PENDING,
            "error": "",
            "site_url": origin.current(),
            "updated_at": timezone.now(),
        },
    )
    handover_id = h.pk
    transaction.on_commit(lambda: archive_soon(handover_id))


def archives_ask_again(handover_ids=None) -> int:
    """Ask again for the archives whose job was lost: waiting or running far too long, or completed
    handovers with no job at all (completed before jobs were kept). The pages call it for the
    handovers they show, so that a site with no scheduler still gets its archives."""
    now = timezone.now()
    handovers = Handover.objects.filter(state=State.COMPLETED, archive__isnull=True)
    if handover_ids is not None:
        handovers = handovers.filter(pk__in=list(handover_ids))
    ids = []
    for pk, job_state, updated_at in handovers.values_list("pk", "archive_job__state", "archive_job__updated_at"):
        if (
            job_state is None
            or (job_state == ArchiveJobState.PENDING and updated_at < now - STALE_PENDING)
            or (job_state == ArchiveJobState.RUNNING and updated_at < now - STALE_RUNNING)
        ):
            ids.append(pk)
    for pk in ids:
        ArchiveJob.objects.get_or_create(handover_id=pk)
        ArchiveJob.objects.filter(handover_id=pk).update(updated_at=now)
        archive_soon(pk)
    return len(ids)


@transaction.atomic
def archive_retry(*, handover: Handover | int, user: User) -> ArchiveJob:
    """An archivist asks again for an archive that failed (or never came); made in the background."""
    h = lock_handover(handover)
    require_state(h, State.COMPLETED)
    if not policy.is_archivist(user):
        raise NotAllowed(_("Only HR and the administrators archive confirmations."))
    policy.require_client_data(h, user)
    job, _created = ArchiveJob.objects.get_or_create(handover=h)
    if not ArchivedDocument.objects.filter(handover=h).exists():
        job.state, job.error, job.updated_at = ArchiveJobState.PENDING, "", timezone.now()
        if not job.site_url:
            job.site_url = origin.current()
        job.save(update_fields=["state", "error", "updated_at", "site_url"])
        handover_id = h.pk
        transaction.on_commit(lambda: archive_soon(handover_id))
    return job


def _job_update(handover_id: int, **fields) -> None:
    ArchiveJob.objects.filter(handover_id=handover_id).update(updated_at=timezone.now(), **fields)


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, HandoverError):
        return str(exc.message)
    if isinstance(exc, seal.SealNotConfigured):
        return _("The company seal is not set up; ask the administrator to run seal_setup.")
    return _("The confirmation could not be made; it is tried again automatically.")


def archive_job_run_logged(handover_id: int) -> ArchivedDocument | None:
    """archive_job_run for a thread: a failure is recorded on the job and logged, not raised."""
    try:
        return archive_job_run(handover_id=handover_id)
    except Exception:  # noqa: BLE001 - recorded on the job; the scan or the retry button tries again
        logger.exception("the archive of handover %s failed", handover_id)
        return None


def archive_job_run(*, handover_id: int) -> ArchivedDocument:
    """Make the archive of one handover and keep its job's state: running, then done or failed."""
    ArchiveJob.objects.get_or_create(handover_id=handover_id)
    _job_update(handover_id, state=ArchiveJobState.RUNNING, attempts=F("attempts") + 1)
    try:
        doc = handover_archive(handover_id=handover_id)
    except BaseException as exc:
        _job_update(handover_id, state=ArchiveJobState.FAILED, error=_failure_message(exc)[:500])
        raise
    _job_update(handover_id, state=ArchiveJobState.DONE, error="")
    return doc


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
    site_url = ArchiveJob.objects.filter(handover_id=handover_id).values_list("site_url", flat=True).first() or ""
    printed = ConfirmationAnnex.objects.filter(handover_id=handover_id).values_list("html_sha256", "pdf").first()
    annex = pdf.Annex(printed[0], bytes(printed[1])) if printed else None
    sealed = seal.seal_pdf(pdf.render_confirmation(h, verification_code=code, site_url=site_url, annex=annex))
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
            # Joined into the archive (or printed again there): no longer needed.
            ConfirmationAnnex.objects.filter(handover=h).delete()
            log_event(h, actor=None, kind="archived", sha256=digest, code=code)
    except BaseException:
        # The row did not make it: take back the file we wrote, so a retry can write it.
        if written:
            with contextlib.suppress(OSError):
                os.remove(written)
        raise
    return doc
