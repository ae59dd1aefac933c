"""The admin's permission matrix: every registered admin model, asked by every role.

The models come from the admin registry itself (test_every_admin_model_has_an_expectation), so a
new ModelAdmin without an entry in EXPECTED fails the suite.

HOW TO ADD AN ENTRY for a new admin model, e.g. "handover.Widget":

    "handover.Widget": only(superuser="vacd"),

  - the letters are what the role may do: v view (list, change page, history), c change,
    a add, d delete; a role not named may do nothing there.
  - if no row of the model exists in the world below, say how to make one in MAKE.

Every role is made staff here, whatever the demo does: the role's permissions alone decide. The
roles are the `people` fixture's (sales is the departing salesperson; admin holds the
Administrator role without being a superuser) and "superuser" (the Administrator role on a
superuser, as the demo's administrator is).

Below the matrix: the user admin's privileges and passwords, which only superusers touch.
"""

import datetime
import uuid
from io import StringIO

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import AccessLog, User
from accounts.roles import ROLE_PERMISSIONS, Role
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from accounts.tokens import api_token_create
from clients.tests.factories import FollowUpFactory
from demo.company import DEPARTING_USERNAME
from handover.models import (
    ArchivedDocument,
    ArchiveJob,
    ClientNotice,
    ClientNoticeTemplate,
    ClientSurvey,
    ClientSurveyTemplate,
    ConfirmationAnnex,
    CoverPolicy,
    DocumentTemplate,
    HandoverEvaluation,
    HrDeparture,
    IdempotencyKey,
    NoticeDelivery,
    Reminder,
    ReminderKind,
    State,
    SurveyDelivery,
)
from notifications.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from tests.walk import advance_to

ROLES = ["sales", "supervisor", "witness", "manager", "hr", "admin", "superuser"]
PEOPLE = {"sales": "departing"}  # matrix role -> people fixture attribute, where they differ


def only(**roles: str) -> dict[str, str]:
    unknown = set(roles) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {role: roles.get(role, "") for role in ROLES}


READ_ONLY = only(superuser="v")
EXPECTED: dict[str, dict[str, str]] = {
    # --- accounts and roles: HR keeps accounts (never privileges or passwords, see below) --------
    "auth.Group": only(superuser="vacd"),
    "knox.AuthToken": only(superuser="vd"),
    "accounts.Department": only(hr="v", admin="v", superuser="vacd"),
    "accounts.User": only(hr="vc", admin="vc", superuser="vacd"),
    "accounts.AccessLog": only(hr="v", admin="v", superuser="v"),
    # --- the client book: unscoped and unlogged here, so the administrators only ---------------
    "clients.Client": only(admin="vc", superuser="vacd"),
    "clients.Contact": only(superuser="vacd"),
    "clients.Contract": only(superuser="vacd"),
    "clients.Receivable": only(superuser="vacd"),
    "clients.Opportunity": only(superuser="vacd"),
    "clients.FollowUp": only(superuser="vacd"),
    "clients.OwnershipChange": READ_ONLY,
    # --- the company's templates and rules -------------------------------------------------
    "handover.ChecklistTemplateItem": only(superuser="vacd"),
    "handover.DocumentTemplate": only(superuser="vacd"),
    "handover.StageDuration": only(superuser="vacd"),
    "handover.ProcedureVariant": only(superuser="vacd"),
    "handover.ReminderPolicy": only(superuser="vacd"),
    "handover.CoverPolicy": only(superuser="vacd"),
    "handover.ClientNoticeTemplate": only(superuser="vacd"),
    "handover.ClientSurveyTemplate": only(superuser="vacd"),
    # --- the handovers and their record: changed only through the procedure ---------------------
    "handover.Handover": READ_ONLY,
    "handover.StageDeadline": READ_ONLY,
    "handover.HandoverClient": READ_ONLY,
    "handover.ChecklistItem": READ_ONLY,
    "handover.Visit": READ_ONLY,
    "handover.PhoneCheck": READ_ONLY,
    "handover.Report": READ_ONLY,
    "handover.Event": READ_ONLY,
    "handover.Duty": READ_ONLY,
    "handover.Reminder": READ_ONLY,
    "handover.Signature": READ_ONLY,
    "handover.ArchivedDocument": READ_ONLY,
    "handover.ArchiveJob": READ_ONLY,
    "handover.ConfirmationAnnex": READ_ONLY,
    "handover.IdempotencyKey": READ_ONLY,
    "handover.ClientNotice": READ_ONLY,
    "handover.NoticeDelivery": READ_ONLY,
    "handover.ClientSurvey": READ_ONLY,
    "handover.SurveyDelivery": READ_ONLY,
    "handover.VisitInvitation": READ_ONLY,
    "handover.InvitationDelivery": READ_ONLY,
    "handover.HandoverEvaluation": READ_ONLY,
    "handover.HrDeparture": READ_ONLY,
    # --- the bell -------------------------------------------------------------------------
    "notifications.Notification": READ_ONLY,
    # --- the webhooks: set up by the administrator; the delivery log is a record -------------
    "notifications.WebhookSubscription": only(superuser="vacd"),
    "notifications.WebhookDelivery": READ_ONLY,
}


