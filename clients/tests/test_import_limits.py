"""The limits on what an import upload may be: its type, how far it unpacks, how many rows and columns.

The crafted files are small uploads that used to keep a worker busy for a minute or more. The
tests assert what was read (nothing, or no more rows than the limit allows), never wall time.
(The size of the upload in bytes is covered in test_import.py.)
"""

import io
import re
import zipfile

import pytest
from django.urls import reverse
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from clients.importer import client_book_import, reading
from clients.models import Client
from clients.tests.factories import make_credit_code
from clients.tests.test_import import client_record, db_counts, good_book, make_csv, make_xlsx, upload

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET_PART = "xl/worksheets/sheet1.xml"
HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>客户名称</t></is></c></row>'


def sheet_xml(rows: str, *, dimension: str = "A1:N3", prolog: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{MAIN}">'
        f'<dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>'
    )


def crafted_xlsx(sheet: str | bytes, *, parts: dict[str, str] | None = None) -> bytes:
    """A one-sheet workbook (sheet 客户) whose sheet XML is written by hand, plus any extra parts."""
    source = zipfile.ZipFile(io.BytesIO(make_xlsx({"客户": [{"客户名称": "x"}]})))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            archive.writestr(name, sheet if name == SHEET_PART else source.read(name))
        for name, text in (parts or {}).items():
            archive.writestr(name, text)
    return buffer.getvalue()


