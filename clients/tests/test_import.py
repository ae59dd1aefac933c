import datetime
import io
import os
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from clients.importer import client_book_import
from clients.models import Client, Contact, Contract, Opportunity, OwnershipChange, Receivable
from clients.tests.factories import ClientFactory, ContractFactory, make_credit_code

CODE_1 = make_credit_code(101)
CODE_2 = make_credit_code(102)
CODE_3 = make_credit_code(103)


def table(records: list[dict]) -> list[list]:
    headers = list(dict.fromkeys(key for record in records for key in record))
    return [headers, *([record.get(h) for h in headers] for record in records)]


def make_xlsx(sheets: dict[str, list[dict]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, records in sheets.items():
        sheet = workbook.create_sheet(title)
        for values in table(records):
            sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_csv(records: list[dict], encoding: str) -> bytes:
    lines = [",".join("" if v is None else str(v) for v in row) for row in table(records)]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def client_record(people, code=CODE_1, **overrides) -> dict:
    record = {
        "客户名称": f"客户{code[-4:]}有限公司",
        "统一社会信用代码": code,
        "等级": "A",
        "行业": "制造业",
        "区域": "华东",
        "地址": "上海市浦东新区 1 号",
        "来源渠道": "展会",
        "负责人工号": people.departing.employee_no,
        "状态": "合作中",
        "决策链": "采购经理 → 总经理",
        "偏好与禁忌": "喜欢微信沟通",
        "合作历史": "2024 年起合作",
        "潜在需求": "扩产",
    }
    record.update(overrides)
    return record


def contract_record(number="HT-001", code=CODE_1, **overrides) -> dict:
    record = {
        "合同编号": number,
        "统一社会信用代码": code,
        "合同名称": f"采购合同 {number}",
        "签订日期": datetime.date(2026, 1, 10),
        "开始日期": "2026-01-15",
        "结束日期": "2026/12/31",
        "合同金额": 100000,
        "已付金额": "40000.50",
        "履约进度(%)": 40,
        "状态": "active",
        "原件存放处": "档案室 A-3",
    }
    record.update(overrides)
    return record


def receivable_record(number="HT-001", **overrides) -> dict:
    record = {
        "合同编号": number,
        "款项说明": "二期款",
        "应收金额": 30000,
        "已收金额": 10000.5,
        "到期日": datetime.datetime(2026, 6, 30),
    }
    record.update(overrides)
    return record


def good_book(people) -> dict[str, list[dict]]:
    return {
        "客户": [
            client_record(people, CODE_1),
            client_record(people, CODE_2, 等级="C", 状态="prospect", 负责人工号=people.receiver.employee_no),
        ],
        "联系人": [
            {"统一社会信用代码": CODE_1, "姓名": "张三", "职位": "采购经理", "电话": 13800138000, "关键决策人": "是"},
            {"统一社会信用代码": CODE_2, "姓名": "李四", "电话": "021-5555 1234", "邮箱": "li@example.com"},
        ],
        "合同": [contract_record("HT-001", CODE_1), contract_record("HT-002", CODE_2, 状态="履行中")],
        "应收款": [
            receivable_record("HT-001"),
            receivable_record("HT-001", 款项说明="尾款", 到期日="2026年12月31日", 已收金额=None),
            receivable_record("HT-002", 到期日=20260930),
        ],
        "商机": [
            {"统一社会信用代码": CODE_1, "商机名称": "二期扩容", "阶段": "方案报价", "预计金额": "50,000.00"},
        ],
    }


def run(people, sheets, user=None, **kwargs):
    return client_book_import(data=make_xlsx(sheets), filename="book.xlsx", user=user or people.manager, **kwargs)


def where(result) -> set[tuple]:
    return {(e.sheet, e.row, e.column) for e in result.errors}


def db_counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Client, Contact, Contract, Receivable, Opportunity, OwnershipChange))


# --------------------------------------------------------------------------- clean files


