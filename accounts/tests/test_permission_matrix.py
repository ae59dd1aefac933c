"""The permission matrix: every URL of the site, asked by every kind of person.

The URL names come from the URL configuration itself (test_every_url_has_an_expectation), so a
new view without an expectation here fails the suite.

HOW TO ADD AN ENTRY for a new URL name, e.g. "handover:sign":

    "handover:sign": action(
        state=State.COMPLETED,                 # where the handover is put (walk.advance_to)
        args=lambda w: [w.h.pk],               # URL args from the world (w.h, w.hc, w.item, w.visit, w.client)
        data=lambda w: {"version": w.h.version},   # the POST body (JSON for api(...))
        prepare=None,                          # optional w -> None, run after the walk (e.g. hand an item over)
        ok={"departing"},                      # who succeeds; the other parties are refused
    ),

  - page(...)    a GET page: anonymous is sent to the login page; say what each role gets with
                 keyword arguments (default everyone 200), e.g. page(args=..., other_sales=404).
  - action(...)  a POST action of the handover page: anonymous -> login page, not visible (admin,
                 other_sales) -> 404, the roles in ok -> DONE (back to the handover page with a
                 success message, version bumped), every other party -> REFUSED (back with an error
                 message, nothing changed). Override any role with a keyword argument.
  - api(...)     an endpoint under /api/ (token auth): anonymous -> 401, not visible -> 404,
                 ok -> 200 (201 for creating POSTs, status=201), other parties -> 403 with nothing
                 changed. Override any role with a keyword argument.
  - Case(...)    anything else: give every role's outcome in `expect`.
An entry may be a tuple of cases, one per HTTP method (see "handover:item_dispute"). action() takes
back=lambda w: "/path" when the view returns somewhere other than the handover page; page() and
api() take prepare= too; any case takes check=lambda w, role: ... for assertions of its own after
the request (e.g. that a refused request changed nothing).
Run one entry: pytest accounts/tests/test_permission_matrix.py -k "handover:sign"

Outcomes: an HTTP status (200, 403, 404, ...), LOGIN (302 to the login page), DONE and REFUSED
(handover page actions, see above), or Redirect("/path") for a redirect somewhere else.

The roles are the `people` fixture's handover parties, plus "anonymous" and "other_sales" (a
salesperson of another department, party to nothing) and "admin" (the Administrator role: no
handover visibility of its own, full client-book rights).
"""

import datetime
import io
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import openpyxl
import pytest
from django.conf import settings
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.views.static import serve

from accounts.roles import Role
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from accounts.tokens import api_token_create
from clients.models import Client
from clients.tests.factories import ClientFactory, ContactFactory
from handover import services
from handover.models import CallResult, Handover, State, VisitMode
from notifications.models import Notification
from tests.walk import advance_to, do_stage_work

ROLES = ["anonymous", "departing", "receiver", "supervisor", "witness", "manager", "hr", "admin", "other_sales"]
PARTIES = {"departing", "receiver", "supervisor", "witness", "manager", "hr"}  # HR sees every handover
NOT_VISIBLE = {"admin", "other_sales"}

LOGIN = "login"
DONE = "done"
REFUSED = "refused"


@dataclass(frozen=True)
class Redirect:
    to: str


@dataclass(frozen=True)
class Case:
    expect: dict[str, object]
    method: str = "get"
    state: str = State.PLAN
    args: Callable = lambda w: []
    data: Callable | None = None
    prepare: Callable | None = None
    api: bool = False
    # DONE and REFUSED: where the action sends the browser back to (default: the handover page).
    back: Callable = lambda w: reverse("handover:detail", args=[w.h.pk])
    # Anything else to assert after the request: check(world, role).
    check: Callable | None = None
    # An API body sent as multipart/form-data (a file upload) instead of JSON.
    multipart: bool = False


def _expect(default: dict[str, object], overrides: dict[str, object]) -> dict[str, object]:
    unknown = set(overrides) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {**default, **overrides}


def page(*, args=lambda w: [], state=State.PLAN, prepare=None, check=None, everyone=200, **roles) -> Case:
    default = dict.fromkeys(ROLES, everyone) | {"anonymous": LOGIN}
    return Case(_expect(default, roles), args=args, state=state, prepare=prepare, check=check)


def action(*, args, data, ok, state, prepare=None, back=None, check=None, **roles) -> Case:
    parties = {r: DONE if r in ok else REFUSED for r in PARTIES}
    default = {"anonymous": LOGIN} | dict.fromkeys(NOT_VISIBLE, 404) | parties
    extra = {"back": back} if back else {}
    expect = _expect(default, roles)
    return Case(expect, method="post", state=state, args=args, data=data, prepare=prepare, check=check, **extra)


def api(
    *,
    args,
    ok,
    method="get",
    data=None,
    state=State.PLAN,
    prepare=None,
    check=None,
    status=200,
    multipart=False,
    **roles,
) -> Case:
    default = {"anonymous": 401} | dict.fromkeys(NOT_VISIBLE, 404) | {r: status if r in ok else 403 for r in PARTIES}
    expect = _expect(default, roles)
    return Case(
        expect,
        method=method,
        state=state,
        args=args,
        data=data,
        prepare=prepare,
        check=check,
        api=True,
        multipart=multipart,
    )


# ---------------------------------------------------------------------------------------
# The world every request is made in: one handover of one A client, put at the case's state.


@dataclass
class World:
    people: object
    h: Handover
    client: object
    hc: object = None
    item: object = None
    visit: object = None
    notification: object = None
    username: str = ""


def _h(w):
    return [w.h.pk]


def _version(w) -> dict:
    return {"version": w.h.version}


def _make_cover(w):
    # The completed handover becomes a cover (a maternity leave with its return date ahead).
    returns_on = w.h.last_working_day + datetime.timedelta(days=60)
    Handover.objects.filter(pk=w.h.pk).update(reason="maternity_leave", returns_on=returns_on)


def _hand_over_item(w):
    services.item_hand_over(item=w.item, user=w.people.departing)


def _dispute_item(w):
    _hand_over_item(w)
    services.item_dispute(item=w.item, user=w.people.receiver, reason="原件缺页")


def _record_visit(w):
    w.visit = services.visit_record(
        handover_client=w.hc,
        user=w.people.departing,
        visited_on=timezone.localdate(),
        mode=VisitMode.IN_PERSON,
        contact_met="采购经理",
        outcome="已介绍新对接人。",
    )


def _notify_departing(w):
    w.notification = Notification.objects.create(
        user=w.people.departing, handover=w.h, source="matrix", title="矩阵", url="/handovers/"
    )


