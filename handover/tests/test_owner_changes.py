"""No client changes hands behind an open handover's back (issue 9, item 3).

A client inside an open handover moves only at its completion; someone leaving in an open
handover is given no more clients. The client-book import and the admin ask clients.ownership,
where handover registered that rule, and refuse with the row (or the field) and the reason.
"""

import io

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from clients.importer import client_book_import
from clients.models import Client, OwnershipChange
from clients.ownership import owner_change_refusal
from clients.tests.factories import ClientFactory, make_credit_code
from clients.tests.test_import import client_record, make_xlsx
from handover import services
from handover.models import Event, State
from tests.walk import advance_to

OWNER = "负责人工号"


def run(people, records, user=None, **kwargs):
    return client_book_import(
        data=make_xlsx({"客户": records}), filename="book.xlsx", user=user or people.manager, **kwargs
    )


def record_of(people, client, owner) -> dict:
    return client_record(
        people, client.credit_code, 客户名称=client.name, 等级=client.grade, 负责人工号=owner.employee_no
    )


def snapshot() -> tuple:
    return (
        sorted(Client.objects.values_list("pk", "owner_id", "name")),
        OwnershipChange.objects.count(),
        Event.objects.count(),
    )


def test_the_import_refuses_to_move_a_client_of_an_open_handover(people, handover):
    inside = handover.clients.select_related("client").first().client
    fresh_code = make_credit_code(901)
    before = snapshot()

    result = run(
        people,
        [
            client_record(people, fresh_code, 负责人工号=people.receiver.employee_no),
            record_of(people, inside, people.receiver),
        ],
    )

    errors = [(e.sheet, e.row, e.column) for e in result.errors]
    assert errors == [("客户", 3, OWNER)]
    assert handover.number in result.errors[0].message and inside.name in result.errors[0].message
    assert snapshot() == before
    assert not Client.objects.filter(credit_code=fresh_code).exists()


def test_the_import_refuses_to_give_a_new_client_to_someone_leaving(people, handover):
    before = snapshot()

    result = run(people, [client_record(people, make_credit_code(902), 负责人工号=people.departing.employee_no)])

    assert [(e.sheet, e.row, e.column) for e in result.errors] == [("客户", 2, OWNER)]
    assert handover.number in result.errors[0].message and str(people.departing) in result.errors[0].message
    assert snapshot() == before


def test_the_import_refuses_to_give_an_existing_client_to_someone_leaving(people, handover):
    theirs = ClientFactory(owner=people.receiver)
    before = snapshot()

    result = run(people, [record_of(people, theirs, people.departing)])

    assert [(e.sheet, e.row, e.column) for e in result.errors] == [("客户", 2, OWNER)]
    assert snapshot() == before


def test_a_dry_run_reports_the_same_refusal(people, handover):
    inside = handover.clients.select_related("client").first().client

    result = run(people, [record_of(people, inside, people.receiver)], dry_run=True)

    assert [(e.sheet, e.row, e.column) for e in result.errors] == [("客户", 2, OWNER)]


def test_the_import_may_still_update_a_client_of_an_open_handover_without_moving_it(people, handover):
    inside = handover.clients.select_related("client").first().client

    result = run(people, [record_of(people, inside, people.departing) | {"区域": "华南"}])

    assert result.errors == []
    inside.refresh_from_db()
    assert inside.owner == people.departing and inside.region == "华南"


def test_after_the_handover_is_closed_the_import_moves_clients_again(people, handover):
    inside = handover.clients.select_related("client").first().client
    services.handover_transition(handover=handover, name="cancel", user=people.hr, comment="离职取消")

    result = run(people, [record_of(people, inside, people.receiver)])

    assert result.errors == []
    inside.refresh_from_db()
    assert inside.owner == people.receiver


def test_the_import_page_shows_the_row_and_the_reason(people, handover, login):
    inside = handover.clients.select_related("client").first().client
    upload = io.BytesIO(make_xlsx({"客户": [record_of(people, inside, people.receiver)]}))
    upload.name = "book.xlsx"

    response = login(people.supervisor).post(reverse("clients:import"), {"file": upload})

    assert response.status_code == 200
    assert [(e.sheet, e.row, e.column) for e in response.context["result"].errors] == [("客户", 2, OWNER)]
    assert handover.number in response.content.decode()
    inside.refresh_from_db()
    assert inside.owner == people.departing