def test_it_imports_a_clean_workbook(people):
    result = run(people, good_book(people))

    assert result.errors == []
    assert {code: (c.created, c.updated, c.unchanged) for code, c in result.counts.items()} == {
        "clients": (2, 0, 0),
        "contacts": (2, 0, 0),
        "contracts": (2, 0, 0),
        "receivables": (3, 0, 0),
        "deals": (1, 0, 0),
    }
    first = Client.objects.get(credit_code=CODE_1)
    assert (first.grade, first.status, first.owner, first.preferences) == (
        "A",
        "active",
        people.departing,
        "喜欢微信沟通",
    )
    second = Client.objects.get(credit_code=CODE_2)
    assert (second.grade, second.status, second.owner) == ("C", "prospect", people.receiver)
    contact = Contact.objects.get(name="张三")
    assert (contact.client, contact.phone, contact.is_key_decision_maker) == (first, "13800138000", True)
    contract = Contract.objects.get(number="HT-001")
    assert contract.client == first
    assert (contract.signed_on, contract.start_date, contract.end_date) == (
        datetime.date(2026, 1, 10),
        datetime.date(2026, 1, 15),
        datetime.date(2026, 12, 31),
    )
    assert (contract.amount, contract.amount_paid, contract.performance_progress) == (
        Decimal("100000.00"),
        Decimal("40000.50"),
        40,
    )
    assert Contract.objects.get(number="HT-002").status == "active"
    assert sorted(Receivable.objects.values_list("contract__number", "due_date", "amount_received")) == [
        ("HT-001", datetime.date(2026, 6, 30), Decimal("10000.50")),
        ("HT-001", datetime.date(2026, 12, 31), Decimal("0.00")),
        ("HT-002", datetime.date(2026, 9, 30), Decimal("10000.50")),
    ]
    deal = Opportunity.objects.get()
    assert (deal.client, deal.stage, deal.expected_amount) == (first, "proposal", Decimal("50000.00"))
    # Each new client's history starts with its first owner.
    assert set(OwnershipChange.objects.values_list("client__credit_code", "from_owner", "to_owner", "changed_by")) == {
        (CODE_1, None, people.departing.pk, people.manager.pk),
        (CODE_2, None, people.receiver.pk, people.manager.pk),
    }


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_it_imports_a_csv_of_clients(people, encoding):
    data = make_csv([client_record(people, CODE_1), client_record(people, CODE_2, 等级="B类")], encoding)

    result = client_book_import(data=data, filename="客户.CSV", user=people.supervisor)

    assert result.errors == []
    assert result.counts["clients"].created == 2
    assert sorted(Client.objects.values_list("name", "grade")) == [
        (f"客户{CODE_1[-4:]}有限公司", "A"),
        (f"客户{CODE_2[-4:]}有限公司", "B"),
    ]


def test_it_reads_a_one_sheet_workbook_with_client_headers(people):
    result = run(people, {"Sheet1": [client_record(people)]})

    assert result.errors == []
    assert Client.objects.filter(credit_code=CODE_1).exists()


def test_it_adds_rows_to_clients_already_in_the_system(people):
    client = ClientFactory(owner=people.departing)
    contract = ContractFactory(client=client, number="HT-OLD")

    result = run(
        people,
        {
            "联系人": [{"统一社会信用代码": client.credit_code, "姓名": "王五"}],
            "应收款": [receivable_record("HT-OLD")],
        },
        user=people.supervisor,
    )

    assert result.errors == []
    assert client.contacts.get().name == "王五"
    assert contract.receivables.count() == 1


def test_it_keeps_stored_values_of_columns_left_out(people):
    run(people, good_book(people))
    short = {"客户": [{"客户名称": "新名字", "统一社会信用代码": CODE_1, "负责人工号": people.departing.employee_no}]}

    result = run(people, short)

    assert result.errors == []
    client = Client.objects.get(credit_code=CODE_1)
    assert (client.name, client.grade, client.preferences) == ("新名字", "A", "喜欢微信沟通")


# --------------------------------------------------------------------------- idempotence and updates