def with_shared_strings(data: bytes, table: str) -> bytes:
    """The workbook with a shared-string table, wired in as Excel does."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            content = source.read(name)
            if name == "[Content_Types].xml":
                content = content.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                    b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            elif name == "xl/_rels/workbook.xml.rels":
                content = content.replace(
                    b"</Relationships>",
                    b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                    b'sharedStrings" Target="sharedStrings.xml" Id="rId99"/></Relationships>',
                )
            archive.writestr(name, content)
        archive.writestr("xl/sharedStrings.xml", table)
    return buffer.getvalue()


def as_excel_saves_it(data: bytes) -> bytes:
    """The workbook with every text cell moved into a shared-string table, as Excel saves a workbook."""
    strings: list[str] = []

    def shared(match: re.Match) -> str:
        strings.append(match.group(2))
        return f'<c r="{match.group(1)}" t="s"><v>{len(strings) - 1}</v></c>'

    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            content = source.read(name)
            if name.startswith("xl/worksheets/"):
                inline = r'<c r="([A-Z]+[0-9]+)" t="inlineStr"><is><t(?: [^>]*)?>(.*?)</t></is></c>'
                content = re.sub(inline, shared, content.decode()).encode()
            archive.writestr(name, content)
    table = f'<sst xmlns="{MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">'
    table += "".join(f"<si><t>{text}</t></si>" for text in strings) + "</sst>"
    return with_shared_strings(buffer.getvalue(), table)


@pytest.fixture
def not_parsed(monkeypatch):
    """Fails the test if openpyxl opens the workbook at all (the importer would report its error
    as a broken file, so it is also checked after the test)."""
    opened = []

    def must_not_parse(*args, **kwargs):
        opened.append(args)
        raise AssertionError("openpyxl parsed a workbook that should have been refused before")

    monkeypatch.setattr(reading.openpyxl, "load_workbook", must_not_parse)
    yield
    assert not opened, "openpyxl parsed a workbook that should have been refused before"


@pytest.fixture
def rows_read(monkeypatch) -> list[int]:
    """The width of every row openpyxl hands the importer, in order."""
    widths: list[int] = []
    read = ReadOnlyWorksheet._cells_by_row

    def counting(self, *args, **kwargs):
        for row in read(self, *args, **kwargs):
            widths.append(len(row))
            yield row

    monkeypatch.setattr(ReadOnlyWorksheet, "_cells_by_row", counting)
    return widths


@pytest.fixture
def records_read(monkeypatch) -> list[int]:
    """The width of every record the csv module hands the importer, in order."""
    widths: list[int] = []
    reader = reading.csv.reader

    def counting(*args, **kwargs):
        for record in reader(*args, **kwargs):
            widths.append(len(record))
            yield record

    monkeypatch.setattr(reading.csv, "reader", counting)
    return widths


def the_one_error(result) -> str:
    assert len(result.errors) == 1, result.errors
    assert db_counts() == (0, 0, 0, 0, 0, 0)
    return result.errors[0].message


def import_xlsx(people, data: bytes):
    return client_book_import(data=data, filename="book.xlsx", user=people.manager)


# --------------------------------------------------------------------------- the file as a whole


@pytest.mark.parametrize("name", ["book.exe", "book.html", "book.xls", "book.xlsx.php", "book"])
def test_the_page_refuses_a_file_that_is_not_xlsx_or_csv(people, login, name):
    response = login(people.supervisor).post(
        reverse("clients:import"), {"file": upload(make_xlsx(good_book(people)), name)}
    )

    assert response.status_code == 200
    assert [e.code for e in response.context["form"].errors.as_data()["file"]] == ["extension"]
    assert Client.objects.count() == 0


def test_a_workbook_that_unpacks_too_far_is_refused_before_parsing(people, monkeypatch, not_parsed):
    # An .xlsx is a zip: a small upload can unpack to gigabytes of XML (a "zip bomb").
    data = make_xlsx(good_book(people))
    monkeypatch.setattr(reading, "MAX_UNPACKED_BYTES", len(data))

    result = import_xlsx(people, data)

    assert "解压后的数据量超出限制" in the_one_error(result) and result.errors[0].row is None


def test_the_default_limit_on_unpacking_is_50_mib():
    assert reading.MAX_UNPACKED_BYTES == 50 * 1024 * 1024


def test_a_workbook_of_thousands_of_parts_is_refused_before_parsing(people, not_parsed):
    data = crafted_xlsx(sheet_xml(HEADER), parts={f"xl/media/pad{i}.xml": "" for i in range(reading.MAX_PARTS)})

    assert "解压后的数据量超出限制" in the_one_error(import_xlsx(people, data))


# --------------------------------------------------------------------------- work hidden in few bytes


def test_3_7_million_blank_rows_are_refused_before_parsing(people, not_parsed):
    # The attack: 3.7 million empty <row> elements under a dimension that admits them, a small upload.
    data = crafted_xlsx(sheet_xml(HEADER + "<row/>" * 3_700_000, dimension="A1:A3700000"))
    assert len(data) < 100_000

    message = the_one_error(import_xlsx(people, data))

    assert "单元格过多" in message and "10000" in message


def test_two_million_empty_cells_in_one_row_are_refused_before_parsing(people, not_parsed):
    # An empty <c/> costs openpyxl as much as a filled cell: this 12 KB file took 20 s to read.
    data = crafted_xlsx(sheet_xml(HEADER + '<row r="2">' + "<c/>" * 2_000_000 + "</row>"))

    assert "单元格过多" in the_one_error(import_xlsx(people, data))


def test_a_string_table_of_400_000_strings_is_refused_before_parsing(people, not_parsed):
    # openpyxl reads the whole shared-string table when it opens the workbook: a minute for 3 million.
    n = 400_000
    table = f'<sst xmlns="{MAIN}" count="{n}" uniqueCount="{n}">' + "<si><t>a</t></si>" * n + "</sst>"
    data = with_shared_strings(crafted_xlsx(sheet_xml(HEADER)), table)

    assert "单元格过多" in the_one_error(import_xlsx(people, data))


def test_the_cell_budget_grows_with_the_row_limit(people, settings, not_parsed):
    data = crafted_xlsx(sheet_xml(HEADER + "<row/>" * 150_000))
    settings.IMPORT_MAX_ROWS = 100  # 112,000 tags: 100 rows of 120 and the base

    message = the_one_error(import_xlsx(people, data))

    assert "单元格过多" in message and "100行" in message


@pytest.mark.parametrize("saved_by", ["openpyxl", "excel"])
def test_a_book_at_the_row_limit_fits_the_cell_budget(people, settings, monkeypatch, saved_by):
    # Every column of the client sheet filled with text, each text different; the base allowance
    # cut to little more than the styles and the theme, so the rows must fit their own allowance.
    settings.IMPORT_MAX_ROWS = 300
    monkeypatch.setattr(reading, "XML_TAGS_BASE", 1_000)
    records = [
        {key: f"{value}{i}" for key, value in client_record(people, make_credit_code(5000 + i)).items()}
        | {"统一社会信用代码": make_credit_code(5000 + i), "负责人工号": people.departing.employee_no, "等级": "A"}
        | {"状态": "合作中"}
        for i in range(300)
    ]
    data = make_xlsx({"客户": records})
    if saved_by == "excel":
        data = as_excel_saves_it(data)

    result = import_xlsx(people, data)

    assert result.ok, result.errors[:3]
    assert Client.objects.count() == 300


def replaced(data: bytes, name: str, old: str, new: str) -> bytes:
    """The workbook with one part's text edited."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.namelist():
            content = source.read(member)
            if member == name:
                assert old.encode() in content
                content = content.replace(old.encode(), new.encode(), 1)
            archive.writestr(member, content)
    return buffer.getvalue()


