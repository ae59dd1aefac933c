"""The plan's Excel round trip through the page and the API: the link and the form, errors by row and
column on the page again, the refusals, and the schema."""

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from handover import services
from handover.models import HandoverClient, State
from handover.services.plan_sheet import PLAN_SHEET
from tests.walk import advance_to

HEADERS = [c.header for c in PLAN_SHEET.columns]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _edited(content: bytes, edit) -> bytes:
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    edit(workbook.active)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell(sheet, row: int, header: str):
    return sheet.cell(row=row, column=HEADERS.index(header) + 1)


def _file(data: bytes, name="plan.xlsx"):
    return SimpleUploadedFile(name, data, content_type=XLSX)


def _state(h):
    return list(
        HandoverClient.objects.filter(handover=h)
        .order_by("pk")
        .values_list("current_status", "risks", "next_steps", "planned_visit_on", "receiver_id", "row_version")
    )


def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
    return client


@pytest.mark.django_db
def test_the_departing_person_sees_the_link_and_the_form_explained(handover, people, login):
    html = login(people.departing).get(reverse("handover:detail", args=[handover.pk])).content.decode()
    assert reverse("handover:plan_download", args=[handover.pk]) in html
    assert reverse("handover:plan_upload", args=[handover.pk]) in html
    assert 'id="plan-file"' in html and 'aria-describedby="plan-file-help"' in html
    assert "下载交接计划（.xlsx）" in html and "请保留隐藏列" in html


@pytest.mark.django_db
def test_the_receiver_may_download_but_not_upload(handover, people, login):
    client = login(people.receiver)
    html = client.get(reverse("handover:detail", args=[handover.pk])).content.decode()
    assert reverse("handover:plan_download", args=[handover.pk]) in html
    assert reverse("handover:plan_upload", args=[handover.pk]) not in html
    before = _state(handover)
    content = client.get(reverse("handover:plan_download", args=[handover.pk])).content
    response = client.post(reverse("handover:plan_upload", args=[handover.pk]), {"file": _file(content)})
    assert response.status_code == 302
    assert _state(handover) == before


@pytest.mark.django_db
def test_the_download_is_an_xlsx_attachment(handover, people, login):
    response = login(people.departing).get(reverse("handover:plan_download", args=[handover.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert "attachment" in response["Content-Disposition"] and ".xlsx" in response["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[1]] == [*HEADERS, "关系风险"]  # the last one read only


@pytest.mark.django_db
def test_after_the_plan_the_departing_person_no_longer_downloads(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    client = login(people.departing)
    assert client.get(reverse("handover:plan_download", args=[h.pk])).status_code == 403
    html = client.get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert reverse("handover:plan_download", args=[h.pk]) not in html
    # The supervisor still may, as they may print the plan.
    assert login(people.supervisor).get(reverse("handover:plan_download", args=[h.pk])).status_code == 200


@pytest.mark.django_db
def test_upload_round_trip_through_the_page(handover, people, login):
    client = login(people.departing)
    content = client.get(reverse("handover:plan_download", args=[handover.pk])).content
    data = _edited(content, lambda s: setattr(_cell(s, 2, "风险"), "value", "客户付款周期变长。"))
    response = client.post(reverse("handover:plan_upload", args=[handover.pk]), {"file": _file(data)})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("handover:detail", args=[handover.pk]) + "?tab=plan")
    hc = HandoverClient.objects.get(pk=openpyxl.load_workbook(io.BytesIO(data)).active.cell(row=2, column=8).value)
    assert hc.risks == "客户付款周期变长。"
    assert hc.prefilled == []


@pytest.mark.django_db
def test_upload_errors_are_listed_by_row_and_column_on_the_page(handover, people, login):
    client = login(people.departing)
    content = client.get(reverse("handover:plan_download", args=[handover.pk])).content

    def edit(sheet):
        _cell(sheet, 3, "计划拜访日期").value = "下周"
        _cell(sheet, 4, "接收人").value = "查无此人"

    before = _state(handover)
    response = client.post(reverse("handover:plan_upload", args=[handover.pk]), {"file": _file(_edited(content, edit))})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="plan-upload-errors"' in html
    assert "<td>3</td><td>计划拜访日期</td>" in html
    assert "<td>4</td><td>接收人</td>" in html
    assert "没有姓名或工号为“查无此人”的人员" in html
    assert "未保存任何内容" in html
    assert _state(handover) == before


@pytest.mark.django_db
def test_upload_without_a_file_says_so_next_to_the_input(handover, people, login):
    response = login(people.departing).post(reverse("handover:plan_upload", args=[handover.pk]), {})
    assert response.status_code == 400
    assert "invalid-feedback" in response.content.decode()


@pytest.mark.django_db
def test_the_api_round_trip_and_its_errors_by_cell(handover, people):
    api = _api(people.departing)
    url = reverse("api:plan-sheet", args=[handover.pk])
    response = api.get(url)
    assert response.status_code == 200 and response["Content-Type"] == XLSX

    bad = _edited(response.content, lambda s: setattr(_cell(s, 2, "计划拜访日期"), "value", "不是日期"))
    before = _state(handover)
    refused = api.post(url, {"file": _file(bad)}, format="multipart")
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "invalid"
    assert [(c["row"], c["column"]) for c in body["cells"]] == [(2, "计划拜访日期")]
    assert _state(handover) == before

    good = _edited(response.content, lambda s: setattr(_cell(s, 2, "下一步"), "value", "月底前共同拜访。"))
    done = api.post(url, {"file": _file(good)}, format="multipart")
    assert done.status_code == 200
    assert done.json()["count"] == handover.clients.count()  # every row confirmed, one of them edited


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["receiver", "witness", "manager", "hr"])
def test_the_api_refuses_an_upload_by_anyone_else(handover, people, role):
    content = services.plan_workbook(handover)
    before = _state(handover)
    response = _api(getattr(people, role)).post(
        reverse("api:plan-sheet", args=[handover.pk]), {"file": _file(content)}, format="multipart"
    )
    assert response.status_code == 403
    assert _state(handover) == before


@pytest.mark.django_db
def test_the_schema_has_the_sheet_endpoints(people):
    client = APIClient()
    client.force_login(people.departing)
    paths = client.get("/api/schema/").json()["paths"]
    sheet = paths["/api/handovers/{id}/plan/sheet/"]
    assert XLSX in sheet["get"]["responses"]["200"]["content"]
    assert "multipart/form-data" in sheet["post"]["requestBody"]["content"]
    assert {"200", "400", "403", "404", "409"} <= set(sheet["post"]["responses"])


@pytest.mark.django_db
def test_the_api_upload_without_a_file_names_the_field(handover, people):
    response = _api(people.departing).post(reverse("api:plan-sheet", args=[handover.pk]), {}, format="multipart")
    assert response.status_code == 400
    assert response.json()["field"] == "file"