def test_reimporting_the_same_file_changes_nothing(people):
    sheets = good_book(people)
    run(people, sheets)
    before = db_counts()
    stamps = dict(Client.objects.values_list("credit_code", "updated_at"))

    result = run(people, sheets)

    assert result.errors == []
    assert (result.created, result.updated, result.unchanged) == (0, 0, 10)
    assert db_counts() == before
    assert dict(Client.objects.values_list("credit_code", "updated_at")) == stamps


def test_a_changed_file_updates_by_credit_code_and_contract_number(people):
    sheets = good_book(people)
    run(people, sheets)
    before = db_counts()
    sheets["客户"][0]["等级"] = "B"
    sheets["客户"][0]["负责人工号"] = people.receiver.employee_no
    sheets["合同"][1]["合同金额"] = "120000.00"
    sheets["合同"][1]["统一社会信用代码"] = CODE_1  # the contract moves to the other client
    sheets["应收款"][0]["已收金额"] = 30000
    sheets["商机"][0]["阶段"] = "negotiation"

    result = run(people, sheets)

    assert result.errors == []
    assert {code: (c.created, c.updated) for code, c in result.counts.items()} == {
        "clients": (0, 1),
        "contacts": (0, 0),
        "contracts": (0, 1),
        "receivables": (0, 1),
        "deals": (0, 1),
    }
    client = Client.objects.get(credit_code=CODE_1)
    assert (client.grade, client.owner) == ("B", people.receiver)
    contract = Contract.objects.get(number="HT-002")
    assert (contract.amount, contract.client) == (Decimal("120000.00"), client)
    assert Receivable.objects.get(contract__number="HT-001", description="二期款").amount_received == 30000
    assert Opportunity.objects.get().stage == "negotiation"
    # No duplicates, and the change of owner is in the history.
    assert db_counts()[:5] == before[:5]
    change = OwnershipChange.objects.filter(client=client).latest("id")
    assert (change.from_owner, change.to_owner) == (people.departing, people.receiver)


def test_a_dry_run_counts_but_writes_nothing(people):
    result = run(people, good_book(people), dry_run=True)

    assert result.errors == []
    assert result.created == 10
    assert db_counts() == (0, 0, 0, 0, 0, 0)


def test_it_uses_a_fixed_number_of_queries_whatever_the_size(people):
    def book(start: int, n: int) -> dict:
        codes = [make_credit_code(start + i) for i in range(n)]
        return {
            "客户": [client_record(people, code) for code in codes],
            "联系人": [{"统一社会信用代码": code, "姓名": "张三"} for code in codes],
            "合同": [contract_record(f"HT-{code}", code) for code in codes],
            "应收款": [receivable_record(f"HT-{code}") for code in codes],
            "商机": [{"统一社会信用代码": code, "商机名称": "扩容"} for code in codes],
        }

    def queries(sheets) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert run(people, sheets).errors == []
        return len(ctx.captured_queries)

    queries(book(500, 1))  # warms the user's permission cache
    small, large = queries(book(1000, 3)), queries(book(2000, 30))
    assert large == small
    # And again for the no-op re-import of the larger book.
    assert queries(book(2000, 30)) <= small


# --------------------------------------------------------------------------- bad rows