R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
# Parts openpyxl parses whole while opening the workbook, at up to 0.4 ms an element: 150,000
# elements in any of them (the cells' allowance would admit 1.3 million) used to take a minute.
METADATA_FLOODS = {
    "styles": ("xl/styles.xml", '<cellXfs count="1">', '<cellXfs count="1">' + "<xf/>" * 150_000),
    "defined names": (
        "xl/workbook.xml",
        "</workbook>",
        "<definedNames>" + '<definedName name="n">A</definedName>' * 75_000 + "</definedNames></workbook>",
    ),
    "package index": (
        "[Content_Types].xml",
        "</Types>",
        '<Override PartName="/x.xml" ContentType="application/xml"/>' * 150_000 + "</Types>",
    ),
    "relationships": (
        "xl/_rels/workbook.xml.rels",
        "</Relationships>",
        '<Relationship Type="x" Target="x" Id="x"/>' * 150_000 + "</Relationships>",
    ),
    # The workbook part listed as a sheet too does not get the sheets' allowance.
    "workbook posing as a sheet": (
        "xl/_rels/workbook.xml.rels",
        "</Relationships>",
        f'<Relationship Type="{R}/worksheet" Target="/xl/workbook.xml" Id="rId9"/></Relationships>',
    ),
}


@pytest.mark.parametrize("flood", METADATA_FLOODS)
def test_a_workbook_whose_other_parts_are_flooded_is_refused_before_parsing(people, not_parsed, flood):
    data = crafted_xlsx(sheet_xml(HEADER))
    if flood == "workbook posing as a sheet":
        data = replaced(data, *METADATA_FLOODS["defined names"])

    result = import_xlsx(people, replaced(data, *METADATA_FLOODS[flood]))

    assert "单元格过多" in the_one_error(result)


def test_a_workbook_listing_one_sheet_twice_is_refused_before_parsing(people, not_parsed):
    # openpyxl reads the start of a sheet once for every entry of the list: 2,500 elements
    # before the data, listed 50 times, would be read as 125,000.
    head = "<cols>" + "<col/>" * 2_500 + "</cols><sheetData>"
    data = crafted_xlsx(sheet_xml(HEADER).replace("<sheetData>", head))
    entries = "".join(f'<sheet name="s{i}" sheetId="{i + 9}" r:id="rId1" xmlns:r="{R}"/>' for i in range(49))
    data = replaced(data, "xl/workbook.xml", "</sheets>", entries + "</sheets>")

    assert "不是有效的 .xlsx 工作簿" in the_one_error(import_xlsx(people, data))


def test_a_workbook_listing_more_than_50_sheets_is_refused_before_parsing(people, not_parsed):
    entries = "".join(f'<sheet name="s{i}" sheetId="{i + 9}" r:id="rId1" xmlns:r="{R}"/>' for i in range(50))
    data = replaced(crafted_xlsx(sheet_xml(HEADER)), "xl/workbook.xml", "</sheets>", entries + "</sheets>")

    assert "超过50个工作表" in the_one_error(import_xlsx(people, data))