def _read_only_by_departing(w, role):
    w.notification.refresh_from_db()
    assert (w.notification.read_at is not None) == (role == "departing"), role


def _plan_done(w):
    do_stage_work(w.h)


def _client_left(w):
    # The client changed hands outside the procedure; only the supervisor may take it out.
    Client.objects.filter(pk=w.client.pk).update(owner=w.people.other_sales)


def _drop_body(w) -> dict:
    return {"version": w.h.version, "reason": "客户已由华北销售部接手。"}


def _visit_form(w) -> dict:
    return {
        "visited_on": timezone.localdate().isoformat(),
        "mode": VisitMode.IN_PERSON,
        "contact_met": "采购经理",
        "outcome": "已介绍新对接人。",
        "concerns": "",
    }


def _start_body(w) -> dict:
    # A new handover, of the other department's salesperson (the departing person's is open already).
    today = timezone.localdate()
    p = w.people
    return {
        "departing": p.other_sales.pk,
        "receiver": p.receiver.pk,
        "witness": p.witness.pk,
        "manager": p.manager.pk,
        "reason": "resignation",
        "notice_date": today.isoformat(),
        "last_working_day": (today + datetime.timedelta(days=30)).isoformat(),
    }


def _split_preview(w):
    return services.receivers_split_preview(
        handover=w.h, user=w.people.supervisor, receivers=[w.people.other_sales], pick=services.RowPick()
    )


def _split_form(w) -> dict:
    p = _split_preview(w)
    assign = [f"{r.handover_client.pk}:{r.receiver.pk}:{r.row_version}" for r in p.rows]
    return {"digest": p.digest, "assign": assign}


def _split_body(w) -> dict:
    p = _split_preview(w)
    rows = [
        {"handover_client": r.handover_client.pk, "receiver": r.receiver.pk, "row_version": r.row_version}
        for r in p.rows
    ]
    return {"digest": p.digest, "assignment": rows}


def _visit_grid(w) -> dict:
    """The visits grid's POST: one row, the world's (A) client visited in person."""
    return {"row": [str(w.hc.pk)], **{f"v-{w.hc.pk}-{name}": value for name, value in _visit_form(w).items()}}


def _visit_rows(w) -> dict:
    return {"rows": [{"handover_client": w.hc.pk, **_visit_form(w), "row_version": w.hc.row_version}]}


def _call_grid(w) -> dict:
    return {"row": [str(w.hc.pk)], f"c-{w.hc.pk}-result": CallResult.CONFIRMED, f"c-{w.hc.pk}-note": ""}


def _visit_sheet(w) -> dict:
    """The receiver's visit record, downloaded and filled in: one new visit."""
    import io

    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(services.visit_sheet_download(handover=w.h, user=w.people.receiver)))
    sheet = workbook.active
    sheet["E2"] = timezone.localdate()
    sheet["G2"] = "采购经理"
    sheet["H2"] = "已介绍新对接人。"
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    buffer.name = "visits.xlsx"
    return {"version": w.h.version, "file": buffer}


# The client notice's senders (handover.policy.may_send_notice).
NOTICE_SENDERS = {"departing", "receiver", "supervisor"}


def _hr_departure_ready(w):
    """A second salesperson of department east, leaving, with one client; east's defaults set."""
    leaving = UserFactory(department=w.people.east, supervisor=w.people.supervisor, roles=[Role.SALES])
    ClientFactory(owner=leaving, grade="B")
    east = w.people.east
    east.default_witness, east.default_manager = w.people.witness, w.people.manager
    east.save()
    w.leaving = leaving


def _hr_departure(w) -> dict:
    today = timezone.localdate()
    return {
        "external_id": "HR-MATRIX-1",
        "employee_no": w.leaving.employee_no,
        "kind": "resignation",
        "notice_date": str(today),
        "last_working_day": str(today + datetime.timedelta(days=30)),
        "receiver_employee_nos": [w.people.receiver.employee_no],
    }


def _hr_departure_registered(w):
    _hr_departure_ready(w)
    today = timezone.localdate()
    services.hr_departure_register(
        by=w.people.hr,
        external_id="HR-MATRIX-1",
        employee_no=w.leaving.employee_no,
        kind="resignation",
        notice_date=today,
        last_working_day=today + datetime.timedelta(days=30),
        receiver_employee_nos=[w.people.receiver.employee_no],
    )


def _hr_departure_started_only_by_hr(w, role):
    assert Handover.objects.filter(departing=w.leaving).count() == (1 if role == "hr" else 0)


def _client_email(w):
    w.client.contacts.update(email="buyer@example.cn")


def _notice_sent(w):
    services.notice_mark_sent(handover_client=w.hc, user=w.people.departing, channel="paper")


def _notice_token(w) -> list[str]:
    from handover.models import ClientNotice

    return [services.notice_token(ClientNotice.objects.get(handover_client=w.hc))]


def _survey_sent(w):
    w.client.contacts.update(email="buyer@example.cn")
    completed_at = Handover.objects.values_list("completed_at", flat=True).get(pk=w.h.pk)
    services.surveys_send_due(now=completed_at + datetime.timedelta(days=30, hours=1))


def _survey_token(w) -> list[str]:
    from handover import selectors
    from handover.models import ClientSurvey

    return [selectors.survey_token(ClientSurvey.objects.get(handover_client=w.hc))]


# Refused on the page as the grid's refusals are: the page again, with its status.
_GRID_REFUSED = dict.fromkeys(["supervisor", "witness", "manager", "hr"], 403)

_REPORT = {"summary": "全部客户已交接。", "open_risks": "", "advice": ""}
_PLAN = {"current_status": "合作正常。", "risks": "", "next_steps": "共同拜访。", "planned_visit_on": ""}


def _plan_sheet(w) -> dict:
    """The plan as downloaded, its one client given to the other department's salesperson: a change
    the departing person and the supervisor may both make."""
    workbook = openpyxl.load_workbook(io.BytesIO(services.plan_workbook(w.h)))
    sheet = workbook.active
    column = [c.value for c in sheet[1]].index("接收人") + 1
    sheet.cell(row=2, column=column).value = w.people.other_sales.full_name
    buffer = io.BytesIO()
    workbook.save(buffer)
    return {"file": SimpleUploadedFile("plan.xlsx", buffer.getvalue())}


def _confirm_all(w):
    services.items_hand_over_all(handover=w.h, user=w.people.departing)
    services.items_confirm_all(handover=w.h, user=w.people.receiver)


