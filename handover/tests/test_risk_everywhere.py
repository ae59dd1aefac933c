"""The relationship risk where the plan shows too: the plan grid of "my to-dos", the plan's Excel
sheet, and the report's figures and the confirmation PDF (issue 15, item 2)."""

import io
import re

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.models import FollowUp
from handover import services
from handover.models import HandoverClient, Report, State
from handover.pdf import CONFIRMATION, RestrictedFetcher, confirmation_context, render_html
from handover.selectors.report import figure_rows, report_figures
from handover.selectors.risk import client_risks
from handover.services.plan_sheet import PLAN_SHEET, risk_text
from handover.tests.risk_helpers import calm
from handover.tests.test_risk import _quiet
from handover.tests.test_views_detail import _handover_with
from tests.walk import advance_to


def _tab(client, h, tab: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"tab": tab, **params}.items())
    response = client.get(reverse("handover:detail", args=[h.pk]) + "?" + query)
    assert response.status_code == 200
    return response.content.decode()


def _levels(content: str) -> list[str]:
    return re.findall(r'<td class="risk" data-risk="(\w+)">', content)


@pytest.fixture
def mixed(handover):
    """Two A clients at high risk, the B and C clients at medium risk, one B client at low risk."""
    calm(handover)
    low = handover.clients.filter(grade="B").select_related("client").last()
    FollowUp.objects.filter(client=low.client).delete()
    _quiet(low, handover)
    return handover, low


# ---------------------------------------------------------------------------------------
# "My to-dos": the departing person's plan grid has the plan tab's risk column


def test_my_to_dos_plan_grid_shows_the_risk_column_as_the_plan_tab_does(mixed, people, client):
    h, _low = mixed
    client.force_login(people.departing)
    mine, plan = _tab(client, h, "mine"), _tab(client, h, "plan")
    assert 'id="plan-grid"' in mine  # the departing person fills the plan in from "my to-dos"
    assert mine.count('class="risk-col"') == 1 and "关系风险" in mine
    # The rows waiting for the plan (every one here) with the same cells as on the plan tab.
    assert sorted(_levels(mine)) == sorted(_levels(plan)) == sorted(["high"] * 2 + ["medium"] * 7 + ["low"])
    assert "逾期应收" in mine  # the reasons too
    # Each row has as many cells as the head has columns.
    head = mine[mine.index("<thead") : mine.index("</thead>")]
    row = re.search(r'<tr id="client-\d+" class="plan-row.*?</tr>', mine, re.S).group(0)
    assert head.count("<th ") == row.count("<td") + row.count("<th ")


def test_my_to_dos_sorts_by_risk_like_the_plan(mixed, people, client):
    h, low = mixed
    client.force_login(people.departing)
    mine = _tab(client, h, "mine", sort="risk")
    assert _levels(mine) == ["high"] * 2 + ["medium"] * 7 + ["low"]
    assert re.findall(r'<tr id="client-(\d+)" class="plan-row', mine)[-1] == str(low.pk)
    # The column's link sorts this view, and turns the sort off again.
    assert f'href="{reverse("handover:detail", args=[h.pk])}?tab=mine" id="plan-sort-risk"' in mine
    assert "?tab=mine&amp;sort=risk" in _tab(client, h, "mine")


def test_my_to_dos_without_the_plan_grid_do_not_compute_the_risk(mixed, people, client):
    # The supervisor reviews the plan; their to-dos have no plan grid, so no risk is computed.
    h, _low = mixed
    client.force_login(people.supervisor)
    mine = _tab(client, h, "mine")
    assert 'id="plan-grid"' not in mine and 'data-risk="' not in mine


def test_a_row_reloaded_in_my_to_dos_has_the_risk_cell_of_the_grid(mixed, people, client):
    # The reload after a conflict returns the plan tab's row: the to-dos' grid has its column now.
    h, low = mixed
    client.force_login(people.departing)
    row = client.get(reverse("handover:plan_row", args=[h.pk, low.pk])).content.decode()
    assert '<td class="risk" data-risk="low">' in row


def test_my_to_dos_take_the_same_queries_whatever_the_size(people, client):
    counts = []
    for n in (5, 25):
        h = _handover_with(people, n)
        client.force_login(h.departing)
        _tab(client, h, "mine")  # warm up
        with CaptureQueriesContext(connection) as queries:
            content = _tab(client, h, "mine")
        assert len(_levels(content)) == HandoverClient.objects.filter(handover=h).count() == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


# ---------------------------------------------------------------------------------------
# The plan's Excel sheet: a read-only 关系风险 column the upload ignores


def _sheet(h):
    return openpyxl.load_workbook(io.BytesIO(services.plan_workbook(h))).active


def _headers(sheet) -> list[str]:
    return [c.value for c in sheet[1]]


def _risk_cells(sheet) -> dict[int, str]:
    """The 关系风险 cell of each row, by handover-client id."""
    headers = _headers(sheet)
    risk, row_id = headers.index("关系风险") + 1, headers.index("行编号") + 1
    return {
        sheet.cell(row=r, column=row_id).value: sheet.cell(row=r, column=risk).value
        for r in range(2, sheet.max_row + 1)
    }