def test_it_reports_every_error_with_sheet_row_and_column_and_imports_nothing(people):
    sheets = good_book(people)
    bad_code = CODE_3[:-1] + ("0" if CODE_3[-1] != "0" else "1")
    sheets["客户"].append(client_record(people, bad_code))  # row 4, wrong check character
    sheets["联系人"][0]["统一社会信用代码"] = CODE_3  # row 2, unknown client
    sheets["联系人"][1]["邮箱"] = "not-an-email"  # row 3
    sheets["合同"][0]["合同金额"] = -5  # row 2
    sheets["合同"][1]["结束日期"] = "2025-12-31"  # row 3, before the start
    sheets["应收款"][2]["已收金额"] = 40000  # row 4, more than due
    sheets["应收款"][1]["到期日"] = "明天"  # row 3
    sheets["商机"][0]["阶段"] = "差不多了"  # row 2

    result = run(people, sheets)

    assert where(result) == {
        ("客户", 4, "统一社会信用代码"),
        ("联系人", 2, "统一社会信用代码"),
        ("联系人", 3, "邮箱"),
        ("合同", 2, "合同金额"),
        ("合同", 3, "结束日期"),
        ("应收款", 3, "到期日"),
        ("应收款", 4, "已收金额"),
        ("商机", 2, "阶段"),
    }
    assert [e.sheet for e in result.errors] == sorted(
        (e.sheet for e in result.errors), key=["客户", "联系人", "合同", "应收款", "商机"].index
    )
    assert all(e.message for e in result.errors)
    assert db_counts() == (0, 0, 0, 0, 0, 0)
    assert result.created == 0


@pytest.mark.parametrize(
    ("sheet", "index", "column", "value"),
    [
        ("合同", 0, "合同金额", "-1.00"),
        ("合同", 0, "已付金额", -0.01),
        ("应收款", 0, "应收金额", -100),
        ("商机", 0, "预计金额", "-3"),
        ("合同", 0, "合同金额", "12.345"),
        ("合同", 0, "合同金额", 0.125),
        ("合同", 0, "合同金额", "十万"),
        ("合同", 0, "合同金额", "NaN"),
        ("合同", 0, "合同金额", 10**13),
        ("合同", 0, "签订日期", "2026-02-30"),
        ("合同", 0, "签订日期", "next week"),
        ("合同", 0, "签订日期", 12.5),
        ("合同", 0, "履约进度(%)", 150),
        ("合同", 0, "履约进度(%)", "一半"),
        ("合同", 0, "状态", "还行"),
        ("联系人", 0, "关键决策人", "也许"),
        ("客户", 0, "等级", "D"),
        ("客户", 0, "客户名称", "名" * 201),
        ("客户", 0, "客户名称", None),
    ],
)
def test_it_names_the_cell_of_a_bad_value(people, sheet, index, column, value):
    sheets = good_book(people)
    sheets[sheet][index][column] = value

    with translation.override("en"):
        result = run(people, sheets)

    assert where(result) == {(sheet, index + 2, column)}
    assert column in result.errors[0].message
    assert db_counts() == (0, 0, 0, 0, 0, 0)


def test_rows_pointing_at_a_client_whose_code_is_wrong_report_it_too(people):
    sheets = good_book(people)
    sheets["客户"][1]["统一社会信用代码"] = "ABC"

    result = run(people, sheets)

    assert where(result) == {
        ("客户", 3, "统一社会信用代码"),
        ("联系人", 3, "统一社会信用代码"),
        ("合同", 3, "统一社会信用代码"),
    }


def test_it_refuses_received_more_than_due_and_paid_more_than_the_amount(people):
    sheets = good_book(people)
    sheets["应收款"][0].update({"应收金额": 100, "已收金额": 100.01})
    sheets["合同"][0].update({"合同金额": 100, "已付金额": 200})

    result = run(people, sheets)

    assert where(result) == {("应收款", 2, "已收金额"), ("合同", 2, "已付金额")}


def test_it_refuses_an_end_date_before_the_start(people):
    sheets = good_book(people)
    sheets["合同"][0].update({"开始日期": "2026-03-01", "结束日期": "2026-02-28"})

    result = run(people, sheets)

    assert where(result) == {("合同", 2, "结束日期")}


def test_it_checks_an_update_against_the_stored_values_it_keeps(people):
    run(people, good_book(people))
    # Only the amount is given; the stored amount paid (40,000.50) would exceed it.
    sheets = {"合同": [{k: v for k, v in contract_record().items() if k != "已付金额"} | {"合同金额": 1000}]}

    result = run(people, sheets)

    assert where(result) == {("合同", 2, "已付金额")}
    assert Contract.objects.get(number="HT-001").amount == Decimal("100000.00")


