"""The handover workspace: a tab per stage, "my to-dos", and the plan grid that never loses input."""

import datetime
import re

import pytest
from django.urls import reverse

from handover import services
from handover.models import HandoverClient, ItemStatus, State
from tests.walk import advance_to


@pytest.fixture
def handover(handover):
    HandoverClient.objects.filter(handover=handover).update(
        current_status="", risks="", next_steps="", planned_visit_on=None, prefilled=[]
    )
    return handover


def url(h, tab: str = "") -> str:
    return reverse("handover:detail", args=[h.pk]) + (f"?tab={tab}" if tab else "")


def active_tab(content: str) -> str:
    return re.search(r'class="nav-link active[^"]*" data-tab="(\w+)"', content).group(1)


def rows(h) -> list[HandoverClient]:
    return list(HandoverClient.objects.filter(handover=h).order_by("pk"))


def grid_post(h, *, typed: dict | None = None, only: int | None = None) -> dict:
    """The plan grid's form as the page posts it: every row's shown values, version and digest,
    with `typed` ({hc_pk: {short_name: value}}) changed."""
    from handover.selectors.page import plan_digest

    body = {"tab": "plan"}
    for hc in rows(h):
        day = hc.planned_visit_on.isoformat() if hc.planned_visit_on else ""
        values = {"s": hc.current_status, "k": hc.risks, "n": hc.next_steps, "d": day}
        body[f"o-{hc.pk}"] = plan_digest(hc.current_status, hc.risks, hc.next_steps, day)
        body[f"v-{hc.pk}"] = hc.row_version
        values.update((typed or {}).get(hc.pk, {}))
        for short, value in values.items():
            body[f"{short}-{hc.pk}"] = value
    if only is not None:
        body["only"] = only
    return body


# ---------------------------------------------------------------------------------------
# Tabs


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "tab"),
    [(State.PLAN, "plan"), (State.MATERIALS, "materials"), (State.VISITS, "visits"), (State.REPORT, "report")],
)
def test_the_handover_opens_on_the_stage_it_stands_at(handover, people, login, state, tab):
    h = advance_to(handover, state)
    assert active_tab(login(people.supervisor).get(url(h)).content.decode()) == tab


