"""The plan's Excel round trip: download, fill in offline, upload; all or nothing, errors by row and column."""

import datetime
import io

import openpyxl
import pytest

from handover import services
from handover.models import Event, HandoverClient
from handover.services import NotAllowed, SheetErrors, WrongState
from handover.services.plan_sheet import PLAN_SHEET
from tests.walk import advance_to

HEADERS = [c.header for c in PLAN_SHEET.columns]


def _download(h) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(services.plan_workbook(h)))


def _bytes(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _col(header: str) -> int:
    return HEADERS.index(header) + 1


def _row_of(sheet, hc) -> int:
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row=row, column=_col("行编号")).value == hc.pk:
            return row
    raise AssertionError(hc)


def _upload(h, user, workbook, filename="plan.xlsx"):
    return services.plan_sheet_upload(handover=h, user=user, data=_bytes(workbook), filename=filename)


def _rows(h):
    return list(HandoverClient.objects.filter(handover=h).select_related("client", "receiver").order_by("pk"))


def _state(h):
    return [
        (hc.current_status, hc.risks, hc.next_steps, hc.planned_visit_on, hc.receiver_id, hc.row_version)
        for hc in _rows(h)
    ]


@pytest.mark.django_db
def test_the_download_holds_every_client_with_hidden_id_and_version(handover):
    workbook = _download(handover)
    sheet = workbook[PLAN_SHEET.title]
    assert [c.value for c in sheet[1]] == [*HEADERS, "关系风险"]  # the last one read only
    assert sheet.max_row == 1 + handover.clients.count()
    hc = _rows(handover)[0]
    row = _row_of(sheet, hc)
    assert sheet.cell(row=row, column=_col("客户名称")).value == hc.client.name
    assert sheet.cell(row=row, column=_col("当前状况")).value == hc.current_status
    assert sheet.cell(row=row, column=_col("计划拜访日期")).value.date() == hc.planned_visit_on
    assert sheet.cell(row=row, column=_col("行版本")).value == hc.row_version
    assert "张接收" in sheet.cell(row=row, column=_col("接收人")).value
    assert sheet.column_dimensions["H"].hidden and sheet.column_dimensions["I"].hidden
    # A-grade clients first, as in the page.
    grades = [sheet.cell(row=r, column=_col("等级")).value for r in range(2, sheet.max_row + 1)]
    assert grades == sorted(grades)


@pytest.mark.django_db
def test_round_trip_saves_the_edited_cells_and_confirms_the_rows(handover, people, receiver2):
    a, b = _rows(handover)[:2]
    workbook = _download(handover)
    sheet = workbook.active
    ra, rb = _row_of(sheet, a), _row_of(sheet, b)
    sheet.cell(row=ra, column=_col("风险")).value = "回款逾期，需跟进。"
    sheet.cell(row=ra, column=_col("计划拜访日期")).value = handover.last_working_day.strftime("%Y/%m/%d")
    sheet.cell(row=rb, column=_col("接收人")).value = receiver2.employee_no or receiver2.full_name
    sheet.cell(row=rb, column=_col("下一步")).value = "与陈接收共同拜访。"

    saved = _upload(handover, people.departing, workbook)

    assert {hc.pk for hc in saved} >= {a.pk, b.pk}
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.risks == "回款逾期，需跟进。"
    assert a.planned_visit_on == handover.last_working_day
    assert b.receiver_id == receiver2.pk
    assert b.next_steps == "与陈接收共同拜访。"
    assert a.prefilled == [] and b.prefilled == []
    assert a.row_version == 2
    assert Event.objects.filter(handover=handover, kind="receiver_changed").count() == 1