def _own_signature(w) -> dict:
    # Each person signs with their own name and password; only the receiver is asked to sign here.
    from accounts.models import User

    user = User.objects.filter(username=w.username).first()
    name = user.full_name if user else ""
    return {"purpose": "materials_receipt", "method": "typed", "typed_name": name, "password": DEFAULT_PASSWORD}


def _sign_form(w) -> dict:
    return {"version": w.h.version, **_own_signature(w)}


def _drawn_signature(w):
    import base64

    from handover.models import Signature
    from handover.tests.conftest import png_data_url

    png = base64.b64decode(png_data_url().split(",", 1)[1])
    w.signature = Signature.objects.create(
        handover=w.h,
        signer=w.people.supervisor,
        purpose="plan_review",
        method="drawn",
        image=png,
        content_sha256="0" * 64,
        handover_state=w.h.state,
        handover_version=w.h.version,
    )


def _archived(w):
    # An archive row already there: "archive now" then finds it and renders, seals and writes nothing.
    from handover.models import ArchivedDocument

    ArchivedDocument.objects.create(handover=w.h, file="archive/matrix.pdf", sha256="0" * 64, size=0)


# --- Follow-ups and duties after completion (issue 13) ----------------------------------
# After completion the receiver owns the world's client: only they record its follow-ups. Who
# sees the client without owning it (the department's supervisor; manager, HR and admin, who
# see every client) is refused 403; those who no longer or never saw it, 404.
# Endpoints every signed-in person may use (each answers only what is theirs to see).
_API_EVERYONE = dict.fromkeys(ROLES, 200) | {"anonymous": 401}
_FOLLOW_UP_SEEN = {"supervisor": 403, "manager": 403, "hr": 403, "admin": 403}
_FOLLOW_UP_UNSEEN = {"departing": 404, "witness": 404, "other_sales": 404}


def _follow_up_form(w) -> dict:
    return {
        "date": timezone.localdate().isoformat(),
        "kind": "phone",
        "contact": w.client.contacts.get().pk,
        "content": "电话告知新对接人。",
    }


def _follow_up_only_by_receiver(w, role):
    from clients.models import FollowUp

    assert FollowUp.objects.filter(client=w.client).exists() == (role == "receiver"), role


# --- A client marked lost or active again (issue 14) -------------------------------------
# After completion the receiver owns the world's client: they, and the supervisor heading their
# department, mark it lost or active again. Who sees it without keeping it (manager, HR, admin) is
# refused 403; who does not see it, 404.
_STATUS = {"anonymous": LOGIN, "receiver": 302, "supervisor": 302, "manager": 403, "hr": 403, "admin": 403}
_STATUS_UNSEEN = {"departing": 404, "witness": 404, "other_sales": 404}


def _client_lost(w):
    Client.objects.filter(pk=w.client.pk).update(status="lost", lost_reason="price", lost_at=timezone.now())


def _lost_only_by(status_when_ok: str, status_otherwise: str):
    def check(w, role):
        expected = status_when_ok if role in ("receiver", "supervisor") else status_otherwise
        assert Client.objects.get(pk=w.client.pk).status == expected, role

    return check


_EVALUATION = {"materials_score": 4, "feedback_score": 4, "adaptation_score": 5, "comment": "交接顺利。"}


def _evaluated_only_by_supervisor(w, role):
    from handover.models import HandoverEvaluation

    assert HandoverEvaluation.objects.filter(handover=w.h).exists() == (role == "supervisor"), role


