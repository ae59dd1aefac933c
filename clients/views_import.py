"""Client-book import pages: upload, check or import, and the template download."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import Action, log_access

from .forms import ClientBookImportForm
from .importer import (
    SHEETS,
    XLSX_CONTENT_TYPE,
    client_book_import,
    client_book_template,
    error_count_message,
)


@require_http_methods(["GET", "POST"])
@permission_required("clients.import_client", raise_exception=True)
def client_import(request):
    result = None
    if request.method == "POST":
        form = ClientBookImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            result = client_book_import(
                data=upload.read(),
                filename=upload.name,
                user=request.user,
                dry_run=form.cleaned_data["dry_run"],
            )
            outcome = "errors" if not result.ok else ("checked" if result.dry_run else "imported")
            log_access(request, Action.IMPORT_CLIENTS, detail=f"{upload.name} ({outcome})")
            if result.ok and not result.dry_run:
                messages.success(request, result.summary())
                return redirect("clients:list")
    else:
        form = ClientBookImportForm()
    context = {
        "form": form,
        "result": result,
        "error_summary": error_count_message(result) if result and result.errors else "",
        "sheets": SHEETS,
    }
    return render(request, "clients/import.html", context)


@require_GET
@permission_required("clients.import_client", raise_exception=True)
def client_import_template(request):
    response = HttpResponse(client_book_template(user=request.user), content_type=XLSX_CONTENT_TYPE)
    filename = _("client-book-template") + ".xlsx"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
