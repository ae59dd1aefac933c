"""The handover pages. Each action is a short POST view: look the handover up through the
selector (404 if the person may not see it), parse the form, call the service, and go back
to the handover page with the service's message.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import Action, logs_reads, note
from clients.importer import XLSX_CONTENT_TYPE, human_size

from . import codes, policy, seal, selectors, services
from .forms import (
    ClientDropForm,
    DisputeForm,
    HandoverFilterForm,
    HandoverStartForm,
    PhoneCheckForm,
    PlanForm,
    PlanSheetForm,
    ReceiverForm,
    ReportForm,
    SignedTransitionForm,
    SignForm,
    TransitionForm,
    VerifyForm,
    VersionForm,
    VisitForm,
    first_error,
)
from .http import signature_input
from .models import (
    APPROVAL_SIGNATURES,
    SIGNED_AT,
    TRANSITIONS,
    ArchivedDocument,
    ChecklistItem,
    Handover,
    HandoverClient,
    Signature,
    State,
    Visit,
)

PAGE_SIZE = 25


@require_GET
def inbox(request):
    context = {"entries": selectors.inbox_for(request.user), "may_start": policy.may_start_handover(request.user)}
    return render(request, "handover/inbox.html", context)


@require_GET
def handover_list(request):
    form = HandoverFilterForm(request.GET)
    handovers = selectors.handovers_for_list(request.user, **form.filters())
    page = Paginator(handovers, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "may_start": policy.may_start_handover(request.user),
        "may_archive": policy.is_archivist(request.user),
    }
    return render(request, "handover/list.html", context)


@require_http_methods(["GET", "POST"])
def handover_start(request):
    if not policy.may_start_handover(request.user):
        raise PermissionDenied
    form = HandoverStartForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            h = services.handover_start(started_by=request.user, **form.cleaned_data)
        except services.HandoverError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Handover %(number)s started.") % {"number": h.number})
            return redirect("handover:detail", pk=h.pk)
    return render(request, "handover/start.html", {"form": form})


@require_GET
@logs_reads(Action.VIEW_HANDOVER)
def handover_detail(request, pk: int):
    try:
        page = selectors.handover_page(request.user, pk)
    except policy.ClientDataWithheld as withheld:
        # The departing person after completion: the header only, still a page of their own.
        summary = selectors.handover_summary(withheld.handover, request.user)
        note(request, f"{summary.handover.number} (summary)")
        return render(request, "handover/summary.html", {"summary": summary, "h": summary.handover})
    note(request, page.handover.number)
    return render(request, "handover/detail.html", _detail_context(request, page))


def _detail_context(request, page, **plan_excel) -> dict:
    return {
        "page": page,
        "h": page.handover,
        # The options of the visit and call forms, as the forms that parse them define them.
        "visit_modes": VisitForm.base_fields["mode"].choices,
        "call_results": PhoneCheckForm.base_fields["result"].choices,
        "plan_excel": plan_excel_context(page.handover, request.user, **plan_excel),
    }


def plan_excel_context(h: Handover, user, *, errors=(), summary: str = "", form_error: str = "") -> dict:
    """What templates/handover/_plan_excel.html shows: the download link, the upload form (for those
    who may upload, while the plan is open) and the last upload's errors by row and column."""
    plan_open = h.state == State.PLAN
    may_upload = plan_open and policy.may_upload_plan(h, user)
    return {
        "download_url": (
            reverse("handover:plan_download", args=[h.pk])
            if policy.may_download_plan(h, user, plan_open=plan_open)
            else ""
        ),
        "upload_url": reverse("handover:plan_upload", args=[h.pk]) if may_upload else "",
        "receivers_only": may_upload and not policy.may_fill_plan(h, user),
        "errors": list(errors),
        "summary": summary,
        "form_error": form_error,
        "max_rows": settings.IMPORT_MAX_ROWS,
        "max_size": human_size(settings.IMPORT_MAX_BYTES),
    }


# ---------------------------------------------------------------------------------------
# Actions


def _back(h: Handover, anchor: str = ""):
    return redirect(reverse("handover:detail", args=[h.pk]) + (f"#{anchor}" if anchor else ""))


