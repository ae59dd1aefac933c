"""Names and codes show what is stored: bidi overrides and zero-width characters are refused on every path."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import UserFactory
from clients.models import Client, Contact, Contract, Opportunity
from clients.tests.factories import ClientFactory
from clients.tests.test_import import CODE_1, client_record, db_counts, good_book, run, where
from clients.validators import normalize_text, validate_credit_code, validate_plain_text
from handover.models import State, Visit, VisitMode
from tests.walk import advance_to

REVERSED = "\u202eabc"  # RIGHT-TO-LEFT OVERRIDE: shows as "cba"
LOOK_ALIKE = "A\u200bB"  # ZERO WIDTH SPACE: looks like "AB"
HIDDEN = [REVERSED, LOOK_ALIKE, "\u2066名\u2069", "\ufeff客户", "甲\u200d乙", "a\tb", "a\nb", "a\u2028b", "x\ue000"]
REFUSED_IN_CHINESE = "不可见"


@pytest.mark.parametrize("value", HIDDEN)
def test_the_validator_refuses_hidden_characters_and_names_them(value):
    with pytest.raises(ValidationError) as refused:
        validate_plain_text(value)
    assert refused.value.code == "hidden_characters"
    assert "U+" in refused.value.messages[0]


@pytest.mark.parametrize("value", ["上海（示例）科技有限公司", "Ａ１号楼", "Café 咖啡", "O'Brien & Co.", "一　二"])
def test_the_validator_keeps_what_people_type_on_purpose(value):
    validate_plain_text(value)
    # Full-width letters, digits, brackets and the ideographic space stay as typed (NFKC would change them).
    assert normalize_text(value) == value


def test_names_are_stored_composed():
    assert normalize_text("Cafe\u0301") == "Café"


@pytest.mark.parametrize("value", [REVERSED, LOOK_ALIKE, CODE_1[:9] + "\u200b" + CODE_1[9:]])
def test_a_credit_code_with_hidden_characters_is_refused_as_such(value):
    with pytest.raises(ValidationError) as refused:
        validate_credit_code(value)
    assert refused.value.code == "hidden_characters"


# ---------------------------------------------------------------------------------------
# The import


@pytest.mark.parametrize("value", [REVERSED, LOOK_ALIKE])
@pytest.mark.parametrize(
    ("sheet", "column"),
    [
        ("客户", "客户名称"),
        ("客户", "统一社会信用代码"),
        ("客户", "地址"),
        ("联系人", "姓名"),
        ("联系人", "电话"),
        ("合同", "合同编号"),
        ("合同", "合同名称"),
        ("商机", "商机名称"),
    ],
)
def test_the_import_refuses_hidden_characters_with_the_row(people, sheet, column, value):
    sheets = good_book(people)
    sheets[sheet][0][column] = value

    result = run(people, sheets)

    assert (sheet, 2, column) in where(result)
    message = next(e.message for e in result.errors if (e.sheet, e.row, e.column) == (sheet, 2, column))
    assert REFUSED_IN_CHINESE in message and column in message
    assert db_counts() == (0, 0, 0, 0, 0, 0)


def test_the_import_stores_names_composed(people):
    result = run(people, {"客户": [client_record(people, CODE_1, 客户名称="Cafe\u0301 咖啡有限公司")]})

    assert result.ok, result.errors
    assert Client.objects.get(credit_code=CODE_1).name == "Café 咖啡有限公司"


# ---------------------------------------------------------------------------------------
# The models (the admin validates through them) and the admin itself


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (Client, "name"),
        (Client, "credit_code"),
        (Contact, "name"),
        (Contract, "number"),
        (Contract, "name"),
        (Opportunity, "name"),
        (User, "full_name"),
        (Visit, "contact_met"),
    ],
)
@pytest.mark.parametrize("value", [REVERSED, LOOK_ALIKE])
def test_every_name_and_code_field_refuses_hidden_characters(model, name, value):
    with pytest.raises(ValidationError) as refused:
        model._meta.get_field(name).clean(value, None)
    assert "hidden_characters" in [e.code for e in refused.value.error_list]


def test_a_saved_name_is_stored_composed(people):
    client = ClientFactory(owner=people.departing, name="Cafe\u0301有限公司")
    client.refresh_from_db()
    assert client.name == "Café有限公司"


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("value", [REVERSED, LOOK_ALIKE])
def test_the_admin_refuses_a_client_name_with_hidden_characters(people, superuser, client, value):
    c = ClientFactory(owner=people.departing, name="原来的名字有限公司")
    client.force_login(superuser)
    form = {
        "name": value,
        "credit_code": c.credit_code,
        "grade": "B",
        "owner": people.departing.pk,
        "status": "active",
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "1000",
    }

    response = client.post(f"/admin/clients/client/{c.pk}/change/", form)

    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert REFUSED_IN_CHINESE in str(response.context["adminform"].form.errors["name"])
    c.refresh_from_db()
    assert c.name == "原来的名字有限公司"


# ---------------------------------------------------------------------------------------
# The handover's own names: the contact met on a joint visit, by the API and the page


@pytest.mark.parametrize("value", [REVERSED, LOOK_ALIKE])
def test_the_api_refuses_a_visit_contact_with_hidden_characters(handover, people, value):
    h = advance_to(handover, State.VISITS)
    api = APIClient()
    api.force_authenticate(people.departing)
    body = {
        "handover_client": h.clients.first().pk,
        "visited_on": str(timezone.localdate()),
        "mode": VisitMode.IN_PERSON,
        "contact_met": value,
        "outcome": "介绍了新对接人",
    }

    response = api.post(f"/api/handovers/{h.pk}/visits/", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["field"] == "contact_met" and REFUSED_IN_CHINESE in response.json()["detail"]
    assert not Visit.objects.exists()


@pytest.mark.parametrize("value", [REVERSED, LOOK_ALIKE])
def test_the_page_refuses_a_visit_contact_with_hidden_characters(handover, people, login, value):
    h = advance_to(handover, State.VISITS)
    hc = h.clients.first()
    form = {
        "version": h.version,
        "visited_on": f"{timezone.localdate():%Y-%m-%d}",
        "mode": VisitMode.IN_PERSON,
        "contact_met": value,
        "outcome": "介绍了新对接人",
    }

    response = login(people.departing).post(f"/handovers/{h.pk}/clients/{hc.pk}/visits/", form, follow=True)

    assert any(REFUSED_IN_CHINESE in str(m) for m in response.context["messages"])
    assert not Visit.objects.exists()