def test_it_refuses_duplicate_keys_within_the_file(people):
    sheets = good_book(people)
    sheets["客户"].append(client_record(people, CODE_1))  # row 4
    sheets["合同"].append(contract_record("HT-001", CODE_2))  # row 4
    sheets["联系人"].append({"统一社会信用代码": CODE_1, "姓名": "张三", "电话": "13800138000"})  # row 4
    sheets["应收款"].append(receivable_record("HT-001"))  # row 5
    sheets["商机"].append({"统一社会信用代码": CODE_1, "商机名称": "二期扩容"})  # row 3

    with translation.override("en"):
        result = run(people, sheets)

    assert where(result) == {
        ("客户", 4, "统一社会信用代码"),
        ("合同", 4, "合同编号"),
        ("联系人", 4, "姓名"),
        ("应收款", 5, "到期日"),
        ("商机", 3, "商机名称"),
    }
    duplicate_contract = next(e for e in result.errors if e.sheet == "合同")
    assert "HT-001" in duplicate_contract.message and "row 2" in duplicate_contract.message


def test_it_refuses_references_to_unknown_clients_and_contracts(people):
    sheets = good_book(people)
    sheets["合同"][0]["统一社会信用代码"] = CODE_3
    sheets["应收款"][2]["合同编号"] = "HT-404"

    result = run(people, sheets)

    assert where(result) == {("合同", 2, "统一社会信用代码"), ("应收款", 4, "合同编号")}


def test_it_refuses_unknown_inactive_and_non_sales_owners(people):
    people.other_sales.is_active = False
    people.other_sales.save()
    sheets = {
        "客户": [
            client_record(people, CODE_1, 负责人工号="NOBODY"),
            client_record(people, CODE_2, 负责人工号=people.witness.employee_no),
            client_record(people, CODE_3, 负责人工号=people.other_sales.employee_no),
        ]
    }

    result = run(people, sheets)

    assert where(result) == {("客户", row, "负责人工号") for row in (2, 3, 4)}


def test_it_refuses_missing_required_columns(people):
    record = client_record(people)
    del record["负责人工号"]

    result = run(people, {"客户": [record]})

    assert where(result) == {("客户", 1, "负责人工号")}


def test_it_accepts_choice_codes_labels_and_chinese_words(people):
    sheets = {
        "客户": [
            client_record(people, CODE_1, 等级="a", 状态="Paused"),
            client_record(people, CODE_2, 等级="C类", 状态="已流失", 流失原因="价格"),
        ]
    }

    assert run(people, sheets).errors == []
    assert sorted(Client.objects.values_list("grade", "status")) == [("A", "paused"), ("C", "lost")]


# --------------------------------------------------------------------------- bad files


def test_it_refuses_an_oversized_file(people, settings):
    settings.IMPORT_MAX_BYTES = 1000

    result = run(people, good_book(people))

    assert len(result.errors) == 1
    assert result.errors[0].row is None
    assert db_counts() == (0, 0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (os.urandom(2048), "book.xlsx"),
        (b"", "book.xlsx"),
        (b"PK\x03\x04" + os.urandom(500), "book.xlsx"),
        ("名称,代码\n".encode(), "book.xls"),
        (b"hello", "book"),
    ],
    # Named, not shown: the random bytes differ at each collection (pytest-xdist's workers compare).
    ids=["random", "empty", "zip-header-then-random", "csv-named-xls", "no-extension"],
)
def test_it_refuses_a_malformed_file_with_a_message(people, data, filename):
    result = client_book_import(data=data, filename=filename, user=people.manager)

    assert len(result.errors) == 1
    assert result.errors[0].message
    assert result.errors[0].row is None


def test_it_refuses_a_zip_that_is_not_a_workbook(people):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")

    result = client_book_import(data=buffer.getvalue(), filename="book.xlsx", user=people.manager)

    assert len(result.errors) == 1


def test_it_refuses_a_workbook_without_known_sheets(people):
    result = run(people, {"说明": [{"随便": "什么"}]})

    assert len(result.errors) == 1


