from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .models import Notification
from .selectors import notifications_for
from .services import notifications_mark_read


@require_GET
def notification_list(request):
    page = Paginator(notifications_for(request.user), 30).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"page": page})


@require_POST
def notification_read(request, pk: int):
    """Mark one notice read and go where it points (only to this site)."""
    notification = Notification.objects.filter(user=request.user, pk=pk).first()
    if notification is None:
        return redirect("notifications")
    notifications_mark_read(user=request.user, ids=[pk])
    if notification.url and url_has_allowed_host_and_scheme(notification.url, allowed_hosts={request.get_host()}):
        return redirect(notification.url)
    return redirect("notifications")


@require_POST
def notification_read_all(request):
    n = notifications_mark_read(user=request.user)
    messages.success(request, _("%(n)d notification(s) marked as read.") % {"n": n})
    return redirect("notifications")
