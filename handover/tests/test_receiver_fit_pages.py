"""Receiver suggestions and the client cap on the pages and over the API (issue 15, item 1): the
plan tab's suggestions, the split by fit, the cap refused in Chinese. The admin that sets the cap:
accounts/tests/test_admin_matrix.py."""

import pytest
from django.contrib.messages import ERROR, get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AccessLog
from accounts.roles import Role
from accounts.tests.factories import UserFactory
from accounts.tokens import api_token_create
from clients.models import Client
from clients.tests.factories import ClientFactory, FollowUpFactory
from handover.models import HandoverClient, State
from tests.walk import advance_to


@pytest.fixture
def api(db):
    def _api(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
        return client

    return _api


def _rows(h):
    return list(HandoverClient.objects.filter(handover=h).select_related("client").order_by("pk"))


@pytest.fixture
def medical(handover, receiver2):
    """A client in 医疗器械 that receiver2 followed up twice and knows the industry of."""
    hc = _rows(handover)[0]
    Client.objects.filter(pk=hc.client_id).update(industry="医疗器械", region="华南")
    hc.client.refresh_from_db()
    ClientFactory.create_batch(12, owner=receiver2, industry="医疗器械", region="华北")
    FollowUpFactory.create_batch(2, client=hc.client, created_by=receiver2)
    receiver2.client_cap = 50
    receiver2.save()
    return hc


def _cap(user, n):
    user.client_cap = n
    user.save()


# ---------------------------------------------------------------------------------------
# The API


@pytest.mark.django_db
def test_the_api_lists_suggestions_per_client(api, people, handover, medical, receiver2):
    before = AccessLog.objects.count()
    response = api(people.departing).get(f"/api/handovers/{handover.pk}/receivers/suggestions/?limit=2")
    assert response.status_code == 200, response.content
    rows = {r["handover_client"]: r for r in response.json()}
    assert set(rows) == {hc.pk for hc in _rows(handover)}
    assert all(len(r["suggestions"]) <= 2 for r in rows.values())
    top = rows[medical.pk]["suggestions"][0]
    assert top["receiver"]["id"] == receiver2.pk
    assert top["facts"]["same_industry"] == 12 and top["facts"]["follow_ups"] == 2
    assert top["load"]["clients"] == 12 and top["load"]["cap"] == 50
    assert "同行业客户12个" in top["reasons_text"] and "当前负荷12/50" in top["reasons_text"]
    # A read of client data through the API: logged.
    assert AccessLog.objects.count() == before + 1


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["receiver", "witness", "manager", "hr"])
def test_only_who_chooses_receivers_reads_the_suggestions(api, people, handover, who):
    response = api(getattr(people, who)).get(f"/api/handovers/{handover.pk}/receivers/suggestions/")
    assert response.status_code == 403
    assert response.json()["code"] == "not_allowed"


@pytest.mark.django_db
def test_no_suggestions_after_the_plan(api, people, handover):
    h = advance_to(handover, State.MATERIALS)
    response = api(people.supervisor).get(f"/api/handovers/{h.pk}/receivers/suggestions/")
    assert response.status_code == 403 and response.json()["code"] == "not_allowed"


@pytest.mark.django_db
def test_a_bad_limit_is_refused(api, people, handover):
    response = api(people.departing).get(f"/api/handovers/{handover.pk}/receivers/suggestions/?limit=0")
    assert response.status_code == 400 and response.json()["field"] == "limit"


