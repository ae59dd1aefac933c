"""The print links of each stage and, once completed, the archive download."""

from django.urls import reverse
from django.utils.translation import gettext as _

from ... import policy
from ...models import ArchivedDocument, ArchiveJob, ArchiveJobState, Handover, State


def print_links(h: Handover, user) -> list[tuple[str, str]]:
    if not policy.may_print(h, user):
        return []
    labels = {
        "plan": _("Print the plan"),
        "materials": _("Print the materials list"),
        "visits": _("Print the visits record"),
    }
    # Only the parts this handover goes through (the plan always does).
    return [
        (label, reverse("handover:print_stage", args=[h.pk, stage]))
        for stage, label in labels.items()
        if h.goes_through(stage)
    ]


def archive_url(h: Handover, user) -> str:
    archive = getattr(h, "archive", None) if h.state == State.COMPLETED else None
    if archive is None or not policy.is_archivist(user):
        return ""
    return reverse("handover:archive_download", args=[h.pk])


def may_download_archive(h: Handover, user) -> bool:
    return h.state == State.COMPLETED and policy.is_archivist(user) and policy.may_read_client_data(h, user)


def archive_status(h: Handover, user) -> dict | None:
    """How far the archived confirmation of a completed handover has got, for the partial
    templates/handover/_archive_status.html and the API; None for those who may not download it.

    state: "ready" (download_url), "pending" (being made; the partial polls status_url),
    "failed" (error, and retry_url to ask again).
    """
    if not may_download_archive(h, user):
        return None
    doc = ArchivedDocument.objects.filter(handover_id=h.pk).only("pk", "sha256", "verification_code", "created_at")
    doc = doc.first()
    job = ArchiveJob.objects.filter(handover_id=h.pk).first()
    status = {
        "handover_id": h.pk,
        "number": h.number,
        "state": "pending",
        "error": "",
        "attempts": job.attempts if job else 0,
        "download_url": "",
        "verification_code": "",
        "sha256": "",
        "status_url": reverse("handover:archive_status", args=[h.pk]),
        "retry_url": reverse("handover:archive_now", args=[h.pk]),
    }
    if doc is not None:
        status.update(
            state="ready",
            download_url=reverse("handover:archive_download", args=[h.pk]),
            verification_code=doc.verification_code,
            sha256=doc.sha256,
        )
    elif job is not None and job.state == ArchiveJobState.FAILED:
        status.update(state="failed", error=job.error or _("The confirmation could not be made."))
    return status
