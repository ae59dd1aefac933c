import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.access import Action, log_access

from .exports import client_rows, csv_chunks, header_row, xlsx_bytes
from .filters import PAGE_SIZE, CappedPaginator, filter_clients
from .hooks import export_locked
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