EXPECTATIONS: dict[str, Case | tuple[Case, ...]] = {
    # --- accounts and the site ---------------------------------------------------------
    "home": page(everyone=Redirect("/handovers/inbox/")),
    "login": page(anonymous=200),
    "notifications": page(),
    # Reading one's own notice goes where it points; anyone else's is not there (back to the list).
    "notification_read": Case(
        {"anonymous": LOGIN, "departing": Redirect("/handovers/")}
        | {r: Redirect("/notifications/") for r in ROLES if r not in ("anonymous", "departing")},
        method="post",
        prepare=_notify_departing,
        args=lambda w: [w.notification.pk],
        check=_read_only_by_departing,
    ),
    "notifications_read_all": Case(
        {r: LOGIN if r == "anonymous" else Redirect("/notifications/") for r in ROLES}, method="post"
    ),
    "logout": (
        Case({r: LOGIN if r == "anonymous" else 405 for r in ROLES}),
        Case({r: LOGIN if r == "anonymous" else Redirect("/accounts/login/") for r in ROLES}, method="post"),
    ),
    # The language switch is on every page, the login page included.
    "set_language": Case(
        {r: Redirect("/handovers/") for r in ROLES},
        method="post",
        data=lambda w: {"language": "en", "next": "/handovers/"},
    ),
    # Only the admin index: the admin's own views check is_staff and model permissions themselves.
    "admin:index": page(
        everyone=Redirect("/admin/login/?next=/admin/"), anonymous=Redirect("/admin/login/?next=/admin/")
    ),
    # --- the client book -------------------------------------------------------------
    "clients:list": page(),
    # The departing person's client: its owner, the receiver and witness of its open handover, the
    # department's supervisor and whoever sees every client; not a salesperson of another department.
    "clients:detail": page(args=lambda w: [w.client.pk], other_sales=404),
    "clients:import": page(everyone=403, supervisor=200, manager=200, admin=200),
    "clients:import_template": page(everyone=403, supervisor=200, manager=200, admin=200),
    # The departing person may no longer export once the handover started; witness and HR never could.
    "clients:export": page(departing=403, witness=403, hr=403),
    # --- handover pages --------------------------------------------------------------
    "handover:list": page(),
    "handover:inbox": page(),
    "handover:start": page(everyone=403, supervisor=200, hr=200),
    "handover:detail": page(args=_h, admin=404, other_sales=404),
    # --- handover page actions (POST) ------------------------------------------------
    "handover:transition": action(
        state=State.PLAN,
        prepare=_plan_done,
        args=lambda w: [w.h.pk, "submit_plan"],
        data=lambda w: {"version": w.h.version, "comment": ""},
        ok={"departing"},
    ),
    "handover:receiver_set": action(
        state=State.PLAN,
        args=_h,
        data=lambda w: {"version": w.h.version, "handover_client": w.hc.pk, "receiver": w.people.other_sales.pk},
        ok={"departing", "supervisor"},
    ),
    # Receivers in bulk: the page, one receiver for many, a split previewed (a page, nothing written) and applied.
    "handover:receivers_bulk": (
        page(args=_h, everyone=403, departing=200, supervisor=200, admin=404, other_sales=404),
        action(
            state=State.PLAN,
            args=_h,
            data=lambda w: {"receivers": [w.people.other_sales.pk]},
            ok={"departing", "supervisor"},
        ),
    ),
    "handover:receivers_split_preview": action(
        state=State.PLAN,
        args=_h,
        data=lambda w: {"receivers": [w.people.receiver.pk, w.people.other_sales.pk]},
        ok=set(),
        departing=200,
        supervisor=200,
    ),
    "handover:receivers_split_apply": action(
        state=State.PLAN, args=_h, data=_split_form, ok={"departing", "supervisor"}
    ),
    # Who fits each client best: for those who choose the receivers, while the plan is open.
    "handover:receiver_suggestions": page(
        args=_h, everyone=403, departing=200, supervisor=200, admin=404, other_sales=404
    ),
    "handover:plan_update": action(
        state=State.PLAN,
        args=lambda w: [w.h.pk, w.hc.pk],
        data=lambda w: {"version": w.h.version, **_PLAN},
        ok={"departing"},
    ),
    # The plan grid: a refusal keeps the typed rows on the page (never a redirect), with its status.
    "handover:plan_rows": action(
        state=State.PLAN,
        args=_h,
        data=lambda w: {f"o-{w.hc.pk}": "", f"k-{w.hc.pk}": "无", f"v-{w.hc.pk}": w.hc.row_version},
        ok={"departing"},
        receiver=403,
        supervisor=403,
        witness=403,
        manager=403,
        hr=403,
    ),
    "handover:plan_row": page(args=lambda w: [w.h.pk, w.hc.pk], admin=404, other_sales=404),
    # The plan as a sheet: downloaded by the people who may print it and by the departing person while
    # the plan is open; uploaded by the departing person, and by the supervisor for receivers only.
    "handover:plan_download": page(args=_h, admin=404, other_sales=404),
    "handover:plan_upload": action(state=State.PLAN, args=_h, data=_plan_sheet, ok={"departing", "supervisor"}),
    "handover:client_drop": action(
        state=State.VISITS,
        prepare=_client_left,
        args=lambda w: [w.h.pk, w.hc.pk],
        data=_drop_body,
        ok={"supervisor"},
    ),
    "handover:items_hand_over_all": action(state=State.MATERIALS, args=_h, data=_version, ok={"departing"}),
    "handover:item_hand_over": action(
        state=State.MATERIALS, args=lambda w: [w.h.pk, w.item.pk], data=_version, ok={"departing"}
    ),
    "handover:items_confirm_all": action(
        state=State.MATERIALS, prepare=_hand_over_item, args=_h, data=_version, ok={"receiver"}
    ),
    "handover:item_confirm": action(
        state=State.MATERIALS,
        prepare=_hand_over_item,
        args=lambda w: [w.h.pk, w.item.pk],
        data=_version,
        ok={"receiver"},
    ),
    "handover:item_dispute": (
        page(state=State.MATERIALS, args=lambda w: [w.h.pk, w.item.pk], admin=404, other_sales=404),
        action(
            state=State.MATERIALS,
            prepare=_hand_over_item,
            args=lambda w: [w.h.pk, w.item.pk],
            data=lambda w: {"version": w.h.version, "reason": "<b>原件缺页</b>"},
            ok={"receiver"},
        ),
    ),
    # Only the departing person answers a dispute; anyone else who sees the handover is refused
    # outright (403): the form is shown again only to the one who may send it.
    "handover:item_answer": action(
        state=State.MATERIALS,
        prepare=_dispute_item,
        args=lambda w: [w.h.pk, w.item.pk],
        data=lambda w: {"reply": "第3页已补", "next": "detail"},
        ok={"departing"},
        receiver=403,
        supervisor=403,
        witness=403,
        manager=403,
        hr=403,
    ),
    "handover:items_confirm": action(
        state=State.MATERIALS,
        prepare=_hand_over_item,
        args=_h,
        data=lambda w: {"version": w.h.version, "items": [w.item.pk]},
        ok={"receiver"},
    ),
    "handover:visit_record": action(
        state=State.VISITS,
        args=lambda w: [w.h.pk, w.hc.pk],
        data=lambda w: {"version": w.h.version, **_visit_form(w)},
        ok={"departing", "receiver"},
    ),
    "handover:visit_confirm": action(
        state=State.VISITS,
        prepare=_record_visit,
        args=lambda w: [w.h.pk, w.visit.pk],
        data=_version,
        ok={"receiver"},
    ),
    # The grids: one POST for every row; a refusal shows the page again (status 403 for the parties
    # who do not work in the grid), never a redirect that drops the input.
    "handover:visits_save": action(
        state=State.VISITS, args=_h, data=_visit_grid, ok={"departing", "receiver"}, **_GRID_REFUSED
    ),
    # The departing person recorded the visit, so confirmed it already: nothing waits for them (400).
    "handover:visits_confirm": action(
        state=State.VISITS,
        prepare=_record_visit,
        args=_h,
        data=lambda w: {"scope": "all"},
        ok={"receiver"},
        departing=400,
        **_GRID_REFUSED,
    ),
    "handover:calls_save": action(
        state=State.SPOT_CHECK,
        args=_h,
        data=_call_grid,
        ok={"witness"},
        **dict.fromkeys(["departing", "receiver", "supervisor", "manager", "hr"], 403),
    ),
    # No export by the departing person: the visit record downloads for the receivers only.
    "handover:visits_sheet": page(state=State.VISITS, args=_h, everyone=403, receiver=200, admin=404, other_sales=404),
    "handover:visits_sheet_upload": action(
        state=State.VISITS, args=_h, data=_visit_sheet, ok={"departing", "receiver"}, **_GRID_REFUSED
    ),
    "handover:phone_check_record": action(
        state=State.SPOT_CHECK,
        args=lambda w: [w.h.pk, w.hc.pk],
        data=lambda w: {"version": w.h.version, "result": CallResult.CONFIRMED, "note": ""},
        ok={"witness"},
    ),
    # HR ends the departed person's access after completion; back to the inbox, where the duty was.
    # The departing person keeps only the completed handover's header (handover/tests/test_after_completion.py).
    "handover:revoke_access": action(
        state=State.COMPLETED,
        args=_h,
        data=lambda w: {},
        ok={"hr"},
        back=lambda w: reverse("handover:inbox"),
        departing=403,
    ),
    # HR ends a cover early (提前结束代管): the clients go back to the absent person, who reads only the header.
    "handover:cover_end": action(
        state=State.COMPLETED, args=_h, data=lambda w: {}, prepare=_make_cover, ok={"hr"}, departing=403
    ),
    # HR moves a cover's return date (an extended leave).
    "handover:cover_return_date": action(
        state=State.COMPLETED,
        args=_h,
        data=lambda w: {"returns_on": f"{w.h.last_working_day + datetime.timedelta(days=90):%Y-%m-%d}"},
        prepare=_make_cover,
        ok={"hr"},
        departing=403,
    ),
    "handover:report_update": action(
        state=State.REPORT, args=_h, data=lambda w: {"version": w.h.version, **_REPORT}, ok={"departing"}
    ),
    # The joint visits as calendar events: for everyone who reads the handover's plan.
    "handover:planned_visit_ics": page(args=lambda w: [w.h.pk, w.hc.pk], admin=404, other_sales=404),
    "handover:visit_ics": page(
        state=State.VISITS, prepare=_record_visit, args=lambda w: [w.h.pk, w.visit.pk], admin=404, other_sales=404
    ),
    "handover:visits_ics": page(args=_h, admin=404, other_sales=404),
    # --- the API ----------------------------------------------------------------------
    # Everyone obtains a token with their own password; without one (anonymous) it is 400.
    "api:token": Case(
        {r: 400 if r == "anonymous" else 200 for r in ROLES},
        method="post",
        api=True,
        data=lambda w: {"username": w.username, "password": DEFAULT_PASSWORD},
    ),
    "api:schema": api(args=lambda w: [], ok=PARTIES, admin=200, other_sales=200),
    "api:docs": page(),
    "api:handover-list": (
        api(args=lambda w: [], ok=PARTIES, admin=200, other_sales=200),
        # Only HR may start the other department's salesperson's handover.
        api(method="post", args=lambda w: [], data=_start_body, ok={"hr"}, status=201, admin=403, other_sales=403),
    ),
    "api:handover-detail": api(args=_h, ok=PARTIES),
    "api:handover-transition": api(
        method="post",
        prepare=_plan_done,
        args=lambda w: [w.h.pk, "submit_plan"],
        data=lambda w: {"version": w.h.version},
        ok={"departing"},
    ),
    "api:handover-client": (
        api(args=lambda w: [w.h.pk, w.hc.pk], ok=PARTIES),
        api(method="patch", args=lambda w: [w.h.pk, w.hc.pk], data=lambda w: {"risks": "无"}, ok={"departing"}),
    ),
    "api:plan-rows": api(
        method="post",
        args=_h,
        data=lambda w: {"rows": [{"handover_client": w.hc.pk, "risks": "无"}]},
        ok={"departing"},
    ),
    # Each client's relationship risk (issue 15): whoever reads the handover's clients.
    "api:handover-risks": api(args=_h, ok=PARTIES),
    "api:receivers-set": api(
        method="post",
        args=_h,
        data=lambda w: {"receiver": w.people.other_sales.pk},
        ok={"departing", "supervisor"},
    ),
    "api:receivers-split-preview": api(
        method="post",
        args=_h,
        data=lambda w: {"receivers": [w.people.receiver.pk, w.people.other_sales.pk]},
        ok={"departing", "supervisor"},
    ),
    "api:receivers-split-apply": api(method="post", args=_h, data=_split_body, ok={"departing", "supervisor"}),
    # Who fits each client best: those who choose the receivers, while the plan is open.
    "api:receiver-suggestions": api(args=_h, ok={"departing", "supervisor"}),
    "api:plan-sheet": (
        api(args=_h, ok=PARTIES),
        api(method="post", args=_h, data=_plan_sheet, multipart=True, ok={"departing", "supervisor"}),
    ),
    "api:handover-client-drop": api(
        method="post",
        state=State.VISITS,
        prepare=_client_left,
        args=lambda w: [w.h.pk, w.hc.pk],
        data=_drop_body,
        ok={"supervisor"},
    ),
    "api:item-list": api(args=_h, ok=PARTIES),
    "api:items-hand-over-all": api(method="post", state=State.MATERIALS, args=_h, data=_version, ok={"departing"}),
    # Only a receiver of items confirms them: anyone else who sees the handover is refused (403).
    "api:items-confirm-all": api(
        method="post", state=State.MATERIALS, prepare=_hand_over_item, args=_h, data=_version, ok={"receiver"}
    ),
    "api:item-hand-over": api(
        method="post", state=State.MATERIALS, args=lambda w: [w.h.pk, w.item.pk], data=_version, ok={"departing"}
    ),
    "api:item-confirm": api(
        method="post",
        state=State.MATERIALS,
        prepare=_hand_over_item,
        args=lambda w: [w.h.pk, w.item.pk],
        data=_version,
        ok={"receiver"},
    ),
    "api:item-dispute": api(
        method="post",
        state=State.MATERIALS,
        prepare=_hand_over_item,
        args=lambda w: [w.h.pk, w.item.pk],
        data=lambda w: {"version": w.h.version, "reason": "原件缺页"},
        ok={"receiver"},
    ),
    "api:item-answer": api(
        method="post",
        state=State.MATERIALS,
        prepare=_dispute_item,
        args=lambda w: [w.h.pk, w.item.pk],
        data=lambda w: {"version": w.h.version, "reply": "第3页已补"},
        ok={"departing"},
    ),
    "api:items-confirm": api(
        method="post",
        state=State.MATERIALS,
        prepare=_hand_over_item,
        args=_h,
        data=lambda w: {"version": w.h.version, "items": [w.item.pk]},
        ok={"receiver"},
    ),
    "api:visit-list": (
        api(args=_h, ok=PARTIES),
        api(
            method="post",
            state=State.VISITS,
            args=_h,
            data=lambda w: {"version": w.h.version, "handover_client": w.hc.pk, **_visit_form(w)},
            ok={"departing", "receiver"},
            status=201,
        ),
    ),
    "api:visit-confirm": api(
        method="post",
        state=State.VISITS,
        prepare=_record_visit,
        args=lambda w: [w.h.pk, w.visit.pk],
        data=_version,
        ok={"receiver"},
    ),
    "api:visit-rows": api(method="post", state=State.VISITS, args=_h, data=_visit_rows, ok={"departing", "receiver"}),
    "api:visits-confirm": api(
        method="post",
        state=State.VISITS,
        prepare=_record_visit,
        args=_h,
        data=lambda w: {},
        ok={"receiver"},
        departing=400,
    ),
    # The upload is multipart (handover/tests/test_api_grids.py); a JSON body without the file is
    # refused as invalid for those who may upload, and as not allowed for everyone else first.
    "api:visit-sheet": (
        api(state=State.VISITS, args=_h, ok={"receiver"}),
        api(method="post", state=State.VISITS, args=_h, data=_version, ok={"departing", "receiver"}, status=400),
    ),
    "api:planned-visit-calendar": api(args=lambda w: [w.h.pk, w.hc.pk], ok=PARTIES),
    "api:visit-calendar": api(
        state=State.VISITS, prepare=_record_visit, args=lambda w: [w.h.pk, w.visit.pk], ok=PARTIES
    ),
    "api:visits-calendar": api(args=_h, ok=PARTIES),
    "api:phone-check-rows": api(
        method="post",
        state=State.SPOT_CHECK,
        args=_h,
        data=lambda w: {"rows": [{"handover_client": w.hc.pk, "result": CallResult.CONFIRMED}]},
        ok={"witness"},
    ),
    "api:phone-check-list": (
        api(args=_h, ok=PARTIES),
        api(
            method="post",
            state=State.SPOT_CHECK,
            args=_h,
            data=lambda w: {"version": w.h.version, "handover_client": w.hc.pk, "result": CallResult.CONFIRMED},
            ok={"witness"},
            status=201,
        ),
    ),
    "api:report": (
        api(args=_h, ok=PARTIES),
        api(
            method="put",
            state=State.REPORT,
            args=_h,
            data=lambda w: {"version": w.h.version, **_REPORT},
            ok={"departing"},
        ),
    ),
    "api:event-list": api(args=_h, ok=PARTIES),
    "api:receiver-list": api(args=_h, ok=PARTIES),
    # --- signatures, printing, the archive and verification ----------------------------
    "handover:sign": action(
        state=State.MATERIALS,
        prepare=_confirm_all,
        args=lambda w: [w.h.pk, "materials_receipt"],
        data=_sign_form,
        ok={"receiver"},
    ),
    "handover:signature_image": page(
        args=lambda w: [w.h.pk, w.signature.pk], prepare=_drawn_signature, admin=404, other_sales=404
    ),
    # The per-stage lists print for the people of the handover, never for the departing person.
    "handover:print_stage": page(args=lambda w: [w.h.pk, "plan"], departing=403, admin=404, other_sales=404),
    # HR's print page; the download needs an archive (none here: HR and the admin get 404, others 403).
    "handover:archive": page(everyone=403, hr=200, admin=200),
    "handover:archive_download": page(state=State.COMPLETED, args=_h, everyone=403, hr=404, admin=404),
    "handover:archive_now": Case(
        dict.fromkeys(ROLES, 403)
        | {"anonymous": LOGIN, "hr": Redirect("/handovers/archive/"), "admin": Redirect("/handovers/archive/")},
        method="post",
        state=State.COMPLETED,
        prepare=_archived,
        args=_h,
        data=lambda w: {},
    ),
    # The archive's progress (polled by its partial): those who may download it.
    "handover:archive_status": page(state=State.COMPLETED, prepare=_archived, args=_h, everyone=403, hr=200, admin=200),
    "api:archive-status": api(state=State.COMPLETED, prepare=_archived, args=_h, ok={"hr"}),
    "api:archive-retry": api(
        method="post", state=State.COMPLETED, prepare=_archived, args=_h, data=lambda w: {}, ok={"hr"}, status=202
    ),
    "handover:verify": page(),
    # The dashboard (issue 14): managers, HR and supervisors; the admin role and the parties are refused.
    "handover:dashboard": page(everyone=403, supervisor=200, manager=200, hr=200),
    "handover:dashboard_xlsx": page(everyone=403, supervisor=200, manager=200, hr=200),
    "api:dashboard": Case(
        dict.fromkeys(ROLES, 403) | {"anonymous": 401, "supervisor": 200, "manager": 200, "hr": 200}, api=True
    ),
    "api:signature-list": (
        api(args=_h, ok=PARTIES),
        api(
            method="post",
            state=State.MATERIALS,
            prepare=_confirm_all,
            args=_h,
            data=_own_signature,
            ok={"receiver"},
            status=201,
        ),
    ),
    "clients:follow_up_add": (
        Case(
            {"anonymous": LOGIN, "receiver": 200} | _FOLLOW_UP_SEEN | _FOLLOW_UP_UNSEEN,
            state=State.COMPLETED,
            args=lambda w: [w.client.pk],
        ),
        Case(
            {"anonymous": LOGIN, "receiver": Redirect("/handovers/duties/")} | _FOLLOW_UP_SEEN | _FOLLOW_UP_UNSEEN,
            method="post",
            state=State.COMPLETED,
            args=lambda w: [w.client.pk],
            data=lambda w: {**_follow_up_form(w), "next": "/handovers/duties/"},
            check=_follow_up_only_by_receiver,
        ),
    ),
    # Everyone has a duty page; it lists only the duties they see (handover.selectors.duties).
    "handover:duties": page(state=State.COMPLETED),
    "api:client-follow-ups": (
        Case(
            {"anonymous": 401, "receiver": 200} | dict.fromkeys(_FOLLOW_UP_SEEN, 200) | _FOLLOW_UP_UNSEEN,
            state=State.COMPLETED,
            args=lambda w: [w.client.pk],
            api=True,
        ),
        Case(
            {"anonymous": 401, "receiver": 201} | _FOLLOW_UP_SEEN | _FOLLOW_UP_UNSEEN,
            method="post",
            state=State.COMPLETED,
            args=lambda w: [w.client.pk],
            data=_follow_up_form,
            api=True,
            check=_follow_up_only_by_receiver,
        ),
    ),
    # --- departures registered by the HR system: HR's token only ----------------------------
    "api:hr-departure-list": (
        Case(dict.fromkeys(ROLES, 403) | {"anonymous": 401, "hr": 200}, api=True),
        Case(
            dict.fromkeys(ROLES, 403) | {"anonymous": 401, "hr": 201},
            method="post",
            prepare=_hr_departure_ready,
            data=_hr_departure,
            api=True,
            check=_hr_departure_started_only_by_hr,
        ),
    ),
    "api:hr-departure-detail": Case(
        dict.fromkeys(ROLES, 403) | {"anonymous": 401, "hr": 200},
        prepare=_hr_departure_registered,
        args=lambda w: ["HR-MATRIX-1"],
        api=True,
    ),
    "api:duty-list": Case(dict.fromkeys(ROLES, 200) | {"anonymous": 401}, state=State.COMPLETED, api=True),
    # --- the client notice (客户告知函): its senders are the departing person, the supervisor and
    # the client's receiver; the client answers on their own page, no login ---------------------
    "handover:notices_email": action(
        state=State.MATERIALS, prepare=_client_email, args=_h, data=_version, ok=NOTICE_SENDERS
    ),
    "handover:notices_sms": action(state=State.MATERIALS, args=_h, data=_version, ok=NOTICE_SENDERS),
    "handover:notice_mark": action(
        state=State.MATERIALS,
        args=lambda w: [w.h.pk, w.hc.pk],
        data=lambda w: {"version": w.h.version, "channel": "wechat", "note": ""},
        ok=NOTICE_SENDERS,
    ),
    "handover:notice_letter": page(
        state=State.MATERIALS,
        args=lambda w: [w.h.pk, w.hc.pk],
        everyone=403,
        departing=200,
        receiver=200,
        supervisor=200,
        admin=404,
        other_sales=404,
    ),
    "handover:notice_letters": page(
        state=State.MATERIALS,
        args=_h,
        everyone=403,
        departing=200,
        receiver=200,
        supervisor=200,
        admin=404,
        other_sales=404,
    ),
    # Anyone with the link, logged in or not, and nobody without it (test_client_notice_pages.py).
    "handover:client_answer": Case(
        dict.fromkeys(ROLES, 200), state=State.MATERIALS, prepare=_notice_sent, args=_notice_token
    ),
    "api:notice-list": api(state=State.MATERIALS, args=_h, ok=PARTIES),
    "api:notices-send": api(
        method="post",
        state=State.MATERIALS,
        args=_h,
        data=lambda w: {"channel": "sms"},
        ok=NOTICE_SENDERS,
        status=202,
    ),
    "api:notice-mark": api(
        method="post",
        state=State.MATERIALS,
        args=lambda w: [w.h.pk, w.hc.pk],
        data=lambda w: {"channel": "paper", "note": ""},
        ok=NOTICE_SENDERS,
        status=201,
    ),
    "api:notice-letter": api(state=State.MATERIALS, args=lambda w: [w.h.pk, w.hc.pk], ok=NOTICE_SENDERS),
    "api:notice-letters": api(state=State.MATERIALS, args=_h, ok=NOTICE_SENDERS),
    "api:notice-answer": Case(
        dict.fromkeys(ROLES, 200),
        method="post",
        state=State.MATERIALS,
        prepare=_notice_sent,
        data=lambda w: {"token": _notice_token(w)[0], "answer": "confirmed", "text": ""},
        api=True,
    ),
    "clients:mark_lost": Case(
        _STATUS | _STATUS_UNSEEN,
        method="post",
        state=State.COMPLETED,
        args=lambda w: [w.client.pk],
        data=lambda w: {"lost_reason": "price"},
        check=_lost_only_by("lost", "active"),
    ),
    "clients:reactivate": Case(
        _STATUS | _STATUS_UNSEEN,
        method="post",
        state=State.COMPLETED,
        args=lambda w: [w.client.pk],
        prepare=_client_lost,
        check=_lost_only_by("active", "lost"),
    ),
    "api:client-status": Case(
        _STATUS | _STATUS_UNSEEN | {"anonymous": 401, "receiver": 200, "supervisor": 200},
        method="post",
        state=State.COMPLETED,
        args=lambda w: [w.client.pk],
        data=lambda w: {"status": "lost", "lost_reason": "competitor"},
        api=True,
        check=_lost_only_by("lost", "active"),
    ),
    # What became of the clients: whoever reads the handover's clients (not the departed person).
    "handover:outcomes": page(state=State.COMPLETED, args=_h, departing=403, admin=404, other_sales=404),
    "api:handover-outcomes": api(state=State.COMPLETED, args=_h, ok=PARTIES - {"departing"}),
    # The evaluation (交接评估): read by whoever reads the handover's clients, given by its supervisor only.
    "handover:evaluate": Case(
        dict.fromkeys(PARTIES, 403) | {"anonymous": LOGIN, "supervisor": 302, "admin": 404, "other_sales": 404},
        method="post",
        state=State.COMPLETED,
        args=_h,
        data=lambda w: dict(_EVALUATION),
        check=_evaluated_only_by_supervisor,
    ),
    "api:handover-evaluation": (
        api(state=State.COMPLETED, args=_h, ok=PARTIES - {"departing"}),
        api(
            method="post",
            state=State.COMPLETED,
            args=_h,
            data=lambda w: dict(_EVALUATION),
            ok={"supervisor"},
            status=201,
            check=_evaluated_only_by_supervisor,
        ),
    ),
    # A client's outcome: whoever sees the client.
    "api:client-outcomes": Case(
        {"anonymous": 401, "receiver": 200} | dict.fromkeys(_FOLLOW_UP_SEEN, 200) | _FOLLOW_UP_UNSEEN,
        state=State.COMPLETED,
        args=lambda w: [w.client.pk],
        api=True,
    ),
    # The client's satisfaction survey: its results for those who read the clients' data now (the
    # departing person no longer does), and the client's own page and answer with the link only.
    "api:survey-list": api(state=State.COMPLETED, args=_h, ok=PARTIES - {"departing"}),
    "handover:client_survey": Case(
        dict.fromkeys(ROLES, 200), state=State.COMPLETED, prepare=_survey_sent, args=_survey_token
    ),
    "api:survey-answer": Case(
        dict.fromkeys(ROLES, 200),
        method="post",
        state=State.COMPLETED,
        prepare=_survey_sent,
        data=lambda w: {"token": _survey_token(w)[0], "rating": 4, "will_continue": "yes", "comment": ""},
        api=True,
    ),
    # --- issue 16: what the pages do outside one handover's stages, through the API -------------
    # Everyone finds the people they may name, and lists their own clients, inbox and notifications.
    "api:people": Case(_API_EVERYONE, api=True, data=lambda w: {"q": "李"}),
    "api:client-list": Case(_API_EVERYONE, api=True, data=lambda w: {"grade": "A"}),
    # As the client page: whoever sees the client (during the handover its receiver and witness too).
    "api:client-detail": Case(_API_EVERYONE | {"other_sales": 404}, api=True, args=lambda w: [w.client.pk]),
    # HR's archive page and download (no archive here: HR and the admin get 404, others 403).
    "api:archive-list": Case(dict.fromkeys(ROLES, 403) | {"anonymous": 401, "hr": 200, "admin": 200}, api=True),
    "api:archive-download": Case(
        dict.fromkeys(ROLES, 403) | {"anonymous": 401, "hr": 404, "admin": 404},
        api=True,
        state=State.COMPLETED,
        args=_h,
    ),
    "api:archive-verify": (
        Case(_API_EVERYONE, api=True, data=lambda w: {"code": "ABCD-EFGH-JKLM"}),
        Case(_API_EVERYONE, api=True, method="post", data=lambda w: {"code": "ABCD-EFGH-JKLM"}),
    ),
    "api:inbox": Case(_API_EVERYONE, api=True),
    "api:notification-list": Case(_API_EVERYONE, api=True),
    # Only one's own notification: anyone else's is as absent as a missing one.
    "api:notification-read": Case(
        dict.fromkeys(ROLES, 404) | {"anonymous": 401, "departing": 200},
        method="post",
        api=True,
        args=lambda w: [w.notification.pk],
        prepare=_notify_departing,
        check=_read_only_by_departing,
    ),
    "api:notifications-read-all": Case(_API_EVERYONE, api=True, method="post"),
    # As the page's revoke: HR, after completion; the departed person no longer reads the handover (403).
    "api:revoke-access": api(method="post", state=State.COMPLETED, args=_h, data=lambda w: {}, ok={"hr"}),
    # As the page's early end of a cover: HR only.
    "api:cover-end": api(
        method="post", state=State.COMPLETED, args=_h, data=lambda w: {"confirm": True}, prepare=_make_cover, ok={"hr"}
    ),
    "api:cover-return-date": api(
        method="post",
        state=State.COMPLETED,
        args=_h,
        data=lambda w: {"returns_on": f"{w.h.last_working_day + datetime.timedelta(days=90):%Y-%m-%d}"},
        prepare=_make_cover,
        ok={"hr"},
    ),
    # As the page's print: the people of the handover, never the departing person.
    "api:stage-print": api(args=lambda w: [w.h.pk, "plan"], ok=PARTIES - {"departing"}),
}