def _act(request, h: Handover, form, action: Callable[[dict], object], success, *, anchor: str = ""):
    """Run the service with the parsed form; a refusal becomes a message, never a 500."""
    try:
        if not form.is_valid():
            raise services.InvalidInput(first_error(form))
        result = action(form.cleaned_data)
    except services.HandoverError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success(result) if callable(success) else success)
    return _back(h, anchor)


def _form_service(request, service: Callable, **target) -> Callable[[dict], object]:
    """The service called with the form's fields as its keyword arguments: each action form declares
    exactly what its service takes, besides the person, the object acted on and the version."""

    def call(data: dict):
        fields = {name: value for name, value in data.items() if name != "version"}
        return service(user=request.user, expected_version=data["version"], **target, **fields)

    return call


def _submit(request, h: Handover, form_class, service: Callable, success, *, anchor: str, **target):
    """A POST action whose form maps onto its service field by field, on one object (target) of the handover."""
    form = form_class(request.POST)
    return _act(request, h, form, _form_service(request, service, **target), success, anchor=anchor)


def _client(h: Handover, hc_pk: int) -> HandoverClient:
    return get_object_or_404(HandoverClient, pk=hc_pk, handover=h)


def _item(h: Handover, item_pk: int) -> ChecklistItem:
    return get_object_or_404(ChecklistItem, pk=item_pk, handover=h)


@require_POST
def transition(request, pk: int, name: str):
    h = selectors.handover_for_user(request.user, pk)
    if name not in TRANSITIONS:
        raise Http404
    if name in APPROVAL_SIGNATURES:
        # Sign and approve: the signature and the approval are stored together or not at all.
        return _act(
            request,
            h,
            SignedTransitionForm(request.POST),
            lambda d: services.handover_transition(
                handover=h,
                name=name,
                user=request.user,
                comment=d["comment"],
                expected_version=d["version"],
                signature=signature_input(request, d),
            ),
            lambda moved: (
                _("Signed and approved: the handover is now at “%(state)s”.") % {"state": moved.get_state_display()}
            ),
        )
    return _act(
        request,
        h,
        TransitionForm(request.POST),
        lambda d: services.handover_transition(
            handover=h, name=name, user=request.user, comment=d["comment"], expected_version=d["version"]
        ),
        lambda moved: _("Done: the handover is now at “%(state)s”.") % {"state": moved.get_state_display()},
    )


@require_POST
def sign(request, pk: int, purpose: str):
    h = selectors.handover_for_user(request.user, pk)
    if purpose not in SIGNED_AT:
        raise Http404
    return _act(
        request,
        h,
        SignForm(request.POST),
        lambda d: services.handover_sign(
            handover=h,
            user=request.user,
            purpose=purpose,
            signature=signature_input(request, d),
            expected_version=d["version"],
        ),
        _("Signed. Your signature holds as long as what you signed stays as it is."),
        anchor="signatures",
    )


