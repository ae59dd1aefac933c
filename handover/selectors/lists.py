"""What the API reads (handover/api.py): each list and object under /api/handovers/{id}/."""

from django.db.models import QuerySet

from ..models import ChecklistItem, Event, Handover, HandoverClient, PhoneCheck, Report, Signature, Visit


def handover_fresh(h: Handover) -> Handover:
    """The handover as stored now (after a service changed it)."""
    return Handover.objects.get(pk=h.pk)


def row_in(queryset: QuerySet, pk):
    """One row of a handover's list by id, or None: one of another handover is as absent as a missing one."""
    return queryset.filter(pk=pk).first()


def handover_clients(h: Handover) -> QuerySet[HandoverClient]:
    return HandoverClient.objects.filter(handover=h).select_related("client", "receiver")


def checklist_items(h: Handover) -> QuerySet[ChecklistItem]:
    return ChecklistItem.objects.filter(handover=h).select_related("receiver")


def handover_visits(h: Handover) -> QuerySet[Visit]:
    return Visit.objects.filter(handover_client__handover=h).select_related("handover_client__client", "recorded_by")


def handover_phone_checks(h: Handover) -> QuerySet[PhoneCheck]:
    return PhoneCheck.objects.filter(handover_client__handover=h).select_related("handover_client__client", "witness")


def handover_report(h: Handover) -> Report:
    """The report, or an unsaved empty one."""
    return Report.objects.filter(handover=h).first() or Report(handover=h)


def handover_events(h: Handover) -> QuerySet[Event]:
    return Event.objects.filter(handover=h).select_related("actor")


def current_signatures(h: Handover) -> QuerySet[Signature]:
    """The signatures that count now (superseded ones left out), oldest first, without their images."""
    return (
        Signature.objects.filter(handover=h, superseded_at__isnull=True)
        .select_related("signer")
        .defer("image")
        .order_by("signed_at", "pk")
    )
