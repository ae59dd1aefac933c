"""The handover pages. Each action is a short POST view: look the handover up through the
selector (404 if the person may not see it), parse the form, call the service, and go back
to the handover page with the service's message.
"""

import datetime
import json
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import Action, log_anonymous, log_read, logs_reads, note
from clients.importer import XLSX_CONTENT_TYPE, human_size
from clients.importer.results import ImportRowError

from . import policy, selectors, services
from .forms import (
    ClientAnswerForm,
    ClientDropForm,
    ClientSurveyForm,
    CoverReturnDateForm,
    DashboardFilterForm,
    DisputeAnswerForm,
    DisputeForm,
    EvaluationForm,
    HandoverFilterForm,
    HandoverStartForm,
    ItemsConfirmForm,
    NoticeMarkForm,
    NoticeSendForm,
    PhoneCheckForm,
    PlanForm,
    PlanSheetForm,
    ReceiverForm,
    ReceiversBulkForm,
    ReportForm,
    SignedTransitionForm,
    SignForm,
    SplitApplyForm,
    TransitionForm,
    VerifyForm,
    VersionForm,
    VisitForm,
    first_error,
)
from .http import answer_rate_limited, signature_input
from .models import (
    APPROVAL_SIGNATURES,
    SIGNED_AT,
    TRANSITIONS,
    ArchivedDocument,
    ChecklistItem,
    CoverStatus,
    Handover,
    HandoverClient,
    NoticeChannel,
    NoticeStatus,
    Signature,
    State,
    SurveyContinue,
    SurveyStatus,
    Visit,
)
from .templatetags.handover_page import plan_error_lines

PAGE_SIZE = 25


@require_GET
def inbox(request):
    return render(request, "handover/inbox.html", _inbox_context(request))


def _inbox_context(request) -> dict:
    return {"entries": selectors.inbox_for(request.user), "may_start": policy.may_start_handover(request.user)}


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
    return _detail_page(request, pk)


def _page_number(value) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def _detail_page(request, pk: int, *, tab: str = "", grid=None, status: int = 200):
    """The workspace: the tab asked for (default: the stage the handover stands at)."""
    tab = tab or request.GET.get("tab", "")
    page_number = _page_number(request.POST.get("p") if request.method == "POST" else request.GET.get("p"))
    try:
        sort = (request.POST if request.method == "POST" else request.GET).get("sort", "")
        page = selectors.handover_page(request.user, pk, tab=tab, page=page_number, grid=grid, sort=sort)
    except policy.ClientDataWithheld as withheld:
        # The departing person after completion: the header only, still a page of their own.
        summary = selectors.handover_summary(withheld.handover, request.user)
        note(request, f"{summary.handover.number} (summary)")
        return render(request, "handover/summary.html", {"summary": summary, "h": summary.handover})
    note(request, page.handover.number)
    return _render_detail(request, page, status=status)


def _render_detail(request, page, *, status: int = 200):
    return render(request, "handover/detail.html", _detail_context(request, page), status=status)


def _detail_context(request, page, *, disputes=None, cover_date_form=None, **plan_excel) -> dict:
    return {
        "page": page,
        "h": page.handover,
        # Receivers in bulk (None unless this person may change receivers now).
        "receivers_bulk": selectors.receivers_bulk(page.handover, request.user) if page.tab == "plan" else None,
        # Who fits each client best (_receiver_suggestions.html, read when opened), for whoever may change receivers.
        "receiver_suggestions_url": (
            reverse("handover:receiver_suggestions", args=[page.handover.pk])
            if page.tab == "plan" and selectors.receivers_bulk_allowed(page.handover, request.user)
            else ""
        ),
        # The options of the visit and call forms, as the forms that parse them define them.
        "visit_modes": VisitForm.base_fields["mode"].choices,
        "call_results": PhoneCheckForm.base_fields["result"].choices,
        # The departing person's disputed items, each answered in place (_disputes.html).
        "disputes": disputes if disputes is not None else _disputes(request, page.handover),
        # The plan's Excel round trip (_plan_excel.html), on the plan tab.
        "plan_excel": plan_excel_context(page.handover, request.user, **plan_excel) if page.tab == "plan" else None,
        # The client notices (_client_notices.html), on their own tab.
        "notices": _notices_tab(page.handover, request.user) if page.tab == "notices" else None,
        "notice_statuses": NoticeStatus.choices,
        # The visits as calendar events (_visit_calendar.html), on the plan and visits tabs.
        "visit_calendar": (
            visit_calendar_context(page)
            if page.tab in ("plan", "visits") and page.handover.goes_through("visits")
            else None
        ),
        # The clients' satisfaction survey (_client_surveys.html), on its own tab.
        "surveys": selectors.surveys_tab(page.handover, request.user) if page.tab == "surveys" else None,
        "survey_statuses": SurveyStatus.choices,
        # A cover under way (or refused) ended early by HR, and its return date moved (_cover.html).
        "cover_end_url": _cover_end_url(page.handover, request.user),
        "cover_date_url": _cover_date_url(page.handover, request.user),
        "cover_date_form": cover_date_form or CoverReturnDateForm(initial={"returns_on": page.handover.returns_on}),
    }


def _cover_end_url(h: Handover, user) -> str:
    if h.cover_status in (CoverStatus.ACTIVE, CoverStatus.REFUSED) and policy.may_end_cover(h, user):
        return reverse("handover:cover_end", args=[h.pk])
    return ""


def _cover_date_url(h: Handover, user) -> str:
    if h.cover_status in (CoverStatus.PENDING, CoverStatus.ACTIVE) and policy.may_change_return_date(h, user):
        return reverse("handover:cover_return_date", args=[h.pk])
    return ""