def _token(user) -> AuthToken:
    api_token_create(user=user)
    return AuthToken.objects.filter(user=user).latest("created")


# Rows the completed handover of the world does not leave behind.
MAKE = {
    "knox.AuthToken": lambda w: _token(w.people.departing),
    "handover.IdempotencyKey": lambda w: IdempotencyKey.objects.create(
        user=w.people.receiver, key="k-1", endpoint="POST /api/handovers/1/items/hand-over-all/", fingerprint="0" * 64
    ),
    "accounts.User": lambda w: w.people.receiver,
    "accounts.AccessLog": lambda w: AccessLog.objects.create(user=w.people.departing, action="view_client"),
    "clients.FollowUp": lambda w: FollowUpFactory(client=w.book[0]),
    "handover.DocumentTemplate": lambda w: DocumentTemplate.objects.create(kind="report", body="一、交接概况"),
    "handover.Reminder": lambda w: Reminder.objects.create(
        user=w.people.receiver,
        handover=w.handover,
        stage="contact",
        kind=ReminderKind.DUE,
        day=timezone.localdate(),
        due_on=timezone.localdate() + datetime.timedelta(days=1),
    ),
    "handover.ArchivedDocument": lambda w: ArchivedDocument.objects.create(
        handover=w.handover, file="archive/x.pdf", sha256="0" * 64, size=1
    ),
    "handover.ArchiveJob": lambda w: ArchiveJob.objects.get_or_create(handover=w.handover)[0],
    "handover.ConfirmationAnnex": lambda w: ConfirmationAnnex.objects.create(
        handover=w.handover, html_sha256="0" * 64, pdf=b"%PDF-1.7", pages=1
    ),
    "handover.ClientNoticeTemplate": lambda w: ClientNoticeTemplate.objects.create(),
    "handover.CoverPolicy": lambda w: CoverPolicy.objects.create(),
    "handover.ClientSurveyTemplate": lambda w: ClientSurveyTemplate.objects.create(),
    "handover.ClientSurvey": lambda w: _survey(w),
    "handover.SurveyDelivery": lambda w: SurveyDelivery.objects.create(
        survey=_survey(w), channel="email", recipient="buyer@example.cn"
    ),
    "handover.NoticeDelivery": lambda w: NoticeDelivery.objects.create(
        notice=ClientNotice.objects.filter(handover_client__handover=w.handover).first(),
        channel="paper",
        created_by=w.people.departing,
    ),
    "notifications.WebhookSubscription": lambda w: WebhookSubscription.objects.create(
        name="CRM", url="https://crm.example.cn/hooks"
    ),
    "notifications.WebhookDelivery": lambda w: WebhookDelivery.objects.create(
        event=WebhookEvent.objects.create(event_id=uuid.uuid4(), type="handover.started"),
        subscription=WebhookSubscription.objects.create(name="HR", url="https://hr.example.cn/hooks"),
    ),
    "handover.HrDeparture": lambda w: HrDeparture.objects.create(
        external_id="HR-1",
        employee_no="E1",
        kind="resignation",
        notice_date=w.handover.notice_date,
        last_working_day=w.handover.last_working_day,
        handover=w.handover,
        registered_by=w.handover.started_by,
    ),
    "handover.HandoverEvaluation": lambda w: HandoverEvaluation.objects.create(
        handover=w.handover,
        materials_score=4,
        feedback_score=5,
        adaptation_score=3,
        comment="材料齐全",
        evaluated_by=w.people.supervisor,
    ),
}


