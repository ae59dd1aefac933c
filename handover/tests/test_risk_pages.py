"""The relationship risk where people read it: the plan tab (sortable), the report tab, the
confirmation PDF's cover, and the API (issue 15)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from clients.models import FollowUp
from clients.tests.factories import ClientFactory, ContactFactory
from handover.models import HandoverClient, State
from handover.pdf import CONFIRMATION, RestrictedFetcher, confirmation_context, render_html
from handover.tests.risk_helpers import calm
from handover.tests.test_risk import _quiet
from tests.walk import advance_to


def _plan(client, h, **params):
    query = "&".join(f"{k}={v}" for k, v in {"tab": "plan", **params}.items())
    response = client.get(reverse("handover:detail", args=[h.pk]) + "?" + query)
    assert response.status_code == 200
    return response.content.decode()


def _order(content: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="client-(\d+)" class="plan-row', content)]


@pytest.fixture
def mixed(handover):
    """Two A clients at high risk, the B and C clients at medium risk, one B client at low risk."""
    calm(handover)
    low = handover.clients.filter(grade="B").select_related("client").last()
    FollowUp.objects.filter(client=low.client).delete()
    _quiet(low, handover)
    return handover, low


def test_the_plan_shows_each_clients_risk_and_its_reasons(mixed, people, client):
    h, low = mixed
    client.force_login(people.supervisor)
    content = _plan(client, h)
    assert "关系风险" in content
    assert content.count('<td class="risk" data-risk="high">') == 2
    assert content.count('<td class="risk" data-risk="medium">') == 7
    assert content.count('<td class="risk" data-risk="low">') == 1
    assert "逾期应收" in content  # a reason, in Chinese


def test_the_plan_sorts_by_risk_high_first_and_back(mixed, people, client):
    h, low = mixed
    client.force_login(people.departing)
    content = _plan(client, h, sort="risk")
    levels = re.findall(r'<td class="risk" data-risk="(\w+)">', content)
    assert levels == ["high"] * 2 + ["medium"] * 7 + ["low"]
    assert _order(content)[-1] == low.pk
    # The column's link turns the sort off again.
    assert f'href="{reverse("handover:detail", args=[h.pk])}?tab=plan" id="plan-sort-risk"' in content
    assert "?tab=plan&amp;sort=risk" in _plan(client, h)


def test_the_plan_sorted_by_risk_still_saves_rows(mixed, people, client):
    # The grid's inputs are unchanged by the sort: each row keeps its own fields.
    h, low = mixed
    client.force_login(people.departing)
    content = _plan(client, h, sort="risk")
    assert f'name="s-{low.pk}"' in content and f'name="v-{low.pk}"' in content


def test_the_report_tab_lists_the_clients_at_risk_high_first(mixed, people, client):
    h, low = mixed
    client.force_login(people.manager)
    content = client.get(reverse("handover:detail", args=[h.pk]) + "?tab=report").content.decode()
    section = content[content.index('id="risk-list"') :]
    levels = re.findall(r'<tr class="risk-row" data-risk="(\w+)">', section)
    assert levels == ["high"] * 2 + ["medium"] * 7  # the low-risk client is not listed
    assert low.client.name not in section.split("</section>")[0]


def test_other_tabs_do_not_compute_the_risk(mixed, people, client):
    h, _low = mixed
    client.force_login(people.supervisor)
    content = client.get(reverse("handover:detail", args=[h.pk]) + "?tab=timeline").content.decode()
    assert 'data-risk="' not in content


def test_the_confirmation_lists_the_clients_at_risk(mixed):
    h, low = mixed
    h = advance_to(h, State.COMPLETED)

    context = confirmation_context(h, verification_code="ABCD", fetcher=RestrictedFetcher())
    assert [r.level for r in context["risks"]][:2] == ["high", "high"]
    assert low.client.name not in {r.name for r in context["risks"]}
    assert context["risk_rule"]
    cover = render_html(CONFIRMATION, {**context, "client_count": 10}, title="确认书", footer=None)
    assert "存在关系风险的客户" in cover and cover.count('<tr class="risk-high">') == 2


# ---------------------------------------------------------------------------------------
# The API


def _api(user) -> APIClient:
    api = APIClient()
    token, _expiry = api_token_create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def test_the_api_gives_each_clients_factors_sorted_by_risk(mixed, people):
    h, low = mixed
    body = _api(people.supervisor).get(f"/api/handovers/{h.pk}/risks/?sort=risk").json()
    assert [r["risk"]["level"] for r in body["clients"]] == ["high"] * 2 + ["medium"] * 7 + ["low"]
    assert body["clients"][-1]["handover_client"] == low.pk and body["clients"][-1]["risk"]["factors"] == []
    codes = {f["code"] for f in body["clients"][0]["risk"]["factors"]}
    assert "overdue_receivables" in codes
    assert set(body["factors"]) >= codes and body["rule"]


def test_the_plan_rows_in_the_api_carry_the_risk(mixed, people):
    h, low = mixed
    api = _api(people.departing)
    detail = api.get(f"/api/handovers/{h.pk}/").json()
    by_id = {c["id"]: c for c in detail["clients"]}
    assert by_id[low.pk]["risk"]["level"] == "low"
    assert {c["risk"]["level"] for c in detail["clients"]} == {"high", "medium", "low"}
    one = api.get(f"/api/handovers/{h.pk}/clients/{low.pk}/").json()
    assert one["risk"]["level"] == "low" and one["sample_risk"] == ""


def test_the_sample_risk_is_in_the_api_after_the_draw(mixed, people):

    h, low = mixed
    h = advance_to(h, State.SPOT_CHECK)
    body = _api(people.witness).get(f"/api/handovers/{h.pk}/risks/").json()
    stored = {r["handover_client"]: r["sample_risk"] for r in body["clients"]}
    assert stored == dict(HandoverClient.objects.filter(handover=h).values_list("pk", "sample_risk"))
    assert stored[low.pk] == "low"


def test_a_stranger_does_not_see_the_risks(mixed, people):
    h, _low = mixed
    assert _api(people.other_sales).get(f"/api/handovers/{h.pk}/risks/").status_code == 404


@pytest.mark.parametrize("extra", [0, 8])
def test_the_risks_endpoint_takes_the_same_queries_whatever_the_size(handover, people, extra):

    for _ in range(extra):
        c = ClientFactory(owner=people.departing)
        ContactFactory(client=c)
        HandoverClient.objects.create(handover=handover, client=c, receiver=people.receiver, grade="C")
    api = _api(people.supervisor)
    api.get(f"/api/handovers/{handover.pk}/risks/")  # warm up
    with CaptureQueriesContext(connection) as queries:
        body = api.get(f"/api/handovers/{handover.pk}/risks/").json()
    assert len(body["clients"]) == 10 + extra
    # Same count for 10 or 18 clients: the token, the handover and its people, the clients, the risks, the log.
    assert len(queries) == 7


def test_saving_the_plan_sorted_by_risk_comes_back_sorted(mixed, people, client):
    h, _low = mixed
    client.force_login(people.departing)
    response = client.post(reverse("handover:plan_rows", args=[h.pk]), {"tab": "plan", "p": "1", "sort": "risk"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('handover:detail', args=[h.pk])}?tab=plan&sort=risk")
    unsorted = client.post(reverse("handover:plan_rows", args=[h.pk]), {"tab": "plan", "p": "1"})
    assert "sort=" not in unsorted["Location"]


def test_the_witness_sees_which_clients_were_drawn_for_their_high_risk(mixed, people, client):
    h, _low = mixed
    h = advance_to(h, State.SPOT_CHECK)
    client.force_login(people.witness)
    content = client.get(reverse("handover:detail", args=[h.pk]) + "?tab=spot_check").content.decode()
    high = HandoverClient.objects.filter(handover=h, sample_risk="high").count()
    assert high == 2  # the A clients (drawn anyway)
    assert content.count("关系风险高，必抽查") == high
