"""Who may see which clients. Every list, detail page, search and export goes through here."""

from django.db.models import Q, QuerySet

from accounts.roles import Role

from .models import Client


def clients_visible_to(user) -> QuerySet[Client]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Client.objects.none()
    if user.is_superuser or user.has_perm("clients.view_all_clients"):
        return Client.objects.all()
    condition = Q(owner=user)
    if user.has_role(Role.SUPERVISOR):
        # A supervisor sees their department's book and any department they head.
        if user.department_id:
            condition |= Q(owner__department_id=user.department_id)
        condition |= Q(owner__department__head=user)
    return Client.objects.filter(condition)