@pytest.mark.django_db
def test_receiver_by_name_or_by_name_and_number(handover, people, receiver2):
    a, b = _rows(handover)[:2]
    receiver2.employee_no = "E7788"
    receiver2.save()
    workbook = _download(handover)
    sheet = workbook.active
    sheet.cell(row=_row_of(sheet, a), column=_col("接收人")).value = "陈接收"
    sheet.cell(row=_row_of(sheet, b), column=_col("接收人")).value = "E7788"
    _upload(handover, people.departing, workbook)
    assert {hc.receiver_id for hc in _rows(handover)[:2]} == {receiver2.pk}
    # And what the download writes ("name（number）") reads back as the same person.
    sheet = _download(handover).active
    assert sheet.cell(row=_row_of(sheet, a), column=_col("接收人")).value == "陈接收（E7788）"


@pytest.mark.django_db
def test_every_error_by_row_and_column_and_nothing_written(handover, people):
    a, b, c = _rows(handover)[:3]
    before = _state(handover)
    workbook = _download(handover)
    sheet = workbook.active
    ra, rb, rc = _row_of(sheet, a), _row_of(sheet, b), _row_of(sheet, c)
    sheet.cell(row=ra, column=_col("当前状况")).value = "这一行本身没有问题。"
    sheet.cell(row=rb, column=_col("计划拜访日期")).value = "明天"
    sheet.cell(row=rc, column=_col("计划拜访日期")).value = handover.last_working_day + datetime.timedelta(days=3)
    sheet.cell(row=rc, column=_col("风险")).value = "长" * 4001
    sheet.cell(row=ra, column=_col("接收人")).value = "查无此人"

    with pytest.raises(SheetErrors) as caught:
        _upload(handover, people.departing, workbook)

    where = {(e.row, e.column) for e in caught.value.errors}
    assert (rb, "计划拜访日期") in where  # not a date
    assert (rc, "计划拜访日期") in where  # outside the window (the grid's rule)
    assert (rc, "风险") in where  # too long (the model's rule)
    assert (ra, "接收人") in where
    assert all(e.sheet == PLAN_SHEET.title for e in caught.value.errors)
    assert "第" in str(caught.value.errors[0]) or "row" in str(caught.value.errors[0])
    assert _state(handover) == before
    assert not Event.objects.filter(handover=handover, kind="plan_updated").exists()


@pytest.mark.django_db
def test_a_stale_row_is_a_conflict_of_that_row(handover, people):
    a, b = _rows(handover)[:2]
    workbook = _download(handover)
    # Someone saves b after the download.
    services.handover_client_update_plan(
        handover_client=b,
        user=people.departing,
        current_status="别人刚改的",
        risks="无",
        next_steps="无",
        planned_visit_on=None,
    )
    before = _state(handover)
    sheet = workbook.active
    sheet.cell(row=_row_of(sheet, a), column=_col("风险")).value = "我的修改"
    sheet.cell(row=_row_of(sheet, b), column=_col("风险")).value = "我也改了"
    with pytest.raises(SheetErrors) as caught:
        _upload(handover, people.departing, workbook)
    assert [(e.row, e.column) for e in caught.value.errors] == [(_row_of(sheet, b), "行版本")]
    assert caught.value.conflicts == 1
    assert _state(handover) == before  # a, which was fine, was not written either


@pytest.mark.django_db
def test_a_row_of_another_handover_or_twice_is_refused(handover, people):
    a, b = _rows(handover)[:2]
    workbook = _download(handover)
    sheet = workbook.active
    ra, rb = _row_of(sheet, a), _row_of(sheet, b)
    sheet.append([sheet.cell(row=ra, column=i).value for i in range(1, len(HEADERS) + 1)])
    sheet.cell(row=rb, column=_col("行编号")).value = 999999
    with pytest.raises(SheetErrors) as caught:
        _upload(handover, people.departing, workbook)
    assert {(e.row, e.column) for e in caught.value.errors} == {(rb, "行编号"), (sheet.max_row, "行编号")}