@require_GET
def signature_image(request, pk: int, signature_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    sig = get_object_or_404(Signature, pk=signature_pk, handover=h)
    if not sig.image:
        raise Http404
    response = HttpResponse(bytes(sig.image), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_POST
def plan_update(request, pk: int, hc_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    hc = _client(h, hc_pk)
    success = _("The plan for %(client)s was saved.") % {"client": hc.client}
    return _submit(
        request,
        h,
        PlanForm,
        services.handover_client_update_plan,
        success,
        anchor=f"client-{hc.pk}",
        handover_client=hc,
    )


@require_GET
@logs_reads(Action.PRINT_HANDOVER)
def plan_download(request, pk: int):
    """The plan as an .xlsx, prefilled with every client's row, to fill in offline and upload back."""
    h = selectors.handover_for_user(request.user, pk)
    note(request, f"{h.number} plan.xlsx")
    if not policy.may_download_plan(h, request.user, plan_open=h.state == State.PLAN):
        raise PermissionDenied
    response = HttpResponse(services.plan_workbook(h), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=services.plan_filename(h))
    return response


@require_POST
def plan_upload(request, pk: int):
    """The filled-in plan uploaded back: every row saved, or none with every error by row and column
    on the page again (the file input is all there is to keep; the sheet is still on the person's disk)."""
    h = selectors.handover_for_user(request.user, pk)
    back = reverse("handover:detail", args=[h.pk]) + "?tab=plan#plan-excel"
    if not policy.may_upload_plan(h, request.user):
        messages.error(request, _("Only the departing salesperson fills in the plan."))
        return redirect(back)
    form = PlanSheetForm(request.POST, request.FILES)
    if not form.is_valid():
        return _plan_upload_refused(request, pk, form_error=first_error(form))
    upload = form.cleaned_data["file"]
    try:
        saved = services.plan_sheet_upload(handover=h, user=request.user, data=upload.read(), filename=upload.name)
    except services.SheetErrors as exc:
        return _plan_upload_refused(request, pk, errors=exc.errors, summary=exc.message)
    except services.HandoverError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(
        request,
        ngettext(
            "The plan was uploaded: %(n)d client's row changed.",
            "The plan was uploaded: %(n)d clients' rows changed.",
            len(saved),
        )
        % {"n": len(saved)},
    )
    return redirect(back)


def _plan_upload_refused(request, pk: int, **plan_excel):
    page = selectors.handover_page(request.user, pk)
    return render(request, "handover/detail.html", _detail_context(request, page, **plan_excel), status=400)


@require_POST
def receiver_set(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    return _act(
        request,
        h,
        ReceiverForm(request.POST, handover=h),
        _form_service(request, services.handover_client_set_receiver),
        lambda hc: _("%(client)s now goes to %(receiver)s.") % {"client": hc.client, "receiver": hc.receiver},
        anchor="checklist",
    )


@require_POST
def client_drop(request, pk: int, hc_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    hc = _client(h, hc_pk)
    # Named now: the row is gone once the service has run.
    success = _("%(client)s was removed from the handover; the reason is on the timeline.") % {"client": hc.client.name}
    return _submit(
        request, h, ClientDropForm, services.handover_client_drop, success, anchor="timeline", handover_client=hc
    )


@require_POST
def item_hand_over(request, pk: int, item_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    item = _item(h, item_pk)
    success = _("Handed over: %(item)s.") % {"item": item.title}
    return _submit(request, h, VersionForm, services.item_hand_over, success, anchor=f"item-{item.pk}", item=item)


@require_POST
def items_hand_over_all(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    return _submit(
        request,
        h,
        VersionForm,
        services.items_hand_over_all,
        lambda n: _("%(n)d item(s) handed over.") % {"n": n},
        anchor="checklist",
        handover=h,
    )


@require_POST
def item_confirm(request, pk: int, item_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    item = _item(h, item_pk)
    success = _("Confirmed: %(item)s.") % {"item": item.title}
    return _submit(request, h, VersionForm, services.item_confirm, success, anchor=f"item-{item.pk}", item=item)


@require_POST
def items_confirm_all(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    return _submit(
        request,
        h,
        VersionForm,
        services.items_confirm_all,
        lambda n: _("%(n)d item(s) confirmed.") % {"n": n},
        anchor="checklist",
        handover=h,
    )


@require_http_methods(["GET", "POST"])
@logs_reads(Action.VIEW_HANDOVER)
def item_dispute(request, pk: int, item_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    item = _item(h, item_pk)
    if request.method == "GET":
        note(request, h.number)
        # A page of its own: a reason box on each of thousands of rows would weigh down the handover page.
        return render(request, "handover/dispute.html", {"h": h, "item": item})
    success = _("Disputed: %(item)s. The departing salesperson will hand it over again.") % {"item": item.title}
    return _submit(request, h, DisputeForm, services.item_dispute, success, anchor=f"item-{item.pk}", item=item)


@require_POST
def visit_record(request, pk: int, hc_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    hc = _client(h, hc_pk)
    success = _("The visit to %(client)s was recorded; the other salesperson confirms it.") % {"client": hc.client}
    return _submit(request, h, VisitForm, services.visit_record, success, anchor=f"client-{hc.pk}", handover_client=hc)


@require_POST
def visit_confirm(request, pk: int, visit_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    visit = get_object_or_404(Visit, pk=visit_pk, handover_client__handover=h)
    return _submit(
        request,
        h,
        VersionForm,
        services.visit_confirm,
        _("Visit confirmed."),
        anchor=f"client-{visit.handover_client_id}",
        visit=visit,
    )


@require_POST
def phone_check_record(request, pk: int, hc_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    hc = _client(h, hc_pk)
    success = _("The call to %(client)s was recorded.") % {"client": hc.client}
    return _submit(
        request, h, PhoneCheckForm, services.phone_check_record, success, anchor=f"client-{hc.pk}", handover_client=hc
    )


@require_POST
def report_update(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    return _submit(
        request, h, ReportForm, services.report_update, _("The report was saved."), anchor="report", handover=h
    )


@require_POST
def revoke_access(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    try:
        services.handover_revoke_access(handover=h, user=request.user)
    except services.HandoverError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s can no longer log in.") % {"name": h.departing})
    return redirect("handover:inbox")


# ---------------------------------------------------------------------------------------
# Printing, the archive and verification


def _pdf_response(data: bytes, filename: str, *, attachment: bool = False) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@logs_reads(Action.PRINT_HANDOVER)
def print_stage(request, pk: int, stage: str):
    """The plan, materials or visits list as a PDF, for the people of the handover."""
    # WeasyPrint takes about a second to load: the PDF module is loaded on the first print, not at start.
    from . import pdf

    h = selectors.handover_for_user(request.user, pk)
    note(request, h.number)
    if stage not in pdf.STAGE_LISTS:
        raise Http404
    if not policy.may_print(h, request.user):
        raise PermissionDenied
    return _pdf_response(pdf.render_stage_list(h, stage), pdf.filename(h, stage))


@require_GET
def archive_list(request):
    """HR's print page: every completed handover, its archived confirmation ready to download."""
    policy.require_archivist(request.user)
    handovers = (
        Handover.objects.filter(state=State.COMPLETED)
        .select_related("departing__department", "archive")
        .order_by("-completed_at", "-id")
    )
    page = Paginator(handovers, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "handover/archive.html", {"page": page})


@require_GET
@logs_reads(Action.DOWNLOAD_ARCHIVE)
def archive_download(request, pk: int):
    """The archived file as stored: never rendered again."""
    policy.require_archivist(request.user)
    doc = get_object_or_404(ArchivedDocument.objects.select_related("handover"), handover_id=pk)
    note(request, doc.handover.number)
    # HR who left through this very handover downloads no more of its clients than anyone who left.
    policy.require_client_data(doc.handover, request.user)
    response = FileResponse(
        doc.file.open("rb"),
        as_attachment=True,
        filename=f"{doc.handover.number}.pdf",
        content_type="application/pdf",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def archive_now(request, pk: int):
    """Archive a completed handover whose archiving did not happen (say, the seal was missing then)."""
    policy.require_archivist(request.user)
    h = policy.require_client_data(get_object_or_404(Handover, pk=pk, state=State.COMPLETED), request.user)
    try:
        doc = services.handover_archive(handover_id=h.pk)
    except services.HandoverError as exc:
        messages.error(request, exc.message)
    except seal.SealNotConfigured:
        messages.error(request, _("The company seal is not set up; ask the administrator to run seal_setup."))
    else:
        messages.success(request, _("%(number)s is archived.") % {"number": h.number} + f" SHA-256 {doc.sha256}")
    return redirect("handover:archive")


@dataclass(frozen=True)
class VerifyResult:
    archive: ArchivedDocument | None
    sha256: str = ""
    code: str = ""
    seal: object = None


MAX_VERIFY_BYTES = 50 * 1024 * 1024


@require_http_methods(["GET", "POST"])
def verify(request):
    """Does a printed code, or an uploaded PDF, match an archived confirmation?"""
    form = VerifyForm(request.POST or None, request.FILES or None, initial={"code": request.GET.get("code", "")})
    result = None
    if request.method == "POST":
        if form.is_valid() and form.cleaned_data["file"]:
            upload = form.cleaned_data["file"]
            if upload.size > MAX_VERIFY_BYTES:
                form.add_error("file", _("The file is too large to be one of our documents."))
            else:
                data = upload.read()
                digest = hashlib.sha256(data).hexdigest()
                result = VerifyResult(
                    archive=selectors.archive_matching(sha256=digest), sha256=digest, seal=seal.verify_pdf(data)
                )
        elif form.is_valid() and form.cleaned_data["code"]:
            code = form.cleaned_data["code"]
            result = VerifyResult(
                archive=selectors.archive_matching(code=code), code=codes.normalize_code(code) or code
            )
        elif form.is_valid():
            form.add_error(None, _("Enter the verification code printed on the document, or choose its PDF file."))
    elif request.GET.get("code"):
        code = request.GET["code"]
        result = VerifyResult(archive=selectors.archive_matching(code=code), code=codes.normalize_code(code) or code)
    return render(request, "handover/verify.html", {"form": form, "result": result})