def _notices_tab(h: Handover, user):
    # A stage the company chose after this handover passed it: its notices are prepared now.
    services.notices_prepare(h)
    return selectors.notices_tab(h, user)


def _disputes(request, h: Handover) -> list:
    # Read only where there can be some: the departing person's page at the materials.
    if h.state != State.MATERIALS or request.user.pk != h.departing_id:
        return []
    return selectors.disputed_items(request.user, [h.pk]).get(h.pk, [])


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


def _back(h: Handover, anchor: str = "", request=None):
    """Back to the handover, on the tab the person acted from (else the stage it now stands at)."""
    tab = request.POST.get("tab", "") if request is not None else ""
    if tab not in selectors.page.TABS:
        tab = selectors.page.stage_tab(h) if request is not None else ""
    url = reverse("handover:detail", args=[h.pk])
    if tab:
        url += f"?tab={tab}"
        if tab == "plan" and request.POST.get("sort") == "risk":
            url += "&sort=risk"  # the plan stays sorted as the person had it
        page_number = _page_number(request.POST.get("p"))
        if page_number > 1:
            url += f"&p={page_number}"
    return redirect(url + (f"#{anchor}" if anchor else ""))


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
    return _back(h, anchor, request)


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


# The plan grid's inputs, per row: <prefix>-<handover client id>.
PLAN_GRID_FIELDS = {"s": "current_status", "k": "risks", "n": "next_steps", "d": "planned_visit_on"}


def _plan_grid_input(request) -> tuple[list[int], dict[int, dict[str, str]]]:
    """The rows the grid posted (all of them, or the one its row button saved) and what each holds."""
    post = request.POST
    only = post.get("only", "")
    # Every row of the grid carries its digest (o-<id>): the rows posted are those.
    ids = [only] if only else [name[2:] for name in post if name.startswith("o-")]
    rows: dict[int, dict[str, str]] = {}
    for raw in ids:
        try:
            key = int(raw)
        except ValueError:
            continue
        typed = {name: post.get(f"{short}-{key}", "") for short, name in PLAN_GRID_FIELDS.items()}
        typed["row_version"] = post.get(f"v-{key}", "")
        typed["digest"] = post.get(f"o-{key}", "")
        rows[key] = typed
    return list(rows), rows


def _plan_rows(typed: dict[int, dict[str, str]]) -> tuple[list, dict[int, dict[str, str]]]:
    """PlanRows for the service, and the rows whose input does not parse (a bad date)."""
    rows, errors = [], {}
    date_field = forms.DateField()
    for key, values in typed.items():
        shown = selectors.page.plan_digest(*(values[name] for name in PLAN_GRID_FIELDS.values()))
        if values["digest"] and values["digest"] == shown:
            # Not edited since the page showed it: saving the grid confirms the row and nothing else,
            # so someone else's change to it since is no conflict.
            rows.append(services.PlanRow(key, confirm=True))
            continue
        try:
            day = date_field.clean(values["planned_visit_on"]) if values["planned_visit_on"].strip() else None
        except ValidationError as exc:
            errors[key] = {"planned_visit_on": exc.messages[0]}
            continue
        try:
            version = int(values["row_version"]) if values["row_version"] else None
        except ValueError:
            version = None
        rows.append(
            services.PlanRow(
                key,
                current_status=values["current_status"],
                risks=values["risks"],
                next_steps=values["next_steps"],
                planned_visit_on=day,
                clear_planned_visit=day is None,
                row_version=version,
            )
        )
    return rows, errors


@require_POST
def plan_rows(request, pk: int):
    """Save the plan grid: every row on the page (保存全部), or one row (its own button, or as the
    person moves on). All or nothing; a refusal shows on its row with the input kept."""
    h = selectors.handover_for_user(request.user, pk)
    ids, typed = _plan_grid_input(request)
    rows, errors = _plan_rows(typed)
    conflicts: set[int] = set()
    saved: list = []
    general, general_status, rows_status = "", 400, 400
    if not errors:
        try:
            saved = services.plan_save_rows(handover=h, user=request.user, rows=rows)
        except services.RowErrors as exc:
            errors, conflicts, rows_status = exc.rows, exc.conflicts, exc.status
        except services.HandoverError as exc:
            general, general_status = exc.message, exc.status
    if request.htmx and len(ids) == 1:
        return _plan_row_answer(request, h, ids[0], errors, conflicts, general, saved)
    if errors or general:
        if general:
            messages.error(request, general)
        else:
            messages.error(request, services.RowErrors(errors).message)
        grid = selectors.GridInput(typed=typed, errors=errors, conflicts=conflicts)
        status = general_status if general else rows_status
        return _detail_page(request, h.pk, tab="plan", grid=grid, status=status)
    if saved:
        messages.success(request, _("Saved: %(n)s clients' plans.") % {"n": len(saved)})
    else:
        messages.info(request, _("Nothing had changed; the plan is as it was."))
    return _back(h, "plan-grid", request)


