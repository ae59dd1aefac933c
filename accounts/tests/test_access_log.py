"""Views and exports of client data are logged: who, what, when, from where; refusals too."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.access import log_access
from accounts.models import AccessLog
from accounts.roles import ROLE_PERMISSIONS, Role
from accounts.tests.factories import UserFactory
from accounts.tokens import api_token_create
from clients.tests.factories import ClientFactory

Action = AccessLog.Action


def only_row(**filters) -> AccessLog:
    rows = list(AccessLog.objects.filter(**filters))
    assert len(rows) == 1, rows
    return rows[0]


def test_viewing_a_client_writes_one_row_with_who_which_and_where(people, login):
    client = ClientFactory(owner=people.departing)

    assert login(people.supervisor).get(reverse("clients:detail", args=[client.pk])).status_code == 200

    row = only_row()
    assert (row.user, row.action, row.client, row.refused) == (people.supervisor, Action.VIEW_CLIENT, client, False)
    assert row.ip == "127.0.0.1"
    assert row.at is not None


def test_a_client_one_may_not_see_is_logged_as_refused_not_as_seen(people, login):
    client = ClientFactory(owner=people.departing)
    url = reverse("clients:detail", args=[client.pk])
    assert login(people.other_sales).get(url).status_code == 404
    row = only_row()
    assert (row.user, row.action, row.client, row.refused) == (people.other_sales, Action.VIEW_CLIENT, None, True)
    assert row.detail == url


def test_the_list_writes_one_row_per_page_with_its_filters(people, login):
    ClientFactory.create_batch(3, owner=people.departing)

    response = login(people.supervisor).get(reverse("clients:list"), {"q": "测试", "grade": "A"})

    assert response.status_code == 200
    row = only_row()
    assert (row.user, row.action, row.client) == (people.supervisor, Action.LIST_CLIENTS, None)
    assert "grade=A" in row.detail and "q=" in row.detail


def test_an_export_writes_a_row_with_its_filters(people, login):
    ClientFactory.create_batch(2, owner=people.departing)

    response = login(people.supervisor).get(reverse("clients:export"), {"grade": "B", "format": "csv"})

    assert response.status_code == 200
    b"".join(response.streaming_content)
    row = only_row()
    assert (row.user, row.action, row.refused) == (people.supervisor, Action.EXPORT_CLIENTS, False)
    assert "grade=B" in row.detail


def test_the_departing_persons_export_after_the_start_is_refused_and_logged(handover, people, login):
    response = login(people.departing).get(reverse("clients:export"), {"format": "xlsx"})

    assert response.status_code == 403
    row = only_row()
    assert (row.user, row.action, row.refused) == (people.departing, Action.EXPORT_CLIENTS, True)
    assert "format=xlsx" in row.detail


def test_an_export_without_the_permission_is_refused_and_logged(people, login):
    assert login(people.witness).get(reverse("clients:export")).status_code == 403
    row = only_row()
    assert (row.user, row.action, row.refused) == (people.witness, Action.EXPORT_CLIENTS, True)


def test_an_import_is_logged_with_the_file_name(people, login):
    upload = _csv_upload("book.csv")
    response = login(people.manager).post(reverse("clients:import"), {"file": upload, "dry_run": "on"})
    assert response.status_code == 200
    row = only_row()
    assert (row.user, row.action) == (people.manager, Action.IMPORT_CLIENTS)
    assert row.detail.startswith("book.csv (")


def _csv_upload(name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, "公司名称,统一社会信用代码\n".encode(), content_type="text/csv")


def test_reading_a_handover_through_the_api_is_logged(handover, people, client):
    key, _expiry = api_token_create(user=people.receiver)

    response = client.get(reverse("api:handover-detail", args=[handover.pk]), headers={"authorization": f"Token {key}"})

    assert response.status_code == 200
    row = only_row()
    assert (row.user, row.action) == (people.receiver, Action.API_HANDOVER)
    assert handover.number in row.detail


def test_writing_a_row_is_one_insert(people):
    request = RequestFactory().get("/clients/", {"q": "x" * 2000}, REMOTE_ADDR="not-an-ip")
    request.user = people.hr
    with CaptureQueriesContext(connection) as queries:
        log_access(request, Action.LIST_CLIENTS, detail=request.GET.urlencode())
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT")
    row = only_row()
    assert len(row.detail) == 1000 and row.ip is None


# ---------------------------------------------------------------------------------------
# Reading the log: the admin, read-only, for HR and the administrators


@pytest.fixture
def entry(people):
    return AccessLog.objects.create(user=people.departing, action=Action.VIEW_CLIENT, detail="x")


@pytest.mark.parametrize("role", [Role.HR, Role.ADMIN])
def test_hr_and_administrators_read_the_log_in_the_admin(people, login, entry, role):
    reader = UserFactory(is_staff=True, roles=[role])
    browser = login(reader)

    assert browser.get(reverse("admin:accounts_accesslog_changelist")).status_code == 200
    page = browser.get(reverse("admin:accounts_accesslog_change", args=[entry.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert browser.get(reverse("admin:accounts_accesslog_add")).status_code == 403
    assert browser.post(reverse("admin:accounts_accesslog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert AccessLog.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("role", [Role.SALES, Role.SUPERVISOR, Role.MANAGER, Role.WITNESS])
def test_other_roles_do_not_read_the_log(people, login, entry, role):
    staff = UserFactory(is_staff=True, roles=[role])
    assert login(staff).get(reverse("admin:accounts_accesslog_changelist")).status_code == 403


def test_the_role_groups_hold_the_permissions_the_roles_name(db):
    from django.contrib.auth.models import Group

    for role, perms in ROLE_PERMISSIONS.items():
        held = set(Permission.objects.filter(group__name=str(role)).values_list("content_type__app_label", "codename"))
        assert set(perms) <= held, role
    assert Group.objects.get(name=Role.HR).permissions.filter(codename="view_accesslog").exists()
