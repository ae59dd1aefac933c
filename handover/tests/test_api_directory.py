"""The API of what the pages do outside one handover's stages (issue 16, item 1): people, clients,
the archive and its verification, the inbox and notifications, revoking access and the stage prints."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import AccessLog, User
from accounts.roles import Role
from accounts.tests.factories import UserFactory
from accounts.tokens import api_token_create
from clients.tests.factories import ClientFactory, ContactFactory, ContractFactory, FollowUpFactory, ReceivableFactory
from handover import api_directory, pdf, selectors
from handover.forms import HandoverStartForm
from handover.models import State
from handover.tests.test_archive import archived, stored  # noqa: F401 - the fixture
from notifications.models import Notification
from tests.walk import advance_to


@pytest.fixture
def api(db):
    def _api(user=None):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
        return client

    return _api


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row["id"] for row in rows}


# ---------------------------------------------------------------------------------------
# People


def test_a_salesperson_finds_their_department_and_the_reviewers_not_another_departments_salespeople(api, people):
    found = ids(api(people.departing).get("/api/people/"))
    assert {people.receiver.pk, people.supervisor.pk, people.witness.pk, people.manager.pk, people.hr.pk} <= found
    assert people.other_supervisor.pk in found  # a supervisor of any department may need naming
    assert people.other_sales.pk not in found


def test_hr_finds_every_active_person_and_nobody_who_left(api, people):
    gone = UserFactory(username="gone", department=people.north, roles=[Role.SALES], is_active=False)
    found = ids(api(people.hr).get("/api/people/"))
    assert set(User.objects.filter(is_active=True).values_list("pk", flat=True)) == found
    assert gone.pk not in found


def test_a_supervisor_finds_whom_the_start_page_offers_them(api, people):
    """One rule: every person the start page's selects offer a supervisor, the directory shows them."""
    found = ids(api(people.supervisor).get("/api/people/?page_size=200"))
    form = HandoverStartForm(user=people.supervisor)
    offered = set()
    for name in ("departing", "receiver", "witness", "manager"):
        offered |= set(form.fields[name].queryset.values_list("pk", flat=True))
    assert people.other_sales.pk in offered  # a receiver from another department
    assert offered <= found


def test_people_are_searched_by_name_employee_number_role_and_department(api, people):
    people.receiver.employee_no = "E1024"
    people.receiver.save()
    client = api(people.hr)
    assert ids(client.get("/api/people/", {"q": "张接"})) == {people.receiver.pk}
    assert ids(client.get("/api/people/", {"q": "E102"})) == {people.receiver.pk}
    assert ids(client.get("/api/people/", {"role": "witness"})) == {people.witness.pk}
    assert ids(client.get("/api/people/", {"role": "sales", "department": people.north.pk})) == {people.other_sales.pk}
    row = client.get("/api/people/", {"q": "E1024"}).json()["results"][0]
    assert row == {
        "id": people.receiver.pk,
        "name": "张接收",
        "employee_no": "E1024",
        "department": {"id": people.east.pk, "code": "EAST", "name": "华东销售部"},
        "roles": ["sales"],
    }


