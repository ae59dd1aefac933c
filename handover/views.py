"""The handover pages. Each action is a short POST view: look the handover up through the
selector (404 if the person may not see it), parse the form, call the service, and go back
to the handover page with the service's message.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import Action, logs_reads, note

from . import codes, policy, seal, selectors, services
from .forms import (
    ClientDropForm,
    DisputeForm,
    HandoverFilterForm,
    HandoverStartForm,
    PhoneCheckForm,
    PlanForm,
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
    context = {
        "page": page,
        "h": page.handover,
        # The options of the visit and call forms, as the forms that parse them define them.
        "visit_modes": VisitForm.base_fields["mode"].choices,
        "call_results": PhoneCheckForm.base_fields["result"].choices,
    }
    return render(request, "handover/detail.html", context)


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
    # A site with no scheduler still gets its archives: the ones lost on this page are asked again.
    waiting = [h for h in page if not hasattr(h, "archive")]
    services.archives_ask_again(h.pk for h in waiting)
    for h in waiting:
        h.archive_progress = selectors.archive_status(h, request.user)
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
    """Ask again for the archive of a completed handover whose archiving failed or never came (say,
    the seal was missing then). It is made in the background; the pages show when it is ready."""
    policy.require_archivist(request.user)
    h = policy.require_client_data(get_object_or_404(Handover, pk=pk, state=State.COMPLETED), request.user)
    try:
        services.archive_retry(handover=h, user=request.user)
    except services.HandoverError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, _("The confirmation of %(number)s is being made.") % {"number": h.number})
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=False):
        return redirect(back)
    return redirect("handover:archive")


@require_GET
def archive_status(request, pk: int):
    """The archived confirmation's progress, as the partial the pages poll (_archive_status.html)."""
    policy.require_archivist(request.user)
    h = get_object_or_404(Handover, pk=pk, state=State.COMPLETED)
    status = selectors.archive_status(h, request.user)
    if status is None:
        raise PermissionDenied
    # A job a dead process left behind is asked for again when someone looks.
    if status["state"] == "pending":
        services.archives_ask_again([h.pk])
    response = render(
        request, "handover/_archive_status.html", {"archive": status, "next": request.GET.get("next", "")}
    )
    response["Cache-Control"] = "no-store"
    return response


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