def _survey(w) -> ClientSurvey:
    from handover.selectors.links import new_link
    from handover.selectors.surveys import SURVEY_TOKEN_SALT

    hc = w.handover.clients.order_by("pk").first()
    survey = ClientSurvey.objects.filter(handover_client=hc).first()
    if survey is None:
        survey = new_link(ClientSurvey, SURVEY_TOKEN_SALT, handover_client=hc)
        survey.save()
    return survey


def _label(model) -> str:
    return model._meta.label


def _object_id(obj) -> str:
    return str(obj.pk)


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_admin_model_has_an_expectation():
    registered = {_label(model) for model in admin.site._registry}
    assert registered - set(EXPECTED) == set(), "add the new admin models to EXPECTED"
    assert set(EXPECTED) - registered == set(), "remove the models no longer in the admin from EXPECTED"


class World:
    def __init__(self, people, book, handover):
        self.people = people
        self.book = book
        self.handover = advance_to(handover, State.COMPLETED)
        superuser = UserFactory(username="root", department=None, roles=[Role.ADMIN], is_superuser=True)
        self.users = {role: getattr(people, PEOPLE.get(role, role), None) or superuser for role in ROLES}
        for user in self.users.values():
            user.is_staff = True
            user.save(update_fields=["is_staff"])

    def instance(self, model):
        label = _label(model)
        obj = MAKE[label](self) if label in MAKE else model.objects.first()
        assert obj is not None, f"no {label} in the world: say how to make one in MAKE"
        return obj


def _may(expected: str, letter: str) -> bool:
    return letter in expected or (letter == "v" and "c" in expected)


def _requests(browser, model, obj, expected: str):
    """(what, wanted, got) for each view of one model; a refused POST must leave the row."""
    object_id = _object_id(obj)
    pk = obj.pk
    status = {True: 200, False: 403}
    yield "changelist", status[_may(expected, "v")], browser.get(_url(model, "changelist")).status_code
    yield "history", status[_may(expected, "v")], browser.get(_url(model, "history", object_id)).status_code
    page = browser.get(_url(model, "change", object_id))
    yield "change GET", status[_may(expected, "v")], page.status_code
    if page.status_code == 200:
        yield "change GET editable", _may(expected, "c"), 'name="_save"' in page.content.decode()
    yield "add GET", status[_may(expected, "a")], browser.get(_url(model, "add")).status_code
    yield "delete GET", status[_may(expected, "d")], browser.get(_url(model, "delete", object_id)).status_code
    # The allowed POSTs are shown by the pages above (and by the tests below); the refused ones
    # are sent, with as little as a crafted request needs.
    if not _may(expected, "c"):
        yield "change POST", 403, browser.post(_url(model, "change", object_id), {}).status_code
    if not _may(expected, "a"):
        count = model.objects.count()
        yield "add POST", 403, browser.post(_url(model, "add"), {}).status_code
        yield "add POST created nothing", count, model.objects.count()
    if not _may(expected, "d"):
        yield "delete POST", 403, browser.post(_url(model, "delete", object_id), {"post": "yes"}).status_code
        yield "delete POST deleted nothing", True, model.objects.filter(pk=pk).exists()


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_matrix(role, people, book, handover, login):
    world = World(people, book, handover)
    browser = login(world.users[role])
    wrong = []
    for model in admin.site._registry:
        expected = EXPECTED[_label(model)][role]
        for what, wanted, got in _requests(browser, model, world.instance(model), expected):
            if wanted != got:
                wrong.append(f"{_label(model)} {what}: expected {wanted}, got {got}")
    assert wrong == []


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_without_staff_status_the_admin_is_closed(role, people, client, login):
    browser = client
    if role != "anonymous":
        user = getattr(people, PEOPLE.get(role, role), None) or UserFactory(is_superuser=True, roles=[Role.ADMIN])
        assert not user.is_staff
        browser = login(user)
    for model in admin.site._registry:
        for url in (_url(model, "changelist"), _url(model, "add")):
            response = browser.get(url)
            # Anonymous people meet the site's login first, logged-in ones the admin's.
            login_url = resolve_url(settings.LOGIN_URL) if role == "anonymous" else reverse("admin:login")
            assert response.status_code == 302 and response["Location"].startswith(login_url), url