def test_a_bad_role_is_a_400_in_the_error_shape(api, people):
    response = api(people.hr).get("/api/people/", {"role": "king"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["field"] == "role"


def _count_people_queries(api, user) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api(user).get("/api/people/?page_size=200").status_code == 200
    return len(queries)


def test_the_people_list_costs_the_same_queries_at_two_sizes(api, people):
    small = _count_people_queries(api, people.departing)
    for i in range(15):
        UserFactory(username=f"east{i}", department=people.east, roles=[Role.SALES, Role.WITNESS])
    assert _count_people_queries(api, people.departing) == small


# ---------------------------------------------------------------------------------------
# Clients


@pytest.fixture
def books(people):
    own = [ClientFactory(owner=people.departing, grade="A", name=f"东方科技{i}") for i in range(3)]
    other = [ClientFactory(owner=people.other_sales, grade="A", name=f"北方贸易{i}") for i in range(2)]
    return own, other


def test_the_client_list_shows_only_the_clients_one_sees_with_the_pages_filters(api, people, books):
    own, other = books
    assert ids(api(people.departing).get("/api/clients/")) == {c.pk for c in own}
    assert ids(api(people.supervisor).get("/api/clients/")) == {c.pk for c in own}
    assert ids(api(people.manager).get("/api/clients/")) == {c.pk for c in own + other}
    assert ids(api(people.manager).get("/api/clients/", {"q": "北方"})) == {c.pk for c in other}
    assert ids(api(people.manager).get("/api/clients/", {"owner": people.other_sales.pk})) == {c.pk for c in other}
    body = api(people.departing).get("/api/clients/", {"sort": "-name"}).json()
    assert [r["name"] for r in body["results"]] == ["东方科技2", "东方科技1", "东方科技0"]
    assert body["count"] == 3 and body["count_is_capped"] is False
    assert body["results"][0]["owner"] == {"id": people.departing.pk, "name": "李离职"}


def test_the_client_list_is_logged_like_the_list_page(api, people, books):
    api(people.departing).get("/api/clients/", {"grade": "A"})
    log = AccessLog.objects.get(user=people.departing)
    assert (log.action, log.detail, log.refused) == (AccessLog.Action.LIST_CLIENTS, "grade=A", False)


def test_the_client_list_counts_no_further_than_the_cap_and_still_pages_on(api, people, books, monkeypatch):
    monkeypatch.setattr("clients.filters.COUNT_CAP", 2)
    body = api(people.manager).get("/api/clients/", {"page_size": 1}).json()
    assert body["count_is_capped"] is True and body["count"] == 2
    assert body["next"]
    body = api(people.manager).get("/api/clients/", {"page_size": 1, "page": 5}).json()
    assert len(body["results"]) == 1 and body["next"] is None


def _count_list_queries(api, user) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api(user).get("/api/clients/").status_code == 200
    return len(queries)


def test_the_client_list_costs_the_same_queries_at_two_sizes(api, people, books):
    small = _count_list_queries(api, people.departing)
    for _i in range(10):
        ContractFactory(client=ClientFactory(owner=people.departing))
    assert _count_list_queries(api, people.departing) == small


def test_the_client_detail_has_the_pages_contents_and_is_logged(api, people, books):
    client = books[0][0]
    ContactFactory(client=client, name="采购王")
    ReceivableFactory(contract=ContractFactory(client=client, number="HT-1"))
    FollowUpFactory(client=client, created_by=people.departing)
    response = api(people.supervisor).get(f"/api/clients/{client.pk}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["owner"]["id"] == people.departing.pk
    assert [c["name"] for c in body["contacts"]] == ["采购王"]
    assert [c["number"] for c in body["contracts"]] == ["HT-1"]
    assert body["receivables"][0]["contract_number"] == "HT-1"
    assert set(body["totals"]) == {"contract_amount", "paid", "outstanding", "overdue", "open_deal_amount"}
    assert len(body["follow_ups"]) == 1
    assert body["ownership_history"] == []
    log = AccessLog.objects.get(user=people.supervisor)
    assert (log.action, log.client_id, log.refused) == (AccessLog.Action.VIEW_CLIENT, client.pk, False)


def test_a_client_one_does_not_see_is_a_404_logged_refused(api, people, books):
    other = books[1][0]
    response = api(people.departing).get(f"/api/clients/{other.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert "Client" not in response.json()["detail"]  # the generic answer, naming no model
    log = AccessLog.objects.get(user=people.departing)
    assert (log.action, log.client_id, log.refused) == (AccessLog.Action.VIEW_CLIENT, None, True)


def test_after_completion_the_client_detail_shows_who_owns_it_and_who_did(api, people, handover):
    h = advance_to(handover, State.COMPLETED)
    hc = h.clients.select_related("client").first()
    body = api(hc.receiver).get(f"/api/clients/{hc.client_id}/").json()
    assert body["owner"]["id"] == hc.receiver_id
    change = body["ownership_history"][-1]
    assert (change["from_owner"]["id"], change["to_owner"]["id"]) == (people.departing.pk, hc.receiver_id)
    # The departed person no longer sees it.
    assert api(people.departing).get(f"/api/clients/{hc.client_id}/").status_code == 404


def _count_detail_queries(api, user, client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api(user).get(f"/api/clients/{client.pk}/").status_code == 200
    return len(queries)


def test_the_client_detail_costs_the_same_queries_at_two_sizes(api, people, books):
    client = books[0][0]
    ReceivableFactory(contract=ContractFactory(client=client))
    small = _count_detail_queries(api, people.departing, client)
    for _i in range(4):
        ContactFactory(client=client)
        ReceivableFactory(contract=ContractFactory(client=client))
        FollowUpFactory(client=client, created_by=people.departing)
    assert _count_detail_queries(api, people.departing, client) == small


# ---------------------------------------------------------------------------------------
# The archive and its verification


def test_hr_lists_the_archive_and_downloads_the_file_as_stored(api, people, archived):  # noqa: F811
    rows = api(people.hr).get("/api/archive/").json()["results"]
    row = next(r for r in rows if r["handover"] == archived.handover_id)
    assert row["archived"] is True and row["verification_code"] == archived.verification_code
    response = api(people.hr).get(f"/api/archive/{archived.handover_id}/download/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == stored(archived)
    log = AccessLog.objects.filter(user=people.hr, action=AccessLog.Action.DOWNLOAD_ARCHIVE).get()
    assert not log.refused


def test_only_hr_and_the_administrator_list_the_archive(api, people):
    for who in (people.supervisor, people.manager, people.departing):
        response = api(who).get("/api/archive/")
        assert response.status_code == 403 and response.json()["code"] == "not_allowed"
    assert api(people.admin).get("/api/archive/").status_code == 200


def test_a_code_and_a_file_are_verified_as_the_page_verifies_them(api, people, archived):  # noqa: F811
    client = api(people.other_sales)
    body = client.get("/api/archive/verify/", {"code": archived.verification_code.lower()}).json()
    assert body["matches"] is True and body["handover"] == archived.handover_id and body["seal"] is None
    assert client.post("/api/archive/verify/", {"code": "AAAA-BBBB-CCCC"}, format="json").json()["matches"] is False
    data = stored(archived)
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("copy.pdf", data, content_type="application/pdf")
    body = client.post("/api/archive/verify/", {"file": upload}, format="multipart").json()
    assert body["matches"] is True and body["seal"]["ok"] is True
    changed = SimpleUploadedFile("copy.pdf", data + b"%", content_type="application/pdf")
    body = client.post("/api/archive/verify/", {"file": changed}, format="multipart").json()
    assert body["matches"] is False and body["archived_sha256"] == ""


def test_verifying_needs_a_code_or_a_file(api, people):
    assert api(people.hr).get("/api/archive/verify/").status_code == 400
    response = api(people.hr).post("/api/archive/verify/", {}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


# ---------------------------------------------------------------------------------------
# The inbox and notifications


def test_the_inbox_lists_what_the_page_lists(api, people, handover):
    body = api(people.departing).get("/api/inbox/").json()
    expected = selectors.inbox_for(people.departing)
    assert [(e["handover"]["id"], e["action"]) for e in body] == [(e.handover.pk, e.action) for e in expected]
    assert body and body[0]["handover"]["number"] == handover.number


def test_notifications_are_ones_own_and_marked_read_one_or_all(api, people):
    mine = [Notification.objects.create(user=people.departing, source=f"t{i}", title=f"提醒{i}") for i in range(3)]
    theirs = Notification.objects.create(user=people.receiver, source="t", title="别人的")
    client = api(people.departing)
    assert ids(client.get("/api/notifications/")) == {n.pk for n in mine}
    response = client.post(f"/api/notifications/{mine[0].pk}/read/")
    assert response.status_code == 200 and response.json()["read"] is True
    assert ids(client.get("/api/notifications/", {"unread": "true"})) == {mine[1].pk, mine[2].pk}
    assert client.post(f"/api/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.post("/api/notifications/read-all/").json() == {"count": 2}
    assert not Notification.objects.filter(user=people.departing, read_at__isnull=True).exists()


# ---------------------------------------------------------------------------------------
# Revoking access and the stage prints


def test_hr_revokes_the_departed_persons_access_once(api, people, handover):
    h = advance_to(handover, State.COMPLETED)
    departed = api(people.departing)
    response = api(people.hr).post(f"/api/handovers/{h.pk}/revoke-access/")
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    assert not User.objects.get(pk=people.departing.pk).is_active
    assert departed.get("/api/inbox/").status_code == 401
    again = api(people.hr).post(f"/api/handovers/{h.pk}/revoke-access/")
    assert again.status_code == 409 and again.json()["code"] == "wrong_state"


def test_revoking_before_completion_is_409(api, people, handover):
    response = api(people.hr).post(f"/api/handovers/{handover.pk}/revoke-access/")
    assert response.status_code == 409
    assert User.objects.get(pk=people.departing.pk).is_active


def test_a_stage_prints_as_the_page_prints_it_and_is_logged_as_a_print(api, people, handover):
    response = api(people.supervisor).get(f"/api/handovers/{handover.pk}/print/plan/")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    log = AccessLog.objects.get(user=people.supervisor)
    assert (log.action, log.refused) == (AccessLog.Action.PRINT_HANDOVER, False)
    assert api(people.departing).get(f"/api/handovers/{handover.pk}/print/plan/").status_code == 403
    response = api(people.supervisor).get(f"/api/handovers/{handover.pk}/print/report/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_schema_names_the_stages_the_pdf_prints():
    assert api_directory.PRINT_STAGES == pdf.STAGE_LISTS


def test_new_endpoints_are_in_the_schema(people):
    client = APIClient()
    client.force_login(people.hr)
    paths = set(client.get("/api/schema/").json()["paths"])
    assert {
        "/api/people/",
        "/api/clients/",
        "/api/clients/{client_id}/",
        "/api/archive/",
        "/api/archive/{id}/download/",
        "/api/archive/verify/",
        "/api/inbox/",
        "/api/notifications/",
        "/api/notifications/{notification_id}/read/",
        "/api/notifications/read-all/",
        "/api/handovers/{id}/revoke-access/",
        "/api/handovers/{id}/print/{stage}/",
    } <= paths


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_notification_list_costs_the_same_queries_at_two_sizes(api, people):
    client = api(people.departing)
    Notification.objects.create(user=people.departing, source="first", title="提醒")
    small = _queries(client, "/api/notifications/")
    for i in range(10):
        Notification.objects.create(user=people.departing, source=f"n{i}", title=f"提醒{i}")
    assert _queries(client, "/api/notifications/") == small


def test_the_archive_list_and_hrs_inbox_cost_the_same_queries_at_two_sizes(api, people, start, book):
    client = api(people.hr)
    advance_to(start(), State.COMPLETED)
    small = _queries(client, "/api/archive/")
    inbox = _queries(client, "/api/inbox/")
    other = UserFactory(username="other_departing", department=people.east, supervisor=people.supervisor)
    other.groups.set(people.departing.groups.all())
    ClientFactory(owner=other)
    advance_to(start(departing=other), State.COMPLETED)
    assert len(client.get("/api/archive/").json()["results"]) == 2
    assert _queries(client, "/api/archive/") == small
    # HR's to-do: revoke each departed person's accounts, one entry per handover.
    assert sum(e["revoke"] for e in client.get("/api/inbox/").json()) == 2
    assert _queries(client, "/api/inbox/") == inbox