@pytest.mark.parametrize(
    ("prolog", "cell"),
    [
        # Internal entities expand into elements the count never saw: here 4 KB became 10,000 cells.
        pytest.param('<!DOCTYPE worksheet [<!ENTITY e "' + "<c/>" * 10 + '">]>', "&e;" * 1000, id="expanding"),
        pytest.param(
            '<!DOCTYPE worksheet [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
            "<c><is><t>&e;</t></is></c>",
            id="external",
        ),
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_workbook_with_a_dtd_is_refused_before_parsing(people, not_parsed, prolog, cell, encoding):
    xml = sheet_xml(HEADER + f'<row r="2">{cell}</row>', prolog=prolog)
    data = crafted_xlsx(xml.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"').encode(encoding))

    assert "文档类型声明（DTD）" in the_one_error(import_xlsx(people, data))


# --------------------------------------------------------------------------- rows and columns, counted while reading


def test_a_million_empty_rows_from_a_few_bytes_stop_at_the_limit(people, rows_read):
    # Two rows in the file, 3.7 million apart: openpyxl yields every empty row in between.
    rows = HEADER + '<row r="3700000"><c r="A3700000" t="inlineStr"><is><t>某公司</t></is></c></row>'
    data = crafted_xlsx(sheet_xml(rows, dimension="A1:A3700000"))

    message = the_one_error(import_xlsx(people, data))

    assert "空行超过50000行" in message
    assert len(rows_read) == 1 + 50_000 + 1  # the header, the empty rows allowed, the one past them


def test_empty_rows_count_across_the_sheets(people, monkeypatch, rows_read):
    monkeypatch.setattr(reading, "MAX_EMPTY_ROWS", 2)
    book = {title: [{"x": "y"}, {"x": None}, {"x": None}] for title in ("客户", "联系人")}

    message = the_one_error(import_xlsx(people, make_xlsx(book)))

    assert "空行超过2行" in message
    # Header, data, two empty rows; header, data and the third empty row, one more than allowed.
    assert len(rows_read) == 4 + 3


def test_a_header_of_16383_columns_is_refused_after_one_row(people, rows_read):
    header = "".join(f'<c t="inlineStr"><is><t>列{i}</t></is></c>' for i in range(16_383))
    data_rows = "".join("<row>" + "<c><v>1</v></c>" * 16_383 + "</row>" for _ in range(3))
    data = crafted_xlsx(sheet_xml(f"<row>{header}</row>{data_rows}", dimension="A1:XFC4"))

    message = the_one_error(import_xlsx(people, data))

    assert "表头超过50列" in message
    assert rows_read == [reading.MAX_COLUMNS + 1]


def test_cells_far_right_of_the_header_are_not_read(people, rows_read):
    # A stray cell in the last column of every row: each row is still read only so wide.
    record = client_record(people, make_credit_code(7001))
    values = "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in record.values())
    headers = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in record)
    stray = '<c r="XFC{n}"><v>1</v></c>'
    rows = f"<row r='1'>{headers}{stray.format(n=1)}</row><row r='2'>{values}{stray.format(n=2)}</row>"

    result = import_xlsx(people, crafted_xlsx(sheet_xml(rows, dimension="A1:XFC2")))

    assert result.ok and Client.objects.count() == 1
    assert rows_read == [reading.MAX_COLUMNS + 1] * 2


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_file_with_too_many_rows_is_refused(people, settings, kind):
    settings.IMPORT_MAX_ROWS = 3
    records = [client_record(people, make_credit_code(200 + i)) for i in range(4)]
    data = make_xlsx({"客户": records}) if kind == "xlsx" else make_csv(records, "utf-8-sig")

    result = client_book_import(data=data, filename=f"book.{kind}", user=people.manager)

    assert "文件超过3行" in the_one_error(result)


def test_the_row_limit_counts_all_sheets_together(people, settings, rows_read):
    settings.IMPORT_MAX_ROWS = 3
    book = good_book(people)  # 2 clients, then 2 contacts

    assert "文件超过3行" in the_one_error(import_xlsx(people, make_xlsx(book)))
    assert len(rows_read) == 3 + 3  # stops at the second contact


def test_as_many_rows_as_allowed_are_imported(people, settings):
    settings.IMPORT_MAX_ROWS = 3
    records = [client_record(people, make_credit_code(200 + i)) for i in range(3)]

    result = import_xlsx(people, make_xlsx({"客户": records}))

    assert result.ok and Client.objects.count() == 3


def test_the_template_imports_under_a_small_row_limit(people, login, settings):
    # Its formatted rows (about 5,000, empty) are not data rows, and not too many empty ones.
    settings.IMPORT_MAX_ROWS = 5
    template = login(people.supervisor).get(reverse("clients:import_template")).content

    result = import_xlsx(people, template)

    assert result.ok and result.created == 5


def test_the_default_row_limit_is_10000(settings):
    assert settings.IMPORT_MAX_ROWS == 10_000


# --------------------------------------------------------------------------- csv


def test_a_csv_of_empty_lines_stops_at_the_limit(people, monkeypatch, records_read):
    monkeypatch.setattr(reading, "MAX_EMPTY_ROWS", 100)
    data = ("客户名称\r\n" + "\r\n" * 1_000_000).encode("utf-8")

    result = client_book_import(data=data, filename="book.csv", user=people.manager)

    assert "空行超过100行" in the_one_error(result)
    assert len(records_read) == 1 + 100 + 1


def test_a_csv_header_of_16383_columns_is_refused_after_one_line(people, records_read):
    data = (",".join(f"列{i}" for i in range(16_383)) + "\r\n" + ",".join("1" * 16_383) + "\r\n").encode()

    result = client_book_import(data=data, filename="book.csv", user=people.manager)

    assert "表头超过50列" in the_one_error(result)
    assert records_read == [16_383]


def test_a_csv_field_longer_than_the_csv_module_reads_is_refused(people):
    data = ("客户名称\r\n" + "x" * 200_000 + "\r\n").encode()

    result = client_book_import(data=data, filename="book.csv", user=people.manager)

    assert "CSV" in the_one_error(result)


# --------------------------------------------------------------------------- the page


def test_the_page_shows_why_a_crafted_workbook_was_refused(people, login):
    rows = HEADER + '<row r="3700000"><c r="A3700000" t="inlineStr"><is><t>某公司</t></is></c></row>'
    data = crafted_xlsx(sheet_xml(rows, dimension="A1:A3700000"))

    response = login(people.supervisor).post(reverse("clients:import"), {"file": upload(data, "book.xlsx")})

    assert response.status_code == 200
    assert "空行超过50000行" in response.content.decode()
    assert Client.objects.count() == 0