def test_the_role_groups_hold_exactly_the_permissions_the_roles_name(db):
    for role, perms in ROLE_PERMISSIONS.items():
        held = set(Permission.objects.filter(group__name=str(role)).values_list("content_type__app_label", "codename"))
        assert held == set(perms), role


# ---------------------------------------------------------------------------------------
# Privileges and passwords: superusers only


@pytest.fixture
def hr(people):
    people.hr.is_staff = True
    people.hr.save()
    return people.hr


@pytest.fixture
def superuser(people):
    return UserFactory(username="root", department=None, roles=[Role.ADMIN], is_staff=True, is_superuser=True)


def _change(user) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def _password(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def _form(user, **changes) -> dict:
    """Everything Django's full user form posts for this user, with the changes."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "date_joined_0": timezone.localtime(user.date_joined).strftime("%Y-%m-%d"),
        "date_joined_1": timezone.localtime(user.date_joined).strftime("%H:%M:%S"),
        "employee_no": user.employee_no or "",
        "full_name": user.full_name,
        "phone": user.phone,
        "department": user.department_id or "",
        "supervisor": user.supervisor_id or "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def _privileges(user) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (
        user.is_superuser,
        user.is_staff,
        set(user.groups.values_list("name", flat=True)),
        set(user.user_permissions.values_list("codename", flat=True)),
        user.password,
    )


def _crafted() -> dict:
    """Privileges and a password, posted as a browser would if the form showed them."""
    return {
        "is_superuser": "on",
        "is_staff": "on",
        "groups": [Group.objects.get(name=Role.ADMIN).pk, Group.objects.get(name=Role.MANAGER).pk],
        "user_permissions": [Permission.objects.get(codename="delete_user").pk],
        "password": "md5$salt$forged",
        "password1": "taken-over-1234",
        "password2": "taken-over-1234",
    }


@pytest.mark.parametrize("target", ["hr", "manager", "receiver"])
def test_hr_posting_privileges_changes_only_the_personnel_fields(people, hr, login, target):
    user = getattr(people, target)
    before = _privileges(user)

    response = login(hr).post(_change(user), _form(user, phone="13900000000") | _crafted())

    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).phone == "13900000000"
    assert _privileges(user) == before


def test_hr_sees_no_privileges_or_password_on_the_change_page(people, hr, login):
    page = login(hr).get(_change(people.manager)).content.decode()

    assert 'name="phone"' in page
    for field in ("is_superuser", "is_staff", "groups", "user_permissions", "password"):
        assert f'name="{field}"' not in page, field
    assert "password/" not in page and "md5$" not in page


@pytest.mark.parametrize("target", ["admin", "manager", "hr"])
def test_hr_reaches_nobodys_password_change(people, hr, superuser, login, target):
    user = superuser if target == "admin" else getattr(people, target)
    browser = login(hr)

    assert browser.get(_password(user)).status_code == 403
    response = browser.post(_password(user), {"password1": "taken-over-1234", "password2": "taken-over-1234"})
    assert response.status_code == 403
    assert User.objects.get(pk=user.pk).check_password(DEFAULT_PASSWORD)


def test_a_non_superuser_adds_no_user_even_given_the_permission(people, hr, login):
    # A new account's password is set by whoever adds it; were it HR, HR would hold a login.
    hr.user_permissions.add(Permission.objects.get(codename="add_user"))
    browser = login(hr)
    data = {"username": "newcomer", "password1": "taken-over-1234", "password2": "taken-over-1234"}

    assert browser.get(reverse("admin:accounts_user_add")).status_code == 403
    assert browser.post(reverse("admin:accounts_user_add"), data | {"usable_password": "true"}).status_code == 403
    assert not User.objects.filter(username="newcomer").exists()


@pytest.mark.parametrize("target", ["superuser", "administrator"])
def test_hr_neither_edits_nor_deactivates_an_administrator(people, hr, superuser, login, target):
    user = superuser if target == "superuser" else people.admin
    browser = login(hr)

    page = browser.get(_change(user))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    response = browser.post(_change(user), _form(user, is_active="", full_name="改名"))
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.is_active and user.full_name != "改名"


def test_hr_does_its_work_on_an_account(people, hr, login):
    browser = login(hr)
    user = people.other_sales
    changes = {
        "employee_no": "E99999",
        "full_name": "郑新名",
        "phone": "13911112222",
        "department": people.east.pk,
        "supervisor": people.supervisor.pk,
        "is_active": "",
    }

    assert browser.post(_change(user), _form(user, **changes)).status_code == 302

    user.refresh_from_db()
    assert (user.employee_no, user.full_name, user.phone) == ("E99999", "郑新名", "13911112222")
    assert (user.department, user.supervisor, user.is_active) == (people.east, people.supervisor, False)


def test_hr_finds_departments_and_supervisors_to_pick(people, hr, login):
    browser = login(hr)
    for field, term, found in (("department", "华东", people.east), ("supervisor", "王主管", people.supervisor)):
        response = browser.get(
            reverse("admin:autocomplete"),
            {"app_label": "accounts", "model_name": "user", "field_name": field, "term": term},
        )
        assert response.status_code == 200, field
        assert [r["id"] for r in response.json()["results"]] == [str(found.pk)], field


def test_a_superuser_still_grants_privileges_and_sets_passwords(people, superuser, login):
    browser = login(superuser)
    user = people.manager
    admin_group = Group.objects.get(name=Role.ADMIN)
    data = _form(user, is_staff="on", is_superuser="on", groups=[admin_group.pk])

    assert browser.post(_change(user), data).status_code == 302
    user.refresh_from_db()
    assert user.is_staff and user.is_superuser and user.has_role(Role.ADMIN)

    new_password = {"password1": "new-pass-5678", "password2": "new-pass-5678", "usable_password": "true"}
    assert browser.post(_password(user), new_password).status_code == 302
    assert User.objects.get(pk=user.pk).check_password("new-pass-5678")

    response = browser.post(reverse("admin:accounts_user_add"), {"username": "newcomer"} | new_password)
    assert response.status_code == 302
    assert User.objects.get(username="newcomer").check_password("new-pass-5678")


def test_the_demos_hr_keeps_accounts_in_the_admin_and_nothing_more(db, client):
    call_command("seed_demo", stdout=StringIO())
    hr = User.objects.get(username="xuxiaoyan")
    browser = client
    browser.force_login(hr)

    index = browser.get(reverse("admin:index"))
    shown = {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    assert shown == {"Department", "User", "AccessLog"}
    salesperson = User.objects.get(username=DEPARTING_USERNAME)
    assert 'name="_save"' in browser.get(_change(salesperson)).content.decode()
    assert 'name="_save"' not in browser.get(_change(User.objects.get(username="admin"))).content.decode()
    assert browser.get(_password(salesperson)).status_code == 403


def test_hr_sets_a_salespersons_client_cap(people, hr, login):
    """The cap that refuses a receiver beyond it (handover/selectors/fit.py): HR's, like the department."""
    user = people.receiver
    page = login(hr).get(_change(user))
    assert 'name="client_cap"' in page.content.decode()
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update({"client_cap": "30", "is_active": "on"})
    assert login(hr).post(_change(user), data).status_code == 302
    user.refresh_from_db()
    assert user.client_cap == 30 and user.effective_client_cap == 30


def test_the_departments_default_cap_is_the_administrators(people, hr, superuser, login):
    url = reverse("admin:accounts_department_change", args=[people.east.pk])
    assert 'name="client_cap"' in login(superuser).get(url).content.decode()
    # HR reads departments (the matrix above) but does not change their cap.
    assert 'name="client_cap"' not in login(hr).get(url).content.decode()