# ---------------------------------------------------------------------------------------
# The admin


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True, department=None)


def change_form_data(response) -> dict:
    """What the admin's change form would post back as it stands, inlines included."""
    data = {}

    def put(form, names):
        for name in names:
            value = form[name].value()
            if value is True:
                data[form.add_prefix(name)] = "on"
            elif value is not None and value is not False:
                data[form.add_prefix(name)] = value

    form = response.context["adminform"].form
    put(form, form.fields)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        put(management, management.fields)
        for f in formset.forms:
            put(f, f.fields)
    return data


def test_the_admin_refuses_to_change_the_owner_of_a_client_in_an_open_handover(people, handover, superuser, login):
    inside = handover.clients.select_related("client").first().client
    url = reverse("admin:clients_client_change", args=[inside.pk])
    browser = login(superuser)
    data = change_form_data(browser.get(url)) | {"owner": people.receiver.pk}
    before = snapshot()

    response = browser.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["owner"]
    assert len(errors) == 1 and handover.number in errors[0]
    assert snapshot() == before


def test_the_admin_refuses_to_give_a_client_to_someone_leaving(people, handover, superuser, login):
    theirs = ClientFactory(owner=people.receiver)
    url = reverse("admin:clients_client_change", args=[theirs.pk])
    browser = login(superuser)
    data = change_form_data(browser.get(url)) | {"owner": people.departing.pk}

    response = browser.post(url, data)

    assert response.status_code == 200
    assert str(people.departing) in response.context["adminform"].form.errors["owner"][0]
    theirs.refresh_from_db()
    assert theirs.owner == people.receiver


def test_the_admin_refuses_to_add_a_client_for_someone_leaving(people, handover, superuser, login):
    browser = login(superuser)
    url = reverse("admin:clients_client_add")
    data = change_form_data(browser.get(url)) | {
        "name": "新增客户有限公司",
        "credit_code": make_credit_code(903),
        "owner": people.departing.pk,
    }

    response = browser.post(url, data)

    assert response.status_code == 200
    assert "owner" in response.context["adminform"].form.errors
    assert not Client.objects.filter(name="新增客户有限公司").exists()
    # The same client for someone staying is added.
    assert browser.post(url, data | {"owner": people.receiver.pk}).status_code == 302
    assert Client.objects.get(name="新增客户有限公司").owner == people.receiver


def test_the_admin_changes_other_owners_as_before(people, handover, superuser, login):
    theirs = ClientFactory(owner=people.receiver)
    url = reverse("admin:clients_client_change", args=[theirs.pk])
    browser = login(superuser)
    data = change_form_data(browser.get(url)) | {"owner": people.other_sales.pk}

    assert browser.post(url, data).status_code == 302
    theirs.refresh_from_db()
    assert theirs.owner == people.other_sales
    change = OwnershipChange.objects.get(client=theirs)
    assert (change.from_owner, change.to_owner, change.changed_by) == (people.receiver, people.other_sales, superuser)


def test_completion_itself_moves_the_clients(people, handover):
    """The procedure's own move is not an owner change from outside: it passes."""
    h = advance_to(handover, State.COMPLETED)

    assert not Client.objects.filter(owner=people.departing).exists()
    assert Client.objects.filter(owner=people.receiver).count() == h.clients.count() == 10


def test_the_guard_answers_for_one_change(people, handover):
    inside = handover.clients.first().client_id
    outside = ClientFactory(owner=people.receiver).pk

    assert len(owner_change_refusal(client_id=inside, new_owner_id=people.receiver.pk)) == 1
    assert len(owner_change_refusal(client_id=inside, new_owner_id=people.departing.pk)) == 2
    assert len(owner_change_refusal(client_id=None, new_owner_id=people.departing.pk)) == 1
    assert owner_change_refusal(client_id=outside, new_owner_id=people.other_sales.pk) == []