# ---------------------------------------------------------------------------------------
# The URL configuration


def _walk(resolver: URLResolver, prefix: str = ""):
    """(name, route) of every pattern; unnamed patterns yield (None, route)."""
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            namespace = f"{prefix}{p.namespace}:" if p.namespace else prefix
            if namespace == "admin:":
                # The admin's own views (login, model pages, ...) check is_staff and the model
                # permissions themselves; its index stands for them here, and the admin tests cover
                # our ModelAdmins.
                yield "admin:index", "admin/"
                continue
            yield from _walk(p, namespace)
        elif isinstance(p, URLPattern):
            if p.callback is serve:
                continue  # uploaded media, served by Django only with DEBUG on (development)
            yield (f"{prefix}{p.name}" if p.name else None), str(p.pattern)


def url_names() -> set[str]:
    names = set()
    for name, route in _walk(get_resolver()):
        assert name is not None, f"unnamed URL pattern {route!r}: name it and add it to EXPECTATIONS"
        names.add(name)
    return names


def test_every_url_has_an_expectation():
    names = url_names()
    assert sorted(names - set(EXPECTATIONS)) == [], "URLs without an expectation in EXPECTATIONS"
    assert sorted(set(EXPECTATIONS) - names) == [], "expectations for URLs that no longer exist"