@pytest.mark.django_db
def test_each_tab_shows_its_own_part(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    browser = login(people.supervisor)
    materials = browser.get(url(h, "materials")).content.decode()
    assert 'id="checklist"' in materials and 'id="timeline"' not in materials
    timeline = browser.get(url(h, "timeline")).content.decode()
    assert 'id="timeline"' in timeline and 'id="checklist"' not in timeline and 'id="actions"' not in timeline
    plan = browser.get(url(h, "plan")).content.decode()
    assert 'class="table table-sm align-middle grid-table plan-grid' in plan and 'id="item-' not in plan


@pytest.mark.django_db
def test_an_unknown_tab_is_the_stage_tab(handover, people, login):
    assert active_tab(login(people.departing).get(url(handover, "nonsense")).content.decode()) == "plan"


@pytest.mark.django_db
def test_my_todos_show_the_receiver_only_the_items_waiting_for_them(handover, people, receiver2, login):
    h = advance_to(handover, State.MATERIALS)
    other = rows(h)[0]
    h.items.filter(handover_client=other).update(receiver=receiver2)
    services.items_hand_over_all(handover=h, user=people.departing)
    mine = set(h.items.filter(receiver=people.receiver, status=ItemStatus.HANDED_OVER).values_list("pk", flat=True))
    content = login(people.receiver).get(url(h, "mine")).content.decode()
    shown = {int(pk) for pk in re.findall(r'id="item-(\d+)"', content)}
    assert shown == mine
    badge = re.search(r'class="badge text-bg-danger mine-count">(\d+)<', content)
    assert badge is not None and int(badge.group(1)) >= 1


@pytest.mark.django_db
def test_my_todos_show_the_departing_person_the_disputed_items(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    item = h.items.filter(receiver=people.receiver).first()
    services.item_dispute(item=item, user=people.receiver, reason="缺第3页")
    content = login(people.departing).get(url(h, "mine")).content.decode()
    assert {int(pk) for pk in re.findall(r'id="item-(\d+)"', content)} == {item.pk}
    assert "缺第3页" in content


@pytest.mark.django_db
def test_my_todos_show_the_witness_only_the_sample(handover, people, login):
    h = advance_to(handover, State.SPOT_CHECK)
    sampled = {hc.pk for hc in rows(h) if hc.in_sample}
    content = login(people.witness).get(url(h, "mine")).content.decode()
    assert {int(pk) for pk in re.findall(r'id="calls-client-(\d+)"', content)} == sampled


@pytest.mark.django_db
def test_someone_with_nothing_to_do_is_told_so(handover, people, login):
    content = login(people.witness).get(url(handover, "mine")).content.decode()
    assert 'id="tab-empty"' in content


# ---------------------------------------------------------------------------------------
# The plan grid


@pytest.mark.django_db
def test_save_all_saves_every_typed_row(handover, people, login):
    a, b = rows(handover)[:2]
    body = grid_post(handover, typed={a.pk: {"s": "合同执行中"}, b.pk: {"k": "回款逾期"}})
    response = login(people.departing).post(reverse("handover:plan_rows", args=[handover.pk]), body)
    assert response.status_code == 302 and "tab=plan" in response["Location"]
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.current_status == "合同执行中" and b.risks == "回款逾期"


@pytest.mark.django_db
def test_save_all_confirms_prefilled_rows_nobody_edited(handover, people, login):
    a = rows(handover)[0]
    HandoverClient.objects.filter(pk=a.pk).update(current_status="预填", prefilled=["current_status"])
    login(people.departing).post(reverse("handover:plan_rows", args=[handover.pk]), grid_post(handover))
    a.refresh_from_db()
    assert a.prefilled == [] and a.current_status == "预填"


@pytest.mark.django_db
def test_a_bad_row_keeps_everything_typed_and_says_so_on_its_row(handover, people, login):
    a, b = rows(handover)[:2]
    too_late = (handover.last_working_day + datetime.timedelta(days=3)).isoformat()
    body = grid_post(handover, typed={a.pk: {"s": "甲客户已续约"}, b.pk: {"d": too_late, "n": "下周拜访采购"}})
    response = login(people.departing).post(reverse("handover:plan_rows", args=[handover.pk]), body)
    assert response.status_code == 400
    content = response.content.decode()
    # Both rows' input is back on the page, the good one's too; the message sits on the bad row.
    assert "甲客户已续约" in content and "下周拜访采购" in content and f'value="{too_late}"' in content
    row_b = re.search(rf'<tr id="client-{b.pk}".*?</tr>', content, re.S).group(0)
    assert 'class="text-danger row-error" data-field="planned_visit_on"' in row_b
    a.refresh_from_db()
    assert a.current_status == ""  # all or nothing


@pytest.mark.django_db
def test_a_conflict_on_one_row_keeps_the_input_and_offers_to_reload_that_row(handover, people, login):
    a, b = rows(handover)[:2]
    body = grid_post(handover, typed={b.pk: {"k": "我刚打的字"}})
    # Meanwhile the same row is changed elsewhere (another tab, the API).
    services.plan_save_rows(handover=handover, user=people.departing, rows=[services.PlanRow(b.pk, risks="别处")])
    response = login(people.departing).post(reverse("handover:plan_rows", args=[handover.pk]), body)
    assert response.status_code == 409
    content = response.content.decode()
    assert "我刚打的字" in content
    assert reverse("handover:plan_row", args=[handover.pk, b.pk]) in content
    b.refresh_from_db()
    assert b.risks == "别处"


@pytest.mark.django_db
def test_a_row_someone_else_changed_but_this_person_did_not_touch_is_no_conflict(handover, people, login):
    a, b = rows(handover)[:2]
    body = grid_post(handover, typed={a.pk: {"s": "新的情况"}})
    services.plan_save_rows(handover=handover, user=people.departing, rows=[services.PlanRow(b.pk, risks="别处")])
    response = login(people.departing).post(reverse("handover:plan_rows", args=[handover.pk]), body)
    assert response.status_code == 302
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.current_status == "新的情况" and b.risks == "别处"


@pytest.mark.django_db
def test_a_row_saves_alone_without_reloading_the_page(handover, people, login):
    a, b = rows(handover)[:2]
    body = grid_post(handover, typed={a.pk: {"s": "只存这一行"}, b.pk: {"s": "还在打字"}}, only=a.pk)
    response = login(people.departing).post(
        reverse("handover:plan_rows", args=[handover.pk]), body, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment and 'hx-swap-oob="true"' in fragment
    assert f'id="v-{a.pk}" value="2"' in fragment
    assert "plan-row-saved" in response["HX-Trigger"]
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.current_status == "只存这一行" and b.current_status == ""


@pytest.mark.django_db
def test_a_refused_row_save_answers_on_the_row_and_saves_nothing(handover, people, login):
    a = rows(handover)[0]
    too_late = (handover.last_working_day + datetime.timedelta(days=3)).isoformat()
    body = grid_post(handover, typed={a.pk: {"d": too_late}}, only=a.pk)
    response = login(people.departing).post(
        reverse("handover:plan_rows", args=[handover.pk]), body, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "row-error" in response.content.decode()
    assert "HX-Trigger" not in response
    a.refresh_from_db()
    assert a.planned_visit_on is None


@pytest.mark.django_db
def test_reloading_a_row_shows_what_is_stored_now(handover, people, login):
    a = rows(handover)[0]
    services.plan_save_rows(handover=handover, user=people.departing, rows=[services.PlanRow(a.pk, risks="存好的")])
    response = login(people.departing).get(reverse("handover:plan_row", args=[handover.pk, a.pk]))
    content = response.content.decode()
    assert content.startswith("<tr") and "存好的" in content and f'id="v-{a.pk}" value="2"' in content


@pytest.mark.django_db
def test_the_receiver_cannot_save_the_plan_grid(handover, people, login):
    a = rows(handover)[0]
    body = grid_post(handover, typed={a.pk: {"s": "越权"}})
    response = login(people.receiver).post(reverse("handover:plan_rows", args=[handover.pk]), body)
    assert response.status_code == 403
    a.refresh_from_db()
    assert a.current_status == ""


@pytest.mark.django_db
def test_after_the_plan_stage_the_grid_is_read_only(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    content = login(people.departing).get(url(h, "plan")).content.decode()
    assert "plan-grid" in content and 'name="s-' not in content
    a = rows(h)[0]
    body = grid_post(h, typed={a.pk: {"s": "太晚了"}})
    response = login(people.departing).post(reverse("handover:plan_rows", args=[h.pk]), body)
    assert response.status_code == 409
    assert "太晚了" in response.content.decode()


@pytest.mark.django_db
def test_the_grid_marks_prefilled_fields_until_confirmed(handover, people, login):
    a = rows(handover)[0]
    HandoverClient.objects.filter(pk=a.pk).update(risks="应收逾期 ¥12,000.00", prefilled=["risks"])
    content = login(people.departing).get(url(handover, "plan")).content.decode()
    row = re.search(rf'<tr id="client-{a.pk}".*?</tr>', content, re.S).group(0)
    assert re.search(rf'name="k-{a.pk}"[^>]*class="[^"]*prefilled', row)
    assert "prefilled-note" in row


# ---------------------------------------------------------------------------------------
# The API equivalent


@pytest.mark.django_db
def test_the_api_saves_rows_and_names_each_refusal_by_row(handover, people, client):
    from accounts.tokens import api_token_create

    a, b = rows(handover)[:2]
    token, _expiry = api_token_create(user=people.departing)
    headers = {"Authorization": f"Token {token}"}
    endpoint = reverse("api:plan-rows", args=[handover.pk])
    too_late = (handover.last_working_day + datetime.timedelta(days=3)).isoformat()
    refused = client.post(
        endpoint,
        {"rows": [{"handover_client": a.pk, "risks": "x"}, {"handover_client": b.pk, "planned_visit_on": too_late}]},
        content_type="application/json",
        headers=headers,
    )
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {f"rows.{b.pk}.planned_visit_on"}
    ok = client.post(
        endpoint,
        {"rows": [{"handover_client": a.pk, "risks": "x", "row_version": a.row_version}]},
        content_type="application/json",
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json()["saved"] == [a.pk]
    stale = client.post(
        endpoint,
        {"rows": [{"handover_client": a.pk, "risks": "y", "row_version": a.row_version}]},
        content_type="application/json",
        headers=headers,
    )
    assert stale.status_code == 409 and stale.json()["conflicts"] == [a.pk]


@pytest.mark.django_db
def test_receivers_in_bulk_beside_the_grid_post_the_grid_with_the_versions_it_keeps(handover, people, receiver2, login):
    """Beside the editable grid the receivers-in-bulk buttons submit the grid's form: a ticked row
    goes with the version the grid holds, which a row save has replaced, so no false conflict."""
    page = login(people.departing).get(reverse("handover:detail", args=[handover.pk]) + "?tab=plan").content.decode()
    assert 'formaction="' + reverse("handover:receivers_bulk", args=[handover.pk]) + '" form="plan-grid"' in page
    a = rows(handover)[0]
    assert f'name="hc" value="{a.pk}" aria-label' in page  # in the grid's own form
    assert 'name="rv-' not in page
    # The row saves alone (its version goes up and the page's hidden v-<id> is replaced) ...
    saved = login(people.departing).post(
        reverse("handover:plan_rows", args=[handover.pk]),
        grid_post(handover, typed={a.pk: {"s": "先存一行"}}, only=a.pk),
        headers={"HX-Request": "true"},
    )
    assert f'id="v-{a.pk}" value="2"' in saved.content.decode()
    # ... then the grid's form, posted to the receivers' URL with that version, is no conflict.
    body = grid_post(handover)
    body.update({"hc": [a.pk], "receivers": [receiver2.pk]})
    response = login(people.departing).post(reverse("handover:receivers_bulk", args=[handover.pk]), body)
    refusals = re.findall(r"(?:alert-danger|invalid-feedback)[^>]*>(.*?)</div>", response.content.decode(), re.S)
    assert response.status_code == 302, refusals
    a.refresh_from_db()
    assert a.receiver == receiver2
    # A stale version is still a conflict, named on its row.
    body[f"v-{a.pk}"] = 1
    body["receivers"] = [people.receiver.pk]
    refused = login(people.departing).post(reverse("handover:receivers_bulk", args=[handover.pk]), body)
    assert refused.status_code in (400, 409)
    a.refresh_from_db()
    assert a.receiver == receiver2
