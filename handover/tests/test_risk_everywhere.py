"""The relationship risk where the plan shows too: the plan grid of "my to-dos", the plan's Excel
sheet, and the report's figures (issue 15, item 2)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.models import FollowUp
from handover.models import HandoverClient
from handover.tests.risk_helpers import calm
from handover.tests.test_risk import _quiet
from handover.tests.test_views_detail import _handover_with


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