def test_every_case_names_every_role():
    for name, cases in EXPECTATIONS.items():
        for case in cases if isinstance(cases, tuple) else (cases,):
            assert sorted(case.expect) == sorted(ROLES), name


def _params():
    for name, cases in EXPECTATIONS.items():
        for case in cases if isinstance(cases, tuple) else (cases,):
            for role in ROLES:
                yield pytest.param(name, case, role, id=f"{name}-{case.method}-{role}")


# ---------------------------------------------------------------------------------------
# Asking


@pytest.fixture(autouse=True)
def _no_rate_limit_left_over():
    # The clients' link pages count requests by address in the cache (handover/http.py): one
    # case's requests must not use up another's.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def world(people):
    client = ClientFactory(owner=people.departing, grade="A", name="矩阵测试有限公司")
    ContactFactory(client=client)
    # Another department's client: the outsider's own book is not empty.
    ClientFactory(owner=people.other_sales)
    today = timezone.localdate()
    h = services.handover_start(
        started_by=people.hr,
        departing=people.departing,
        receiver=people.receiver,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=today,
        last_working_day=today + datetime.timedelta(days=30),
    )
    return World(people=people, h=h, client=client)


def _put_at(w: World, case: Case) -> None:
    if w.h.state != case.state:
        w.h = advance_to(w.h, case.state)
    w.hc = w.h.clients.get()
    w.item = w.h.items.get(handover_client=w.hc)
    if case.prepare:
        case.prepare(w)
    w.h = Handover.objects.get(pk=w.h.pk)


