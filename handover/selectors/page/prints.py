"""The print links of each stage and, once completed, the archive download."""

from django.urls import reverse
from django.utils.translation import gettext as _

from ... import policy
from ...models import Handover, State


def print_links(h: Handover, user) -> list[tuple[str, str]]:
    if not policy.may_print(h, user):
        return []
    return [
        (_("Print the plan"), reverse("handover:print_stage", args=[h.pk, "plan"])),
        (_("Print the materials list"), reverse("handover:print_stage", args=[h.pk, "materials"])),
        (_("Print the visits record"), reverse("handover:print_stage", args=[h.pk, "visits"])),
    ]


def archive_url(h: Handover, user) -> str:
    archive = getattr(h, "archive", None) if h.state == State.COMPLETED else None
    if archive is None or not policy.is_archivist(user):
        return ""
    return reverse("handover:archive_download", args=[h.pk])
