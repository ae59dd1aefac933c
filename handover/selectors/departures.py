"""The departures the HR system registered: HR reads them (GET /api/hr/departures/); no one else."""

from django.db.models import QuerySet

from .. import policy
from ..models import HrDeparture


def hr_departures_for(user) -> QuerySet[HrDeparture]:
    if not policy.may_register_departures(user):
        return HrDeparture.objects.none()
    return HrDeparture.objects.select_related("handover").order_by("-registered_at", "-id")
