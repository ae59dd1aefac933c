"""The handover pages. Each action is a short POST view: look the handover up through the
selector (404 if the person may not see it), parse the form, call the service, and go back
to the handover page with the service's message.
"""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import selectors, services
from .forms import (
    DisputeForm,
    HandoverFilterForm,
    HandoverStartForm,
    PhoneCheckForm,
    PlanForm,
    ReceiverForm,
    ReportForm,
    TransitionForm,
    VersionForm,
    VisitForm,
    first_error,
)
from .models import TRANSITIONS, ChecklistItem, Handover, HandoverClient, Visit

PAGE_SIZE = 25


@require_GET
def inbox(request):
    context = {"entries": selectors.inbox_for(request.user), "may_start": services.may_start_handover(request.user)}
    return render(request, "handover/inbox.html", context)


@require_GET
def handover_list(request):
    form = HandoverFilterForm(request.GET)
    handovers = selectors.handovers_for_list(request.user, **form.filters())
    page = Paginator(handovers, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "may_start": services.may_start_handover(request.user),
    }
    return render(request, "handover/list.html", context)


@require_http_methods(["GET", "POST"])
def handover_start(request):
    if not services.may_start_handover(request.user):
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
def handover_detail(request, pk: int):
    page = selectors.handover_page(request.user, pk)
    return render(request, "handover/detail.html", {"page": page, "h": page.handover})


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


def _client(h: Handover, hc_pk: int) -> HandoverClient:
    return get_object_or_404(HandoverClient, pk=hc_pk, handover=h)


def _item(h: Handover, item_pk: int) -> ChecklistItem:
    return get_object_or_404(ChecklistItem, pk=item_pk, handover=h)


@require_POST
def transition(request, pk: int, name: str):
    h = selectors.handover_for_user(request.user, pk)
    if name not in TRANSITIONS:
        raise Http404
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
def plan_update(request, pk: int, hc_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    hc = _client(h, hc_pk)
    return _act(
        request,
        h,
        PlanForm(request.POST),
        lambda d: services.handover_client_update_plan(
            handover_client=hc,
            user=request.user,
            current_status=d["current_status"],
            risks=d["risks"],
            next_steps=d["next_steps"],
            planned_visit_on=d["planned_visit_on"],
            expected_version=d["version"],
        ),
        _("The plan for %(client)s was saved.") % {"client": hc.client},
        anchor=f"client-{hc.pk}",
    )


@require_POST
def receiver_set(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    return _act(
        request,
        h,
        ReceiverForm(request.POST, handover=h),
        lambda d: services.handover_client_set_receiver(
            handover_client=d["handover_client"],
            user=request.user,
            receiver=d["receiver"],
            expected_version=d["version"],
        ),
        lambda hc: _("%(client)s now goes to %(receiver)s.") % {"client": hc.client, "receiver": hc.receiver},
        anchor="checklist",
    )


@require_POST
def item_hand_over(request, pk: int, item_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    item = _item(h, item_pk)
    return _act(
        request,
        h,
        VersionForm(request.POST),
        lambda d: services.item_hand_over(item=item, user=request.user, expected_version=d["version"]),
        _("Handed over: %(item)s.") % {"item": item.title},
        anchor=f"item-{item.pk}",
    )


@require_POST
def items_hand_over_all(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    return _act(
        request,
        h,
        VersionForm(request.POST),
        lambda d: services.items_hand_over_all(handover=h, user=request.user, expected_version=d["version"]),
        lambda n: _("%(n)d item(s) handed over.") % {"n": n},
        anchor="checklist",
    )


@require_POST
def item_confirm(request, pk: int, item_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    item = _item(h, item_pk)
    return _act(
        request,
        h,
        VersionForm(request.POST),
        lambda d: services.item_confirm(item=item, user=request.user, expected_version=d["version"]),
        _("Confirmed: %(item)s.") % {"item": item.title},
        anchor=f"item-{item.pk}",
    )


@require_POST
def items_confirm_all(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    return _act(
        request,
        h,
        VersionForm(request.POST),
        lambda d: services.items_confirm_all(handover=h, user=request.user, expected_version=d["version"]),
        lambda n: _("%(n)d item(s) confirmed.") % {"n": n},
        anchor="checklist",
    )


@require_http_methods(["GET", "POST"])
def item_dispute(request, pk: int, item_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    item = _item(h, item_pk)
    if request.method == "GET":
        # A page of its own: a reason box on each of thousands of rows would weigh down the handover page.
        return render(request, "handover/dispute.html", {"h": h, "item": item})
    return _act(
        request,
        h,
        DisputeForm(request.POST),
        lambda d: services.item_dispute(
            item=item, user=request.user, reason=d["reason"], expected_version=d["version"]
        ),
        _("Disputed: %(item)s. The departing salesperson will hand it over again.") % {"item": item.title},
        anchor=f"item-{item.pk}",
    )


@require_POST
def visit_record(request, pk: int, hc_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    hc = _client(h, hc_pk)
    return _act(
        request,
        h,
        VisitForm(request.POST),
        lambda d: services.visit_record(
            handover_client=hc,
            user=request.user,
            visited_on=d["visited_on"],
            mode=d["mode"],
            contact_met=d["contact_met"],
            outcome=d["outcome"],
            concerns=d["concerns"],
            expected_version=d["version"],
        ),
        _("The visit to %(client)s was recorded; the other salesperson confirms it.") % {"client": hc.client},
        anchor=f"client-{hc.pk}",
    )


@require_POST
def visit_confirm(request, pk: int, visit_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    visit = get_object_or_404(Visit, pk=visit_pk, handover_client__handover=h)
    return _act(
        request,
        h,
        VersionForm(request.POST),
        lambda d: services.visit_confirm(visit=visit, user=request.user, expected_version=d["version"]),
        _("Visit confirmed."),
        anchor=f"client-{visit.handover_client_id}",
    )


@require_POST
def phone_check_record(request, pk: int, hc_pk: int):
    h = selectors.handover_for_user(request.user, pk)
    hc = _client(h, hc_pk)
    return _act(
        request,
        h,
        PhoneCheckForm(request.POST),
        lambda d: services.phone_check_record(
            handover_client=hc, user=request.user, result=d["result"], note=d["note"], expected_version=d["version"]
        ),
        _("The call to %(client)s was recorded.") % {"client": hc.client},
        anchor=f"client-{hc.pk}",
    )


@require_POST
def report_update(request, pk: int):
    h = selectors.handover_for_user(request.user, pk)
    return _act(
        request,
        h,
        ReportForm(request.POST),
        lambda d: services.report_update(
            handover=h,
            user=request.user,
            summary=d["summary"],
            open_risks=d["open_risks"],
            advice=d["advice"],
            expected_version=d["version"],
        ),
        _("The report was saved."),
        anchor="report",
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
