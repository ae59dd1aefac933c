from django.db.models import QuerySet

from .models import Notification


def notifications_for(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("handover")


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