def _messages(response) -> list[int]:
    return [m.level for m in get_messages(response.wsgi_request)]


def _version_now(w: World) -> int:
    return Handover.objects.values_list("version", flat=True).get(pk=w.h.pk)


@pytest.mark.parametrize(("name", "case", "role"), _params())
def test_permission(name, case, role, world, client):
    _put_at(world, case)
    user = None if role == "anonymous" else getattr(world.people, role)
    world.username = user.username if user else ""
    url = reverse(name, args=case.args(world))
    data = case.data(world) if case.data else None
    headers = {}
    if case.api:
        if user is not None and name != "api:token":
            headers["HTTP_AUTHORIZATION"] = f"Token {api_token_create(user=user)[0]}"
        if data is None:
            kwargs = {}
        elif case.multipart:
            kwargs = {"data": data}
        else:
            kwargs = {"data": data, "content_type": "application/json"}
    else:
        if user is not None:
            client.force_login(user)
        kwargs = {"data": data} if data is not None else {}
    before = _version_now(world)

    response = getattr(client, case.method)(url, **kwargs, **headers)

    expected = case.expect[role]
    got = response.status_code
    where = response.get("Location", "")
    context = f"{case.method.upper()} {url} as {role}: got {got} {where}"
    if expected == LOGIN:
        assert got == 302 and urlsplit(where).path == resolve_url(settings.LOGIN_URL), context
    elif isinstance(expected, Redirect):
        assert got == 302 and where == expected.to, context
    elif expected in (DONE, REFUSED):
        assert got == 302 and where.startswith(case.back(world)), context
        if expected == DONE:
            assert _messages(response) == [SUCCESS], context
            assert _version_now(world) > before, context
        else:
            assert _messages(response) == [ERROR], context
            assert _version_now(world) == before, context
    else:
        assert got == expected, context
        if case.method != "get" and got >= 400:
            assert _version_now(world) == before, context
    if case.check:
        case.check(world, role)
