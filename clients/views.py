import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import Action, log_access

from .exports import client_rows, csv_chunks, header_row, xlsx_bytes
from .filters import PAGE_SIZE, CappedPaginator, filter_clients
from .followups import FollowUpForm, NotAllowedToRecord, follow_up_record, may_record_follow_up
from .hooks import client_sections, export_locked
from .models import Client, FollowUpKind
from .selectors import client_for_detail, client_receivables, client_totals, clients_visible_to

logger = logging.getLogger(__name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@require_GET
def client_list(request):
    form, clients = filter_clients(clients_visible_to(request.user), request.GET)
    number = request.GET.get("page")
    page = CappedPaginator(clients, PAGE_SIZE, page_number=number).get_page(number)
    log_access(request, Action.LIST_CLIENTS, detail=request.GET.urlencode())
    context = {"form": form, "page": page, "sort_links": form.sort_links()}
    return render(request, "clients/client_list.html", context)


@require_GET
def client_detail(request, pk: int):
    try:
        client = client_for_detail(request.user, pk)
    except Http404:
        # Asking for a client one may not see is logged too, refused (the client itself stays unnamed).
        log_access(request, Action.VIEW_CLIENT, detail=request.path, refused=True)
        raise
    log_access(request, Action.VIEW_CLIENT, client=client)
    receivables = client_receivables(client)
    context = {"client": client, "receivables": receivables, "totals": client_totals(client, receivables)}
    if may_record_follow_up(request.user, client):
        context["follow_up_form"] = FollowUpForm(client=client)
    context["other_sections"] = client_sections(client, request.user)
    return render(request, "clients/client_detail.html", context)


@require_GET
def client_export(request):
    # Client data is confidential: who took (or tried to take) a copy of which slice is logged.
    filters = request.GET.urlencode()
    if not request.user.has_perm("clients.export_client"):
        log_access(request, Action.EXPORT_CLIENTS, detail=filters, refused=True)
        raise PermissionDenied
    if export_locked(request.user):
        # The procedures forbid a departing person from taking client data once the handover starts.
        log_access(request, Action.EXPORT_CLIENTS, detail=filters, refused=True)
        raise PermissionDenied(_("Your clients are being handed over; exporting them is no longer allowed."))
    _form, clients = filter_clients(clients_visible_to(request.user), request.GET)
    log_access(request, Action.EXPORT_CLIENTS, detail=filters)
    logger.info("client export by %s with filters %s", request.user.username, filters)
    stem = f"clients-{timezone.localdate():%Y%m%d}"
    if request.GET.get("format") == "xlsx":
        body = xlsx_bytes(header_row(), client_rows(clients), sheet_title=_("Clients"))
        response = HttpResponse(body, content_type=XLSX_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{stem}.xlsx"'
        return response
    response = StreamingHttpResponse(
        csv_chunks(header_row(), client_rows(clients)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    return response


def _next_url(request, client) -> str:
    """Where to go once recorded: the page it came from (the duty page) if on this site, else the client."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("clients:detail", args=[client.pk]) + "#follow-ups"


@require_http_methods(["GET", "POST"])
def follow_up_add(request, pk: int):
    """添加跟进: the form (GET; ?kind= and ?next= prefill it) and recording it (POST), for the client's owner."""
    try:
        client = clients_visible_to(request.user).select_related("owner").get(pk=pk)
    except Client.DoesNotExist:
        log_access(request, Action.VIEW_CLIENT, detail=request.path, refused=True)
        raise Http404 from None
    if not may_record_follow_up(request.user, client):
        log_access(request, Action.VIEW_CLIENT, client=client, detail=request.path, refused=True)
        raise PermissionDenied(_("Only the client's current owner records its follow-ups."))
    next_url = _next_url(request, client)
    if request.method == "POST":
        form = FollowUpForm(request.POST, client=client)
        if form.is_valid():
            try:
                recorded = follow_up_record(form=form, user=request.user)
            except NotAllowedToRecord as exc:
                raise PermissionDenied(str(exc)) from None
            message = _("The follow-up of %(client)s was recorded.") % {"client": client.name}
            if recorded.closed:
                message += " " + _("%(n)d duty(ies) after the handover closed by it.") % {"n": recorded.closed}
            messages.success(request, message)
            return redirect(next_url)
    else:
        log_access(request, Action.VIEW_CLIENT, client=client, detail=request.path)
        initial = {}
        if request.GET.get("kind") in FollowUpKind.values:
            initial["kind"] = request.GET["kind"]
        form = FollowUpForm(client=client, initial=initial)
    context = {"client": client, "form": form, "next": next_url}
    return render(request, "clients/follow_up_form.html", context, status=400 if form.is_bound else 200)