@pytest.mark.django_db
def test_the_api_refuses_a_receiver_beyond_the_cap_in_chinese(api, people, handover, receiver2):
    _cap(receiver2, 1)
    response = api(people.supervisor).post(
        f"/api/handovers/{handover.pk}/receivers/set/", {"receiver": receiver2.pk, "grade": "A"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "over_cap" and body["field"] == "receiver"
    assert "超过其上限1个" in body["detail"]
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_the_api_splits_by_fit(api, people, handover, medical, receiver2):
    response = api(people.departing).post(
        f"/api/handovers/{handover.pk}/receivers/split-preview/", {"mode": "fit"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mode"] == "fit"
    by_client = {r["handover_client"]: r["receiver"]["id"] for r in body["assignment"]}
    assert by_client[medical.pk] == receiver2.pk
    loads = {r["receiver"]["id"]: r for r in body["receivers"]}
    assert loads[receiver2.pk]["cap"] == 50 and not loads[receiver2.pk]["over"]
    applied = api(people.departing).post(
        f"/api/handovers/{handover.pk}/receivers/split-apply/",
        {
            "assignment": [
                {
                    "handover_client": r["handover_client"],
                    "receiver": r["receiver"]["id"],
                    "row_version": r["row_version"],
                }
                for r in body["assignment"]
            ],
            "digest": body["digest"],
        },
        format="json",
    )
    assert applied.status_code == 200, applied.content
    medical.refresh_from_db()
    assert medical.receiver_id == receiver2.pk


@pytest.mark.django_db
def test_an_even_split_still_needs_a_receiver(api, people, handover):
    response = api(people.departing).post(f"/api/handovers/{handover.pk}/receivers/split-preview/", {}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "receivers"


# ---------------------------------------------------------------------------------------
# The pages


@pytest.mark.django_db
def test_the_plan_tab_offers_the_suggestions_to_who_chooses_receivers(login, people, handover):
    url = reverse("handover:detail", args=[handover.pk]) + "?tab=plan"
    suggestions = reverse("handover:receiver_suggestions", args=[handover.pk])
    html = login(people.departing).get(url).content.decode()
    assert 'id="receiver-suggestions"' in html and f'hx-get="{suggestions}" hx-trigger="load"' in html
    for who in (people.receiver, people.witness, people.manager):
        assert 'id="receiver-suggestions"' not in login(who).get(url).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [True, False])
def test_the_top_suggestion_with_its_reasons(login, people, handover, medical, receiver2, htmx):
    url = reverse("handover:receiver_suggestions", args=[handover.pk])
    before = AccessLog.objects.count()
    response = login(people.supervisor).get(url, **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
    assert response.status_code == 200
    html = response.content.decode()
    assert ("<html" in html) is not htmx
    row = html.split(f'<tr data-client="{medical.pk}">', 1)[1].split("</tr>", 1)[0]
    assert f'data-receiver="{receiver2.pk}"' in row
    assert "同行业客户12个" in row and "曾跟进该客户2次" in row and "当前负荷12/50" in row
    assert "take-suggestion" in row
    # The clients' data read: logged.
    assert AccessLog.objects.count() == before + 1


@pytest.mark.django_db
def test_the_suggestions_page_refuses_the_other_parties(login, people, handover):
    url = reverse("handover:receiver_suggestions", args=[handover.pk])
    for who in (people.receiver, people.witness, people.manager, people.hr):
        assert login(who).get(url).status_code == 403
    assert login(people.other_sales).get(url).status_code == 404


@pytest.mark.django_db
def test_the_page_splits_by_fit_with_the_load_preview(login, people, handover, medical, receiver2):
    preview = reverse("handover:receivers_split_preview", args=[handover.pk])
    response = login(people.departing).post(preview, {"mode": "fit"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="receivers-split-preview"' in html and "按匹配度" in html
    assert f'name="assign" value="{medical.pk}:{receiver2.pk}:' in html
    # The load against the cap, per receiver.
    assert "13/50" in html


@pytest.mark.django_db
def test_the_page_refuses_taking_a_suggestion_beyond_the_cap(login, people, handover, receiver2):
    ClientFactory.create_batch(2, owner=receiver2)
    _cap(receiver2, 2)
    hc = _rows(handover)[0]
    response = login(people.departing).post(
        reverse("handover:receiver_set", args=[handover.pk]),
        {"version": handover.version, "handover_client": hc.pk, "receiver": receiver2.pk},
    )
    assert response.status_code in (200, 302, 400)
    messages = [(m.level, str(m)) for m in get_messages(response.wsgi_request)]
    text = " ".join(m for _level, m in messages) + response.content.decode()
    assert "超过其上限2个" in text
    assert any(level == ERROR for level, _m in messages) or response.status_code == 400
    hc.refresh_from_db()
    assert hc.receiver_id == people.receiver.pk


@pytest.mark.django_db
def test_the_bulk_page_refuses_beyond_the_cap_next_to_the_receivers(login, people, handover, receiver2):
    _cap(receiver2, 1)
    response = login(people.departing).post(
        reverse("handover:receivers_bulk", args=[handover.pk]), {"receivers": [receiver2.pk], "grade": "A"}
    )
    assert response.status_code == 400
    assert "超过其上限1个" in response.content.decode()
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_the_api_answers_in_the_same_number_of_queries_at_5_and_40_clients(api, start, people, receiver2):
    counts = []
    for n in (5, 40):
        departing = UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES])
        for i in range(n):
            c = ClientFactory(owner=departing, grade="A" if i % 4 == 0 else "C", industry=f"行业{i % 3}")
            FollowUpFactory(client=c, created_by=receiver2)
        h = start(departing=departing)
        client = api(people.supervisor)
        url = f"/api/handovers/{h.pk}/receivers/suggestions/"
        assert client.get(url).status_code == 200  # warm up: per-process caches are not the answer's
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200 and len(response.json()) == n
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