def _plan_row_answer(request, h: Handover, key: int, errors, conflicts, general: str, saved) -> HttpResponse:
    """One row saved from the grid without reloading the page: its status cell, and its version
    and digest (out of band) when it saved. The inputs are never replaced, so nothing typed is lost."""
    hc = HandoverClient.objects.filter(pk=key, handover=h).first()
    row_errors = errors.get(key, {})
    context = {
        "key": key,
        "h": h,
        "errors": row_errors,
        "error_lines": plan_error_lines(row_errors, selectors.page.plan_field_labels()),
        "conflict": key in conflicts,
        "row_message": row_errors.get("__all__", ""),
        "general": general,
    }
    if hc is not None and not (errors or general):
        context["hc"] = hc
        context["digest"] = selectors.page.plan_digest(
            hc.current_status, hc.risks, hc.next_steps, hc.planned_visit_on.isoformat() if hc.planned_visit_on else ""
        )
        context["saved"] = True
    response = render(request, "handover/_plan_row_status.html", context, status=200)
    if context.get("saved"):
        response["HX-Trigger"] = json.dumps({"plan-row-saved": {"row": key}})
    return response


@require_GET
@logs_reads(Action.VIEW_HANDOVER)
def plan_row(request, pk: int, hc_pk: int):
    """One row of the plan grid as stored now: the person chose to reload it after a conflict."""
    page = selectors.handover_page(request.user, pk, tab="plan", page=_page_number(request.GET.get("p")))
    note(request, page.handover.number)
    row = next((r for r in page.plan_rows if r.pk == hc_pk), None)
    if row is None:
        raise Http404
    return render(request, "handover/_plan_row.html", {"page": page, "row": row, "h": page.handover})


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
    page = selectors.handover_page(request.user, pk, tab="plan")
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


# ---------------------------------------------------------------------------------------
# Receivers in bulk: one receiver for many clients, or a split previewed, then applied


def _bulk_page(request, h: Handover, form: ReceiversBulkForm | None = None, *, status: int = 200, **panel):
    """The receivers-in-bulk page, with what the person posted kept in place."""
    if form is not None and form.is_bound:
        panel.setdefault("values", form.values())
        panel.setdefault("checked", set(form.hc_ids))
        panel.setdefault("chosen", form.chosen())
        if not form.is_valid():
            errors = panel.setdefault("errors", [])
            errors.extend(str(e) for e in form.non_field_errors())
            panel.setdefault("field_errors", {}).update(
                {name: " ".join(str(e) for e in errs) for name, errs in form.errors.items() if name != "__all__"}
            )
    bulk = selectors.receivers_bulk(h, request.user, show_rows=True, **panel)
    if bulk is None:
        raise PermissionDenied
    return render(request, "handover/receivers_bulk.html", {"h": h, "bulk": bulk}, status=status)


def _bulk_refusal(request, h: Handover, form: ReceiversBulkForm, exc: services.HandoverError):
    """A refusal of the person or of the moment goes back to the handover page with its message; one
    about the input re-renders the form with the input and the message next to it."""
    if isinstance(exc, services.NotAllowed | services.WrongState):
        messages.error(request, exc.message)
        return redirect(reverse("handover:detail", args=[h.pk]) + "?tab=plan")
    if isinstance(exc, services.RowErrors):
        row_errors = {pk: next(iter(errs.values())) for pk, errs in exc.rows.items()}
        return _bulk_page(
            request, h, form, errors=[exc.message], row_errors=row_errors, conflicts=exc.conflicts, status=exc.status
        )
    field = exc.field if exc.field in ("receiver", "receivers") else None
    if field:
        return _bulk_page(request, h, form, field_errors={"receivers": exc.message}, status=400)
    return _bulk_page(request, h, form, errors=[exc.message], status=400)


@require_http_methods(["GET", "POST"])
@logs_reads(Action.VIEW_HANDOVER)
def receivers_bulk(request, pk: int):
    """GET: the page (ticked rows or a filter, and the receivers). POST: one receiver for them all."""
    h = selectors.handover_for_user(request.user, pk)
    if request.method == "GET":
        if not selectors.receivers_bulk_allowed(h, request.user):
            raise PermissionDenied
        return _bulk_page(request, h, values={k: request.GET.get(k, "") for k in ("grade", "industry", "region")})
    form = ReceiversBulkForm(request.POST)
    if not form.is_valid():
        return _bulk_page(request, h, form, status=400)
    chosen = list(form.cleaned_data["receivers"])
    if len(chosen) != 1:
        try:
            # Who may, and when, answer first: a refused person hears that, not about their input.
            services.receivers_set_allowed(handover=h, user=request.user)
        except services.HandoverError as exc:
            return _bulk_refusal(request, h, form, exc)
        message = (
            _("Choose the receiver to give the clients to.")
            if not chosen
            else _("Choose one receiver to give the clients to; to split them among several, preview the split.")
        )
        return _bulk_page(request, h, form, field_errors={"receivers": message}, status=400)
    try:
        changed = services.receivers_set(handover=h, user=request.user, receiver=chosen[0], pick=form.pick())
    except services.HandoverError as exc:
        return _bulk_refusal(request, h, form, exc)
    if changed:
        messages.success(
            request,
            _("%(n)d client(s) now go to %(receiver)s.") % {"n": len(changed), "receiver": chosen[0].display_name},
        )
    else:
        messages.info(
            request,
            _("Nothing changed: these clients already go to %(receiver)s.") % {"receiver": chosen[0].display_name},
        )
    return redirect(reverse("handover:detail", args=[h.pk]) + "?tab=plan")


@require_POST
def receivers_split_preview(request, pk: int):
    """The split the picked clients would get among the chosen receivers: each one's resulting load and
    the client-by-client assignment, with the button that applies exactly that."""
    h = selectors.handover_for_user(request.user, pk)
    form = ReceiversBulkForm(request.POST)
    if not form.is_valid():
        return _bulk_page(request, h, form, status=400)
    try:
        preview = services.receivers_split_preview(
            handover=h,
            user=request.user,
            receivers=list(form.cleaned_data["receivers"]),
            pick=form.pick(),
            mode=form.cleaned_data["mode"] or "even",
        )
    except services.HandoverError as exc:
        return _bulk_refusal(request, h, form, exc)
    return _bulk_page(request, h, form, preview=preview)


