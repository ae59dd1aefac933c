"""The limits on what an import upload may be: its type, how far it unpacks, how many rows.

(Its size in bytes is covered in test_import.py.)
"""

import pytest
from django.urls import reverse

from clients import importer
from clients.importer import client_book_import
from clients.models import Client
from clients.tests.factories import make_credit_code
from clients.tests.test_import import client_record, db_counts, good_book, make_csv, make_xlsx, upload


@pytest.mark.parametrize("name", ["book.exe", "book.html", "book.xls", "book.xlsx.php", "book"])
def test_the_page_refuses_a_file_that_is_not_xlsx_or_csv(people, login, name):
    response = login(people.supervisor).post(
        reverse("clients:import"), {"file": upload(make_xlsx(good_book(people)), name)}
    )

    assert response.status_code == 200
    assert [e.code for e in response.context["form"].errors.as_data()["file"]] == ["extension"]
    assert Client.objects.count() == 0


def test_a_workbook_that_unpacks_too_far_is_refused_before_parsing(people, monkeypatch):
    # An .xlsx is a zip: a small upload can unpack to gigabytes of XML (a "zip bomb").
    data = make_xlsx(good_book(people))
    monkeypatch.setattr(importer, "MAX_UNPACKED_BYTES", len(data))

    def must_not_parse(*args, **kwargs):
        raise AssertionError("parsed a workbook that unpacks too far")

    monkeypatch.setattr(importer.openpyxl, "load_workbook", must_not_parse)

    result = client_book_import(data=data, filename="book.xlsx", user=people.manager)

    assert len(result.errors) == 1 and result.errors[0].row is None
    assert db_counts() == (0, 0, 0, 0, 0, 0)


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_file_with_too_many_rows_is_refused(people, monkeypatch, kind):
    monkeypatch.setattr(importer, "MAX_DATA_ROWS", 3)
    records = [client_record(people, make_credit_code(200 + i)) for i in range(4)]
    data = make_xlsx({"客户": records}) if kind == "xlsx" else make_csv(records, "utf-8-sig")

    result = client_book_import(data=data, filename=f"book.{kind}", user=people.manager)

    assert len(result.errors) == 1 and "3" in result.errors[0].message
    assert db_counts() == (0, 0, 0, 0, 0, 0)


def test_as_many_rows_as_allowed_are_imported(people, monkeypatch):
    monkeypatch.setattr(importer, "MAX_DATA_ROWS", 3)
    records = [client_record(people, make_credit_code(200 + i)) for i in range(3)]

    result = client_book_import(data=make_xlsx({"客户": records}), filename="book.xlsx", user=people.manager)

    assert result.ok and Client.objects.count() == 3