def test_it_refuses_a_workbook_without_data_rows(people):
    data = make_xlsx({"客户": []})

    result = client_book_import(data=data, filename="book.xlsx", user=people.manager)

    assert len(result.errors) == 1


def test_it_refuses_an_xlsx_named_csv(people):
    data = make_xlsx(good_book(people))

    result = client_book_import(data=data, filename="book.csv", user=people.manager)

    assert len(result.errors) == 1


# --------------------------------------------------------------------------- permissions


def test_the_service_refuses_a_user_without_the_permission(people):
    with pytest.raises(PermissionDenied):
        run(people, good_book(people), user=people.departing)


@pytest.mark.parametrize("name", ["client_import", "client_import_template"])
def test_a_salesperson_gets_403(people, login, name):
    url = reverse("clients:import" if name == "client_import" else "clients:import_template")

    assert login(people.departing).get(url).status_code == 403


def test_a_salesperson_cannot_post_an_import(people, login):
    upload = io.BytesIO(make_xlsx(good_book(people)))
    upload.name = "book.xlsx"

    response = login(people.departing).post(reverse("clients:import"), {"file": upload})

    assert response.status_code == 403
    assert Client.objects.count() == 0


def test_a_supervisor_cannot_import_clients_for_owners_outside_the_department(people):
    sheets = {
        "客户": [
            client_record(people, CODE_1),
            client_record(people, CODE_2, 负责人工号=people.other_sales.employee_no),
        ]
    }

    result = run(people, sheets, user=people.supervisor)

    assert where(result) == {("客户", 3, "负责人工号")}
    assert Client.objects.count() == 0
    # The other department's supervisor and the manager may.
    assert run(people, {"客户": sheets["客户"][1:]}, user=people.other_supervisor).errors == []
    assert run(people, sheets, user=people.manager).errors == []


def test_a_supervisor_cannot_take_over_or_change_another_departments_client(people):
    theirs, also_theirs = ClientFactory.create_batch(2, owner=people.other_sales)
    ContractFactory(client=theirs, number="HT-THEIRS")

    result = run(
        people,
        {
            "客户": [client_record(people, theirs.credit_code)],
            "联系人": [{"统一社会信用代码": also_theirs.credit_code, "姓名": "王五"}],
            "应收款": [receivable_record("HT-THEIRS")],
        },
        user=people.supervisor,
    )

    assert where(result) == {
        ("客户", 2, "统一社会信用代码"),
        ("联系人", 2, "统一社会信用代码"),
        ("应收款", 2, "合同编号"),
    }
    theirs.refresh_from_db()
    assert theirs.owner == people.other_sales


# --------------------------------------------------------------------------- views


def upload(data: bytes, name: str) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def test_the_import_page_shows_the_form(people, login):
    response = login(people.supervisor).get(reverse("clients:import"))

    assert response.status_code == 200
    assert response.templates[0].name == "clients/import.html"
    assert reverse("clients:import_template").encode() in response.content


def test_a_good_upload_imports_and_redirects_with_the_counts(people, login):
    client = login(people.supervisor)

    response = client.post(reverse("clients:import"), {"file": upload(make_xlsx(good_book(people)), "b.xlsx")})

    assert response.status_code == 302
    assert response.url == reverse("clients:list")
    assert Client.objects.count() == 2
    messages = [str(m) for m in response.wsgi_request._messages]
    assert len(messages) == 1 and "2" in messages[0]


def test_an_upload_with_errors_shows_every_error_and_imports_nothing(people, login):
    sheets = good_book(people)
    sheets["合同"][0]["合同金额"] = -5
    sheets["应收款"][0]["到期日"] = "明天"

    response = login(people.supervisor).post(reverse("clients:import"), {"file": upload(make_xlsx(sheets), "b.xlsx")})

    assert response.status_code == 200
    errors = response.context["result"].errors
    assert {(e.sheet, e.row, e.column) for e in errors} == {("合同", 2, "合同金额"), ("应收款", 2, "到期日")}
    content = response.content.decode()
    assert 'id="import-errors"' in content
    assert content.count("<tr>") >= 3
    assert Client.objects.count() == 0