@require_POST
def receivers_split_apply(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    # The picking form comes back with the preview, so a refusal shows it as the person left it.
    form = ReceiversBulkForm(request.POST)
    form.is_valid()
    apply = SplitApplyForm(request.POST)
    try:
        if not apply.is_valid():
            services.receivers_set_allowed(handover=h, user=request.user)
            raise services.InvalidInput(first_error(apply))
        changed = services.receivers_split_apply(
            handover=h,
            user=request.user,
            assignment=apply.assignment,
            row_versions=apply.row_versions,
            digest=apply.cleaned_data["digest"],
        )
    except services.HandoverError as exc:
        return _bulk_refusal(request, h, form, exc)
    messages.success(request, _("The split was applied: %(n)d client(s) changed receiver.") % {"n": len(changed)})
    return redirect(reverse("handover:detail", args=[h.pk]) + "?tab=plan")


@require_GET
@logs_reads(Action.VIEW_HANDOVER)
def receiver_suggestions(request, pk: int):
    """For each client, the candidate receivers ranked by fit with the reasons: the table alone for the
    plan tab (htmx), or a page of its own."""
    h = selectors.handover_for_user(request.user, pk)
    suggestions = selectors.suggestions_panel(h, request.user)
    if suggestions is None:
        raise PermissionDenied
    note(request, h.number)
    partial = request.headers.get("HX-Request") == "true"
    template = "handover/_receiver_suggestions_table.html" if partial else "handover/receiver_suggestions.html"
    return render(request, template, {"h": h, "suggestions": suggestions})


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
def item_answer(request, pk: int, item_pk: int):
    """The departing person answers a dispute: hand the item over again with a reply.

    From their to-do or the handover page; on a refusal that page is shown again with the reply
    in its box and the message under it (a refusal of the person is a 403).
    """
    h = selectors.handover_for_user(request.user, pk)
    item = _item(h, item_pk)
    form = DisputeAnswerForm(request.POST)
    where = form.data.get("next") if form.data.get("next") in ("inbox", "detail") else "detail"
    try:
        if not form.is_valid():
            raise services.InvalidInput(first_error(form), field="reply")
        services.item_answer_dispute(
            item=item,
            user=request.user,
            reply=form.cleaned_data["reply"],
            expected_version=form.cleaned_data["version"],
        )
    except services.NotAllowed:
        raise
    except services.HandoverError as exc:
        return _answer_refused(request, h, item, where, reply=form.data.get("reply", ""), error=exc)
    messages.success(
        request, _("Handed over again with your reply: %(item)s. Its receiver is told.") % {"item": item.title}
    )
    if where == "inbox":
        return redirect("handover:inbox")
    return redirect(reverse("handover:detail", args=[h.pk]) + f"?tab=materials#item-{item.pk}")


def _answer_refused(request, h: Handover, item: ChecklistItem, where: str, *, reply: str, error):
    """The page the reply came from again, the reply kept in its row with the reason it was refused."""

    def keep(rows) -> bool:
        for row in rows:
            if row.pk == item.pk:
                row.reply, row.error = reply, error.message
                return True
        return False

    if where == "inbox":
        context = _inbox_context(request)
        kept = any(keep(e.disputes) for e in context["entries"])
        template = "handover/inbox.html"
    else:
        page = selectors.handover_page(request.user, h.pk)
        disputes = selectors.disputed_items(request.user, [h.pk]).get(h.pk, [])
        kept = keep(disputes)
        context = _detail_context(request, page, disputes=disputes)
        template = "handover/detail.html"
        # The handover page shown again is a read of its clients' data like any other.
        note(request, h.number)
        log_read(request, Action.VIEW_HANDOVER, status=200)
    if not kept:
        # The item is no longer disputed: no row to keep the reply in; the message says why.
        messages.error(request, error.message)
    return render(request, template, context, status=error.status)


@require_POST
def items_confirm(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    return _act(
        request,
        h,
        ItemsConfirmForm(request.POST),
        lambda data: services.items_confirm(
            handover=h, user=request.user, item_ids=data["items"], expected_version=data["version"]
        ),
        lambda n: _("%(n)d item(s) confirmed.") % {"n": n},
        anchor="checklist",
    )


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


# ---------------------------------------------------------------------------------------
# The grids: one POST saves every row; a refusal shows the page again with every typed value in
# place and each message on its row, never a redirect that drops the input.


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _posted_rows(request, prefix: str, names: tuple[str, ...]) -> tuple[dict[int, dict[str, str]], dict[int, int]]:
    """({handover client id: {field: value as typed}}, {handover client id: row version}) of a grid's POST."""
    values: dict[int, dict[str, str]] = {}
    versions: dict[int, int] = {}
    # A row is there by its fields ("v-12-outcome"), or named in "row" (a row without any field).
    keys = [*request.POST.getlist("row"), *(k.split("-")[1] for k in request.POST if k.startswith(f"{prefix}-"))]
    for raw in keys:
        pk = _int(raw)
        if pk is None or pk in values:
            continue
        values[pk] = {name: request.POST.get(f"{prefix}-{pk}-{name}", "") for name in names}
        version = _int(request.POST.get(f"{prefix}-{pk}-row_version"))
        if version is not None:
            versions[pk] = version
    return values, versions


def _grid_refused(request, pk: int, grid: str, exc: services.HandoverError, typed_values, versions, selected=()):
    """The handover page again, the grid rebuilt from what was posted, the refusal on its rows."""
    rows = getattr(exc, "rows", {})
    typed = selectors.Typed(
        values=typed_values,
        errors=rows,
        conflicts=getattr(exc, "conflicts", set()),
        row_versions=versions,
        selected=set(selected),
        message=exc.message,
    )
    tab = "visits" if grid == "visits" else "spot_check"
    page = selectors.handover_page(request.user, pk, typed={grid: typed}, tab=tab)
    if getattr(page, f"{grid}_grid") is None:
        # The grid is not this person's (or no longer open): the refusal above the page.
        messages.error(request, exc.message)
    note(request, page.handover.number)
    return _render_detail(request, page, status=exc.status)


def _grid_done(h: Handover, tab: str, anchor: str):
    return redirect(reverse("handover:detail", args=[h.pk]) + f"?tab={tab}#{anchor}")


def visit_rows_from(values: dict[int, dict[str, str]], versions: dict[int, int]):
    """Service rows from typed values; a date that is no date is refused on its row."""
    rows, errors = [], {}
    for pk, v in values.items():
        day = None
        text = (v.get("visited_on") or "").strip()
        if text:
            try:
                day = datetime.date.fromisoformat(text)
            except ValueError:
                errors[pk] = {"visited_on": _("Enter a valid date.")}
        rows.append(
            services.VisitRow(
                pk,
                visited_on=day,
                mode=v.get("mode", ""),
                contact_met=v.get("contact_met", ""),
                outcome=v.get("outcome", ""),
                concerns=v.get("concerns", ""),
                row_version=versions.get(pk),
            )
        )
    if errors:
        raise services.RowErrors(errors)
    return rows


VISIT_GRID_FIELDS = ("visited_on", "mode", "contact_met", "outcome", "concerns")
# What makes a row typed (the mode is a choice that always has a value).
VISIT_TYPED_FIELDS = ("visited_on", "contact_met", "outcome", "concerns")


def visit_defaults_untouched(request, values: dict[int, dict[str, str]]) -> None:
    """A row still showing its defaults (the day and the contact the grid filled in) with no
    outcome or concern typed was not touched: it is no visit, so it is skipped, not refused."""
    for pk, v in values.items():
        shown = request.POST.get(f"v-{pk}-shown")
        untouched = not (v.get("outcome") or "").strip() and not (v.get("concerns") or "").strip()
        if shown is not None and untouched and f"{v.get('visited_on', '')}|{v.get('contact_met', '')}" == shown:
            v["visited_on"] = v["contact_met"] = ""


@require_POST
def visits_save(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    values, versions = _posted_rows(request, "v", VISIT_GRID_FIELDS)
    visit_defaults_untouched(request, values)
    try:
        rows = visit_rows_from(values, versions)
        saved = services.visits_save_rows(handover=h, user=request.user, rows=rows)
    except services.HandoverError as exc:
        return _grid_refused(request, pk, "visits", exc, values, versions)
    if saved:
        messages.success(
            request, _("%(n)d visit(s) recorded; the other salesperson confirms them.") % {"n": len(saved)}
        )
    else:
        messages.info(request, _("Nothing was typed: no visit was recorded."))
    return _grid_done(h, "visits", "visits-grid")


@require_POST
def visits_confirm(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    selected = [v for v in (_int(x) for x in request.POST.getlist("visit")) if v is not None]
    scope = request.POST.get("scope", "all")
    # The grid's typed rows come along (one form): shown again whatever happens, never dropped.
    values, versions = _posted_rows(request, "v", VISIT_GRID_FIELDS)
    visit_defaults_untouched(request, values)
    try:
        if scope == "selected" and not selected:
            raise services.InvalidInput(_("Select the visits to confirm."))
        n = services.visits_confirm(handover=h, user=request.user, visit_ids=selected if scope == "selected" else None)
    except services.HandoverError as exc:
        return _grid_refused(request, pk, "visits", exc, values, versions, selected)
    messages.success(request, _("%(n)d visit(s) confirmed.") % {"n": n})
    typed = {pk: v for pk, v in values.items() if any((v.get(k) or "").strip() for k in VISIT_TYPED_FIELDS)}
    if typed:
        # Visits typed but not saved yet: the page again with them in place (the rows at their new versions).
        messages.warning(request, _("The visits you typed are not saved yet: save them with “Save all visits”."))
        page = selectors.handover_page(request.user, pk, typed={"visits": selectors.Typed(values=typed)}, tab="visits")
        note(request, page.handover.number)
        return _render_detail(request, page)
    return _grid_done(h, "visits", "visits-grid")


@require_GET
@logs_reads(Action.VIEW_HANDOVER)
def visits_sheet(request, pk: int):
    """The visit record of this person's clients as a prefilled .xlsx."""
    h = selectors.handover_for_user(request.user, pk)
    try:
        data = services.visit_sheet_download(handover=h, user=request.user)
    except services.NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    note(request, f"{h.number} (visits sheet)")
    response = HttpResponse(data, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, services.visit_sheet_filename(h))
    return response


@require_POST
def visits_sheet_upload(request, pk: int):
    """The visit record uploaded back: every row through the grid's rules, all or nothing."""
    h = selectors.handover_for_user(request.user, pk)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise services.InvalidInput(_("Choose the .xlsx file of the visit record to upload."))
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise services.SheetErrors([ImportRowError("", None, "", _("The file is too large to be a visit record."))])
        saved = services.visit_sheet_upload(handover=h, user=request.user, data=upload.read(), filename=upload.name)
    except services.HandoverError as exc:
        # The file stays with the person: the page again, with every error by row and column.
        messages.error(request, exc.message)
        if isinstance(exc, services.SheetErrors):
            for line in services.sheet_error_lines(exc):
                messages.error(request, line)
        page = selectors.handover_page(request.user, pk)
        note(request, page.handover.number)
        return _render_detail(request, page, status=exc.status)
    if saved:
        recorded = _("%(n)d visit(s) recorded; the other salesperson confirms them.") % {"n": len(saved)}
        messages.success(request, recorded)
    else:
        messages.info(request, _("The sheet holds no new visit: nothing was recorded."))
    return _grid_done(h, "visits", "visits-grid")


@require_POST
def calls_save(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    values, versions = _posted_rows(request, "c", ("result", "note"))
    rows = [
        services.CallRow(key, result=v["result"], note=v["note"], row_version=versions.get(key))
        for key, v in values.items()
    ]
    try:
        saved = services.calls_save_rows(handover=h, user=request.user, rows=rows)
    except services.HandoverError as exc:
        return _grid_refused(request, pk, "calls", exc, values, versions)
    if saved:
        messages.success(request, _("%(n)d call(s) recorded.") % {"n": len(saved)})
    else:
        messages.info(request, _("Nothing was chosen: no call was recorded."))
    return _grid_done(h, "spot_check", "calls-grid")


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
    # From the duty page, back to it.
    return redirect("handover:duties" if request.POST.get("next") == "duties" else "handover:inbox")


@require_POST
def cover_end(request, pk: int):
    """提前结束代管: HR ends a cover before its return date; the clients go back to the absent person."""
    h = selectors.handover_for_user(request.user, pk)
    try:
        result = services.cover_end(handover=h, by=request.user)
    except services.HandoverError as exc:
        messages.error(request, exc.message)
    else:
        if result.ended:
            message = _("The cover ended: %(n)d client(s) went back to %(name)s.") % {
                "n": result.returned,
                "name": h.departing,
            }
            if result.stayed:
                message += " " + _("Stayed where they were: %(names)s.") % {"names": "、".join(result.stayed[:10])}
            messages.success(request, message)
        else:
            messages.error(request, result.refusal)
    return redirect("handover:detail", pk=h.pk)


@require_POST
def cover_return_date(request, pk: int):
    """HR moves a cover's return date; a refused date comes back on the page with what was typed."""
    h = selectors.handover_for_user(request.user, pk)
    form = CoverReturnDateForm(request.POST)
    try:
        if not form.is_valid():
            raise services.InvalidInput(first_error(form), field="returns_on")
        moved = services.cover_set_return_date(handover=h, by=request.user, returns_on=form.cleaned_data["returns_on"])
    except services.InvalidInput as exc:
        if not form.errors:
            form.add_error("returns_on", exc.message)
        page = selectors.handover_page(request.user, pk, tab="", page=1)
        context = _detail_context(request, page, cover_date_form=form)
        return render(request, "handover/detail.html", context, status=400)
    except services.HandoverError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The return date is now %(date)s.") % {"date": moved.returns_on})
    return redirect("handover:detail", pk=h.pk)


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
    page = Paginator(selectors.archived_handovers(), PAGE_SIZE).get_page(request.GET.get("page"))
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


@require_http_methods(["GET", "POST"])
def verify(request):
    """Does a printed code, or an uploaded PDF, match an archived confirmation?"""
    form = VerifyForm(request.POST or None, request.FILES or None, initial={"code": request.GET.get("code", "")})
    result = None
    if request.method == "POST":
        if form.is_valid() and form.cleaned_data["file"]:
            upload = form.cleaned_data["file"]
            if upload.size > selectors.MAX_VERIFY_BYTES:
                form.add_error("file", _("The file is too large to be one of our documents."))
            else:
                result = selectors.verify_file(upload.read())
        elif form.is_valid() and form.cleaned_data["code"]:
            result = selectors.verify_code(form.cleaned_data["code"])
        elif form.is_valid():
            form.add_error(None, _("Enter the verification code printed on the document, or choose its PDF file."))
    elif request.GET.get("code"):
        result = selectors.verify_code(request.GET["code"])
    return render(request, "handover/verify.html", {"form": form, "result": result})


# ---------------------------------------------------------------------------------------
# Duties after completion


@require_GET
@logs_reads(Action.LIST_CLIENTS)
def duties(request):
    """The duties after completion this person sees (selectors.duties_visible_to), ?late=1 for the late ones."""
    late_only = request.GET.get("late") == "1"
    page = selectors.duty_page(request.user, late_only=late_only, page_number=request.GET.get("page"))
    return render(request, "handover/duties.html", {"page": page, "late_only": late_only})


# The client notice (客户告知函): the "客户告知" tab's actions, and the client's own answer page


@require_POST
def notices_email(request, pk: int):
    return _notices_send(request, pk, NoticeChannel.EMAIL)


@require_POST
def notices_sms(request, pk: int):
    return _notices_send(request, pk, NoticeChannel.SMS)


def _notices_send(request, pk: int, channel: str):
    h = selectors.handover_for_user(request.user, pk)

    def success(deliveries) -> str:
        clients = len({d.notice_id for d in deliveries})
        return ngettext(
            "The notice goes out to %(n)d contact(s) of %(clients)d client; the list shows when it is sent.",
            "The notice goes out to %(n)d contact(s) of %(clients)d clients; the list shows when it is sent.",
            clients,
        ) % {"n": len(deliveries), "clients": clients}

    return _act(
        request,
        h,
        NoticeSendForm(request.POST),
        lambda d: services.notices_send(
            handover=h,
            user=request.user,
            channel=channel,
            handover_client_ids=d["handover_client_ids"],
            expected_version=d["version"],
        ),
        success,
        anchor="notices",
    )


@require_POST
def notice_mark(request, pk: int, hc_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    hc = _client(h, hc_pk)
    return _submit(
        request,
        h,
        NoticeMarkForm,
        services.notice_mark_sent,
        _("Recorded: the notice was given to %(client)s.") % {"client": hc.client.name},
        anchor=f"notice-{hc.pk}",
        handover_client=hc,
    )


@require_GET
@logs_reads(Action.PRINT_HANDOVER)
def notice_letter(request, pk: int, hc_pk: int):
    """One client's notice as a printable letter."""
    h = selectors.handover_for_user(request.user, pk)
    note(request, h.number)
    hc = _client(h, hc_pk)
    return _letters_response(request, h, [hc.pk], f"{h.number}-notice-{hc.pk}")


@require_GET
@logs_reads(Action.PRINT_HANDOVER)
def notice_letters(request, pk: int):
    """Every client's notice this person may send, one letter a page."""
    h = selectors.handover_for_user(request.user, pk)
    note(request, h.number)
    return _letters_response(request, h, [], f"{h.number}-notices")


def _letters_response(request, h: Handover, hc_ids: list[int], name: str):
    try:
        data = services.letters_pdf(handover=h, user=request.user, handover_client_ids=hc_ids)
    except services.NotAllowed as exc:
        raise PermissionDenied from exc
    except services.HandoverError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("handover:detail", args=[h.pk]) + "?tab=notices")
    from . import pdf

    return _pdf_response(data, pdf.filename(h, name.removeprefix(f"{h.number}-")))


@login_not_required
@require_http_methods(["GET", "POST"])
def client_answer(request, token: str):
    """The client's own page, no login: their notice, and their answer. Answers only to its token."""
    return _client_link_page(
        request,
        token,
        action=Action.CLIENT_ANSWER,
        find=selectors.notice_for_token,
        template="handover/client_answer.html",
        what="notice",
        form_class=ClientAnswerForm,
        answer=services.notice_answer,
        context=_client_answer_context,
    )


def _client_answer_context(notice) -> dict:
    return {
        "state": selectors.link_state(notice),
        "notice": notice,
        # The letter as sent, its link (this very page) replaced by a pointer to the form below.
        "texts": selectors.notice_texts(notice, link=_("see below")),
        "answer_label": dict(ClientAnswerForm.base_fields["answer"].choices).get(notice.answer, ""),
        # Told of another receiver before: the page (always the receiver now) says it changed.
        "changed": notice.outdated(),
    }


# The joint visits as calendar events (.ics): one planned visit, one recorded visit, or all of
# this person's. Whoever reads the handover's plan may add them to their calendar.

ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"


def _ics_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=ICS_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


@require_GET
@logs_reads(Action.VIEW_HANDOVER)
def planned_visit_ics(request, pk: int, hc_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    note(request, f"{h.number} (planned visit {hc_pk}.ics)")
    hc = get_object_or_404(selectors.handover_clients(h), pk=hc_pk)
    data = services.planned_visit_ics(h, hc)
    if data is None:
        raise Http404(_("No visit is planned for this client."))
    return _ics_response(data, services.visits_ics_filename(h, f"client-{hc.pk}"))


@require_GET
@logs_reads(Action.VIEW_HANDOVER)
def visit_ics(request, pk: int, visit_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    note(request, f"{h.number} (visit {visit_pk}.ics)")
    visit = get_object_or_404(
        Visit.objects.select_related("handover_client__client", "handover_client__receiver"),
        pk=visit_pk,
        handover_client__handover=h,
    )
    return _ics_response(services.recorded_visit_ics(h, visit), services.visits_ics_filename(h, f"visit-{visit.pk}"))


@require_GET
@logs_reads(Action.VIEW_HANDOVER)
def visits_ics(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    note(request, f"{h.number} (visits.ics)")
    return _ics_response(services.handover_visits_ics(h, request.user), services.visits_ics_filename(h))


def visit_calendar_context(page) -> dict:
    """What templates/handover/_visit_calendar.html shows: the link to all this person's visits as
    one .ics, and on the visits tab one link per visit of the clients on this page of the tab (the
    planned visits and the recorded ones; the plan tab's grid stays light: its rows are the page's
    weight). Read from the page's rows: no query of its own."""
    h = page.handover
    planned, recorded = [], []
    for group in page.content.groups if page.tab == "visits" else ():
        for row in group.clients:
            if row.planned_visit_on:
                url = reverse("handover:planned_visit_ics", args=[h.pk, row.pk])
                planned.append({"client": row.name, "day": row.planned_visit_on, "url": url})
            if page.tab == "visits":
                for v in row.visits:
                    url = reverse("handover:visit_ics", args=[h.pk, v.pk])
                    recorded.append({"client": row.name, "day": v.visited_on, "url": url})
    return {"all_url": reverse("handover:visits_ics", args=[h.pk]), "planned": planned, "recorded": recorded}


# ---------------------------------------------------------------------------------------
# After the handover: what became of each client (issue 14)


@require_GET
@logs_reads(Action.VIEW_HANDOVER)
def outcomes(request, pk: int):
    """交接后: each client's outcome since completion; for whoever reads the handover's clients."""
    h = selectors.handover_for_user(request.user, pk)
    note(request, h.number)
    return render(request, "handover/outcomes.html", _outcomes_context(request, h))


def _outcomes_context(request, h: Handover, *, form=None) -> dict:
    rows = selectors.outcomes_for_handover(h) if h.is_completed else []
    panel = selectors.evaluation_panel(h, request.user)
    if form is None and panel.may_evaluate:
        form = EvaluationForm()
    return {
        "h": h,
        "outcomes": rows,
        "summary": selectors.outcome_summary(rows),
        "evaluation": panel,
        "evaluation_form": form,
    }


@require_POST
def evaluate(request, pk: int):
    """交接评估: the supervisor's scores and comment; a refused form comes back with what was typed."""
    h = selectors.handover_for_user(request.user, pk)
    if not policy.may_evaluate(h, request.user):
        raise PermissionDenied(_("Only the handover's supervisor evaluates it."))
    form = EvaluationForm(request.POST)
    back = reverse("handover:outcomes", args=[h.pk]) + "#evaluation"
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.handover_evaluate(
                handover=h,
                user=request.user,
                materials=data["materials_score"],
                feedback=data["feedback_score"],
                adaptation=data["adaptation_score"],
                comment=data["comment"],
            )
        except services.InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except services.HandoverError as exc:
            messages.error(request, exc.message)
            return redirect(back)
        else:
            messages.success(request, _("The evaluation of handover %(number)s was saved.") % {"number": h.number})
            return redirect(back)
    h = selectors.handover_for_user(request.user, pk)
    return render(request, "handover/outcomes.html", _outcomes_context(request, h, form=form), status=400)


def _client_link(request, token: str, *, action: str, find, template: str, what: str):
    """The one way into a client's own page (the notice, the survey), no login: rate-limited by
    address and by link, every opening logged, 404 for a wrong token. (link, None) or (None, response)."""
    if answer_rate_limited(request, token):
        log_anonymous(request, action, detail="rate limited", refused=True)
        response = render(request, template, {"state": "limited"}, status=429)
        response["Retry-After"] = str(settings.CLIENT_ANSWER_RATE_WINDOW)
        return None, response
    link = find(token)
    if link is None:
        log_anonymous(request, action, detail=f"{request.method} unknown link", refused=True)
        raise Http404
    number = link.handover_client.handover.number
    log_anonymous(request, action, detail=f"{request.method} {number} {what} {link.pk}")
    return link, None


def _client_link_page(request, token: str, *, form_class, answer, context, **gate):
    """A client's own page (the notice, the survey) and the answer posted to it: `answer` is the
    service (token=..., the form's fields), `context` the page's own part of its context, by the link.
    A recorded answer redirects to the page; a refused one comes back with what was typed (400), one
    to a link closed meanwhile with the link as it now is (409)."""
    link, refused = _client_link(request, token, **gate)
    if refused:
        return refused
    form = form_class(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                answer(token=token, **form.cleaned_data)
            except services.LinkClosed:
                link.refresh_from_db()
                status = 409
            except services.InvalidInput as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return redirect(request.path)
    page = {"company": settings.COMPANY_NAME, "form": form, **context(link)}
    response = render(request, gate["template"], page, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


# The client's satisfaction survey (客户满意度回访): their own page, and the handover's tab


@login_not_required
@require_http_methods(["GET", "POST"])
def client_survey(request, token: str):
    """The client's survey page, no login: a rating, whether they continue, a comment. Only its own survey."""
    return _client_link_page(
        request,
        token,
        action=Action.CLIENT_SURVEY,
        find=selectors.survey_for_token,
        template="handover/client_survey.html",
        what="survey",
        form_class=ClientSurveyForm,
        answer=services.survey_answer,
        context=_client_survey_context,
    )


def _client_survey_context(survey) -> dict:
    hc = survey.handover_client
    return {
        "state": selectors.survey_state(survey),
        "survey": survey,
        "client_name": hc.client.name,
        "receiver": hc.receiver.display_name,
        "continue_label": dict(SurveyContinue.choices).get(survey.will_continue, ""),
    }


def client_page_surveys(client, user) -> str:
    """The client page's section of survey answers (registered in HandoverConfig.ready())."""
    answers = selectors.client_survey_answers(client.pk)
    if not answers:
        return ""
    return render_to_string("handover/_client_page_surveys.html", {"answers": answers})


# ---------------------------------------------------------------------------------------
# The dashboard (issue 14, item 4): managers and HR see every department, a supervisor their own


def _dashboard(request):
    if not selectors.may_see_dashboard(request.user):
        raise PermissionDenied(_("The dashboard is for managers, HR and supervisors."))
    form = DashboardFilterForm(request.GET or None, departments=selectors.dashboard_departments(request.user))
    filters = form.filters()
    board = selectors.dashboard_figures(request.user, **filters)
    after = selectors.after_handover_figures(request.user, **filters)
    return form, board, selectors.dashboard_tables(board) + selectors.after_handover_tables(after)


@require_GET
def dashboard(request):
    form, board, tables = _dashboard(request)
    return render(request, "handover/dashboard.html", {"form": form, "board": board, "tables": tables})


@require_GET
def dashboard_xlsx(request):
    """The dashboard's tables, one after another on one sheet, as the page shows them."""
    from clients.exports import neutralize, xlsx_bytes

    _form, board, tables = _dashboard(request)
    period = f"{board.date_from or ''} – {board.date_to or ''}"
    rows: list[list] = [[_("period"), period], [_("department"), str(board.department or _("All departments"))]]
    for table in tables:
        rows += [[], [table.title], [str(h) for h in table.headers]]
        rows += [[neutralize(v) if isinstance(v, str) else v for v in row] for row in table.rows]
    data = xlsx_bytes([_("Handover dashboard")], rows, sheet_title=_("Handover dashboard"))
    response = HttpResponse(data, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, "dashboard.xlsx")
    return response