@pytest.mark.django_db
def test_missing_required_column_and_not_xlsx(handover, people):
    workbook = _download(handover)
    workbook.active.delete_cols(_col("行版本"))
    with pytest.raises(SheetErrors) as caught:
        _upload(handover, people.departing, workbook)
    assert caught.value.errors[0].column == "行版本"
    with pytest.raises(SheetErrors) as caught:
        services.plan_sheet_upload(handover=handover, user=people.departing, data=b"a,b\n", filename="plan.csv")
    assert ".xlsx" in caught.value.errors[0].message


@pytest.mark.django_db
def test_the_row_limit_of_the_import_holds(handover, people, settings):
    settings.IMPORT_MAX_ROWS = 3
    with pytest.raises(SheetErrors) as caught:
        _upload(handover, people.departing, _download(handover))
    assert "3" in caught.value.errors[0].message


@pytest.mark.django_db
def test_the_supervisor_may_change_receivers_only(handover, people, receiver2):
    a, b = _rows(handover)[:2]
    workbook = _download(handover)
    sheet = workbook.active
    sheet.cell(row=_row_of(sheet, a), column=_col("接收人")).value = "陈接收"
    services.plan_sheet_upload(handover=handover, user=people.supervisor, data=_bytes(workbook), filename="p.xlsx")
    a.refresh_from_db()
    assert a.receiver_id == receiver2.pk
    assert a.prefilled, "the supervisor's upload confirms nothing of the departing person's plan"

    workbook = _download(handover)
    sheet = workbook.active
    sheet.cell(row=_row_of(sheet, b), column=_col("风险")).value = "主管改的"
    with pytest.raises(SheetErrors) as caught:
        services.plan_sheet_upload(handover=handover, user=people.supervisor, data=_bytes(workbook), filename="p.xlsx")
    assert [e.row for e in caught.value.errors] == [_row_of(sheet, b)]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["receiver", "witness", "manager", "hr"])
def test_others_may_not_upload(handover, people, role):
    before = _state(handover)
    with pytest.raises(NotAllowed):
        services.plan_sheet_upload(
            handover=handover, user=getattr(people, role), data=_bytes(_download(handover)), filename="p.xlsx"
        )
    assert _state(handover) == before


@pytest.mark.django_db
def test_upload_after_the_plan_stage_is_refused(handover, people):
    data = _bytes(_download(handover))
    h = advance_to(handover, "materials")
    with pytest.raises(WrongState):
        services.plan_sheet_upload(handover=h, user=people.departing, data=data, filename="p.xlsx")


@pytest.mark.django_db
def test_an_unchanged_sheet_changes_nothing_even_with_a_browsers_line_ends(handover, people):
    HandoverClient.objects.filter(handover=handover).update(prefilled=[])
    a = _rows(handover)[0]
    HandoverClient.objects.filter(pk=a.pk).update(current_status="第一行\r\n第二行 ")
    before = _state(handover)
    assert _upload(handover, people.departing, _download(handover)) == []
    assert _state(handover) == before
    assert not Event.objects.filter(handover=handover, kind="plan_updated").exists()


@pytest.mark.django_db
def test_an_unchanged_receiver_is_no_change_even_with_a_namesake(handover, people):
    from accounts.roles import Role
    from accounts.tests.factories import UserFactory

    UserFactory(username="namesake", full_name=people.receiver.full_name, roles=[Role.SALES])
    people.receiver.employee_no = None  # the sheet names the receiver by name alone
    people.receiver.save()
    HandoverClient.objects.filter(handover=handover).update(prefilled=[])
    workbook = _download(handover)
    assert workbook.active.cell(row=2, column=_col("接收人")).value == people.receiver.full_name
    assert _upload(handover, people.departing, workbook) == []
    # A new receiver typed by a name two people bear is ambiguous: the employee number is asked for.
    UserFactory(username="wang1", full_name="王五", roles=[Role.SALES])
    UserFactory(username="wang2", full_name="王五", roles=[Role.SALES])
    workbook.active.cell(row=2, column=_col("接收人")).value = "王五"
    with pytest.raises(SheetErrors) as caught:
        _upload(handover, people.departing, workbook)
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "接收人")]
    assert "工号" in caught.value.errors[0].message