def test_a_malformed_upload_is_a_message_not_a_server_error(people, login):
    response = login(people.supervisor).post(reverse("clients:import"), {"file": upload(os.urandom(4096), "b.xlsx")})

    assert response.status_code == 200
    assert len(response.context["result"].errors) == 1
    assert 'id="import-errors"' in response.content.decode()


def test_an_oversized_upload_is_refused_before_reading(people, login, settings):
    settings.IMPORT_MAX_BYTES = 100

    response = login(people.supervisor).post(
        reverse("clients:import"), {"file": upload(make_xlsx(good_book(people)), "b.xlsx")}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert Client.objects.count() == 0


def test_a_check_only_upload_shows_the_counts_and_writes_nothing(people, login):
    response = login(people.supervisor).post(
        reverse("clients:import"), {"file": upload(make_xlsx(good_book(people)), "b.xlsx"), "dry_run": "on"}
    )

    assert response.status_code == 200
    assert response.context["result"].created == 10
    assert 'id="import-counts"' in response.content.decode()
    assert Client.objects.count() == 0


def test_the_template_is_a_workbook_that_imports_cleanly(people, login):
    client = login(people.supervisor)

    response = client.get(reverse("clients:import_template"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["客户", "联系人", "合同", "应收款", "商机"]
    assert all(sheet.max_row >= 2 and sheet["A2"].value for sheet in workbook.worksheets)

    response = client.post(reverse("clients:import"), {"file": upload(response.content, "template.xlsx")})

    assert response.status_code == 302
    assert (Client.objects.count(), Contact.objects.count(), Contract.objects.count()) == (1, 1, 1)
    assert (Receivable.objects.count(), Opportunity.objects.count()) == (1, 1)
    assert Client.objects.get().owner.department == people.east


# --------------------------------------------------------------------------- the command


def test_the_command_imports_a_file(people, tmp_path):
    path = tmp_path / "book.xlsx"
    path.write_bytes(make_xlsx(good_book(people)))
    out = io.StringIO()

    call_command("import_book", str(path), stdout=out)

    assert Client.objects.count() == 2
    assert "2" in out.getvalue()


def test_the_command_prints_every_error_and_fails(people, tmp_path):
    sheets = good_book(people)
    sheets["合同"][0]["合同金额"] = -5
    sheets["商机"][0]["阶段"] = "??"
    path = tmp_path / "book.xlsx"
    path.write_bytes(make_xlsx(sheets))
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_book", str(path), stderr=err)

    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("合同") and "合同金额" in lines[0]
    assert lines[1].startswith("商机") and "阶段" in lines[1]
    assert Client.objects.count() == 0


def test_the_command_dry_run_writes_nothing(people, tmp_path):
    path = tmp_path / "book.xlsx"
    path.write_bytes(make_xlsx(good_book(people)))

    call_command("import_book", str(path), "--dry-run", stdout=io.StringIO())

    assert Client.objects.count() == 0


def test_the_command_applies_the_users_limits(people, tmp_path):
    path = tmp_path / "book.xlsx"
    path.write_bytes(make_xlsx({"客户": [client_record(people, 负责人工号=people.other_sales.employee_no)]}))

    with pytest.raises(CommandError):
        call_command("import_book", str(path), "--user", "supervisor", stderr=io.StringIO())
    with pytest.raises(CommandError):
        call_command("import_book", str(path), "--user", "departing", stderr=io.StringIO())
    with pytest.raises(CommandError):
        call_command("import_book", str(path), "--user", "nobody", stderr=io.StringIO())
    with pytest.raises(CommandError):
        call_command("import_book", str(tmp_path / "missing.xlsx"))
    assert Client.objects.count() == 0

    call_command("import_book", str(path), "--user", "other_supervisor", stdout=io.StringIO())
    assert Client.objects.count() == 1