def _bytes(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _stored(h):
    return list(
        HandoverClient.objects.filter(handover=h)
        .order_by("pk")
        .values_list("current_status", "risks", "next_steps", "planned_visit_on", "receiver_id", "row_version")
    )


def test_the_downloaded_plan_has_each_clients_risk_read_only(mixed, people, client):
    h, low = mixed
    client.force_login(people.departing)
    response = client.get(reverse("handover:plan_download", args=[h.pk]))
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    headers = _headers(sheet)
    assert headers == [*(c.header for c in PLAN_SHEET.columns), "关系风险"]
    cell = sheet.cell(row=1, column=len(headers))
    assert cell.comment is not None and "只读" in cell.comment.text
    cells = _risk_cells(sheet)
    risks = client_risks(h)
    # The level first, then each reason on a line of its own: what the plan tab shows.
    assert cells == {pk: risk_text(risk) for pk, risk in risks.items()}
    assert cells[low.pk] == "低"
    high = next(pk for pk, r in risks.items() if r.level == "high")
    lines = cells[high].split("\n")
    assert lines[0] == "高" and len(lines) == 1 + len(risks[high].factors) and any("逾期应收" in x for x in lines)


def test_the_upload_ignores_the_risk_column_even_edited(mixed, people):
    h, low = mixed
    sheet = _sheet(h)
    before = _stored(h)
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row=row, column=len(_headers(sheet))).value = "我改了这一格"
    services.plan_sheet_upload(handover=h, user=people.departing, data=_bytes(sheet.parent), filename="p.xlsx")
    # Saving the sheet confirms the rows (as the grid does); nothing of the plan itself changed.
    assert [r[:5] for r in _stored(h)] == [r[:5] for r in before]


def test_a_sheet_downloaded_before_the_risk_column_still_uploads(mixed, people):
    h, low = mixed
    sheet = _sheet(h)
    sheet.delete_cols(len(_headers(sheet)))
    assert "关系风险" not in _headers(sheet)
    column = _headers(sheet).index("下一步") + 1
    row = next(
        r
        for r in range(2, sheet.max_row + 1)
        if sheet.cell(row=r, column=_headers(sheet).index("行编号") + 1).value == low.pk
    )
    sheet.cell(row=row, column=column).value = "月底前共同拜访。"
    services.plan_sheet_upload(handover=h, user=people.departing, data=_bytes(sheet.parent), filename="p.xlsx")
    low.refresh_from_db()
    assert low.next_steps == "月底前共同拜访。"


def test_the_download_takes_the_same_queries_whatever_the_size(people):
    counts = []
    for n in (5, 25):
        h = _handover_with(people, n)
        services.plan_workbook(h)  # warm up
        with CaptureQueriesContext(connection) as queries:
            sheet = openpyxl.load_workbook(io.BytesIO(services.plan_workbook(h))).active
        assert len([v for v in _risk_cells(sheet).values() if v]) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


# ---------------------------------------------------------------------------------------
# The report's figures count the clients by risk level


RISK_LINE = "各关系风险等级客户数"


def test_the_report_figures_count_the_clients_by_risk_level(mixed):
    h, _low = mixed
    figures = report_figures(h)
    assert figures["clients_by_risk"] == {"high": 2, "medium": 7, "low": 1}
    assert (RISK_LINE, "高 2，中 7，低 1") in figure_rows(figures)


def test_figures_frozen_before_the_risk_was_counted_show_no_risk_line(mixed):
    h, _low = mixed
    figures = report_figures(h)
    del figures["clients_by_risk"]
    rows = figure_rows(figures)
    assert RISK_LINE not in dict(rows) and len(rows) == len(figure_rows(report_figures(h))) - 1


def test_the_report_tab_shows_the_risk_counts_live_then_as_submitted(mixed, people, client):
    h, _low = mixed
    h = advance_to(h, State.REPORT)
    client.force_login(people.departing)
    live = _tab(client, h, "report")
    figures = live[live.index('id="figures"') :].split("</dl>")[0]
    counts = report_figures(h)["clients_by_risk"]
    assert (
        f"{RISK_LINE}</dt>" in figures and f"高 {counts['high']}，中 {counts['medium']}，低 {counts['low']}" in figures
    )

    h = advance_to(h, State.REPORT_REVIEW)
    stored = Report.objects.get(handover=h).figures["clients_by_risk"]
    assert stored == counts and sum(stored.values()) == 10
    client.force_login(people.supervisor)
    submitted = _tab(client, h, "report")
    assert f"{RISK_LINE}</dt>" in submitted


def test_the_confirmation_shows_the_risk_counts_of_the_submitted_figures(mixed):
    h, _low = mixed
    h = advance_to(h, State.COMPLETED)
    stored = Report.objects.get(handover=h).figures["clients_by_risk"]
    context = confirmation_context(h, verification_code="ABCD", fetcher=RestrictedFetcher())
    line = f"高 {stored['high']}，中 {stored['medium']}，低 {stored['low']}"
    assert (RISK_LINE, line) in context["figures"]
    cover = render_html(CONFIRMATION, {**context, "client_count": 10}, title="确认书", footer=None)
    assert RISK_LINE in cover and line in cover


def test_the_report_figures_take_the_same_queries_whatever_the_size(people):
    counts = []
    for n in (5, 25):
        h = _handover_with(people, n)
        report_figures(h)  # warm up
        with CaptureQueriesContext(connection) as queries:
            assert sum(report_figures(h)["clients_by_risk"].values()) == n
        counts.append(len(queries))
        # The page, which has the risks already, does not compute them again.
        risks = client_risks(h)
        with CaptureQueriesContext(connection) as given:
            report_figures(h, risks=risks)
        assert len(given) == len(queries) - 1
    assert counts[0] == counts[1] == 7
