"""The POST actions of the handover page: each from the allowed side and the refused side.

A refusal is a message on the handover page and no change; a page out of date is refused with
the "changed, reload" message, so a double-clicked submit acts once.
"""

import datetime

import pytest
from django.conf import settings
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.urls import reverse
from django.utils import timezone, translation

from accounts.roles import Role
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from clients.tests.factories import ClientFactory
from handover import services
from handover.models import CallResult, ChecklistItem, Event, Handover, ItemStatus, State, Visit
from tests.walk import advance_to, do_stage_work


def version(h: Handover) -> int:
    return Handover.objects.values_list("version", flat=True).get(pk=h.pk)


def post(browser, name: str, h: Handover, *args, stale: bool = False, **data):
    data.setdefault("version", version(h) - 1 if stale else version(h))
    return send(browser, reverse(f"handover:{name}", args=[h.pk, *args]), data)


def send(browser, url: str, data: dict):
    # Messages wait in a cookie until a page shows them; drop the last action's, so each
    # response carries only its own.
    browser.cookies.pop("messages", None)
    return browser.post(url, data)


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in get_messages(response.wsgi_request)]


def assert_refused(response, h: Handover, before: int) -> None:
    assert response.status_code == 302
    assert response.url.startswith(reverse("handover:detail", args=[h.pk]))
    assert [level for level, _ in messages_of(response)] == [ERROR]
    assert version(h) == before


def assert_done(response, h: Handover, before: int) -> None:
    assert response.status_code == 302
    assert response.url.startswith(reverse("handover:detail", args=[h.pk]))
    assert [level for level, _ in messages_of(response)] == [SUCCESS]
    assert version(h) == before + 1


def conflict_text(h: Handover) -> str:
    """The service's own "changed, reload" message, in the language the pages speak."""
    with translation.override(settings.LANGUAGE_CODE), pytest.raises(services.Conflict) as exc:
        services.items_hand_over_all(handover=h, user=h.departing, expected_version=-1)
    return exc.value.message


PLAN = {"current_status": "合作稳定", "risks": "付款偏慢", "next_steps": "一起拜访采购经理", "planned_visit_on": ""}


def plan_data(h: Handover) -> dict:
    return {**PLAN, "planned_visit_on": f"{h.last_working_day:%Y-%m-%d}"}


# ---------------------------------------------------------------------------------------
# The plan


def test_the_departing_person_saves_a_clients_plan(handover, people, login):
    hc = handover.clients.first()
    before = version(handover)
    response = post(login(people.departing), "plan_update", handover, hc.pk, **plan_data(handover))
    assert_done(response, handover, before)
    assert response.url.endswith(f"#client-{hc.pk}")
    hc.refresh_from_db()
    assert (hc.current_status, hc.risks, hc.planned_visit_on) == ("合作稳定", "付款偏慢", handover.last_working_day)
    assert Event.objects.filter(handover=handover, kind="plan_updated", actor=people.departing).count() == 1


def test_it_rejects_a_plan_from_the_receiver(handover, people, login):
    hc = handover.clients.first()
    status_before = hc.current_status  # prefilled from the book at the start
    before = version(handover)
    response = post(login(people.receiver), "plan_update", handover, hc.pk, **plan_data(handover))
    assert_refused(response, handover, before)
    hc.refresh_from_db()
    assert hc.current_status == status_before


def test_it_rejects_a_visit_date_after_the_last_working_day(handover, people, login):
    hc = handover.clients.first()
    before = version(handover)
    late = {**PLAN, "planned_visit_on": f"{handover.last_working_day + datetime.timedelta(days=1):%Y-%m-%d}"}
    assert_refused(post(login(people.departing), "plan_update", handover, hc.pk, **late), handover, before)


def test_a_stale_page_gets_the_conflict_message_and_changes_nothing(handover, people, login):
    hc = handover.clients.first()
    status_before = hc.current_status  # prefilled from the book at the start
    before = version(handover)
    response = post(login(people.departing), "plan_update", handover, hc.pk, stale=True, **plan_data(handover))
    assert_refused(response, handover, before)
    assert messages_of(response) == [(ERROR, conflict_text(handover))]
    hc.refresh_from_db()
    assert hc.current_status == status_before


def test_a_form_without_its_version_is_refused(handover, people, login):
    hc = handover.clients.first()
    before = version(handover)
    browser = login(people.departing)
    response = browser.post(reverse("handover:plan_update", args=[handover.pk, hc.pk]), plan_data(handover))
    assert_refused(response, handover, before)


def test_the_departing_person_and_the_supervisor_change_a_clients_receiver(handover, people, receiver2, login):
    hc, other = handover.clients.all()[:2]
    for who, target in ((people.departing, hc), (people.supervisor, other)):
        before = version(handover)
        response = post(login(who), "receiver_set", handover, handover_client=target.pk, receiver=receiver2.pk)
        assert_done(response, handover, before)
        target.refresh_from_db()
        assert target.receiver == receiver2
        assert set(target.items.values_list("receiver", flat=True)) == {receiver2.pk}


def test_the_witness_cannot_change_a_receiver(handover, people, receiver2, login):
    hc = handover.clients.first()
    before = version(handover)
    response = post(login(people.witness), "receiver_set", handover, handover_client=hc.pk, receiver=receiver2.pk)
    assert_refused(response, handover, before)
    hc.refresh_from_db()
    assert hc.receiver == people.receiver


def test_a_receiver_who_may_not_receive_is_refused_with_the_reason(handover, people, login):
    hc = handover.clients.first()
    before = version(handover)
    response = post(
        login(people.departing), "receiver_set", handover, handover_client=hc.pk, receiver=people.manager.pk
    )
    assert_refused(response, handover, before)


def test_an_unknown_client_cannot_be_reassigned(handover, people, receiver2, login):
    before = version(handover)
    response = post(login(people.departing), "receiver_set", handover, handover_client=999999, receiver=receiver2.pk)
    assert_refused(response, handover, before)


# ---------------------------------------------------------------------------------------
# Materials


@pytest.fixture
def at_materials(handover):
    return advance_to(handover, State.MATERIALS)


def test_the_departing_person_hands_an_item_over(at_materials, people, login):
    h = at_materials
    item = h.items.first()
    before = version(h)
    response = post(login(people.departing), "item_hand_over", h, item.pk)
    assert_done(response, h, before)
    assert response.url.endswith(f"#item-{item.pk}")
    item.refresh_from_db()
    assert item.status == ItemStatus.HANDED_OVER


def test_the_receiver_cannot_hand_items_over(at_materials, people, login):
    h = at_materials
    item = h.items.first()
    before = version(h)
    assert_refused(post(login(people.receiver), "item_hand_over", h, item.pk), h, before)
    item.refresh_from_db()
    assert item.status == ItemStatus.PENDING


def test_the_departing_person_hands_everything_over_at_once(at_materials, people, login):
    h = at_materials
    before = version(h)
    assert_done(post(login(people.departing), "items_hand_over_all", h), h, before)
    assert not h.items.filter(status=ItemStatus.PENDING).exists()


def test_a_double_clicked_hand_over_all_acts_once(at_materials, people, login):
    h = at_materials
    browser = login(people.departing)
    data = {"version": version(h)}
    first = send(browser, reverse("handover:items_hand_over_all", args=[h.pk]), data)
    second = send(browser, reverse("handover:items_hand_over_all", args=[h.pk]), data)
    assert [level for level, _ in messages_of(first)] == [SUCCESS]
    assert messages_of(second) == [(ERROR, conflict_text(h))]
    assert Event.objects.filter(handover=h, kind="items_handed_over").count() == 1


@pytest.fixture
def handed_over(at_materials, people):
    services.items_hand_over_all(handover=at_materials, user=people.departing)
    return Handover.objects.get(pk=at_materials.pk)


def test_the_receiver_confirms_an_item(handed_over, people, login):
    h = handed_over
    item = h.items.first()
    before = version(h)
    assert_done(post(login(people.receiver), "item_confirm", h, item.pk), h, before)
    item.refresh_from_db()
    assert item.status == ItemStatus.CONFIRMED


@pytest.mark.parametrize("who", ["witness", "departing", "supervisor"])
def test_nobody_but_the_receiver_confirms_an_item(handed_over, people, login, who):
    h = handed_over
    item = h.items.first()
    before = version(h)
    assert_refused(post(login(getattr(people, who)), "item_confirm", h, item.pk), h, before)
    item.refresh_from_db()
    assert item.status == ItemStatus.HANDED_OVER


def test_the_receiver_confirms_all_their_items(handed_over, people, login):
    h = handed_over
    before = version(h)
    assert_done(post(login(people.receiver), "items_confirm_all", h), h, before)
    assert not h.items.exclude(status=ItemStatus.CONFIRMED).exists()


def test_confirm_all_with_nothing_waiting_is_refused(handed_over, people, login):
    h = handed_over
    before = version(h)
    assert_refused(post(login(people.witness), "items_confirm_all", h), h, before)


def test_the_dispute_page_shows_the_item(handed_over, people, login):
    h = handed_over
    item = h.items.filter(kind="contract").first()
    response = login(people.receiver).get(reverse("handover:item_dispute", args=[h.pk, item.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert item.title in content and f'name="version" value="{h.version}"' in content


def test_a_dispute_needs_a_reason(handed_over, people, login):
    h = handed_over
    item = h.items.first()
    before = version(h)
    assert_refused(post(login(people.receiver), "item_dispute", h, item.pk, reason="  "), h, before)
    item.refresh_from_db()
    assert item.status == ItemStatus.HANDED_OVER


def test_the_receiver_disputes_an_item_with_a_reason(handed_over, people, login):
    h = handed_over
    item = h.items.first()
    before = version(h)
    assert_done(post(login(people.receiver), "item_dispute", h, item.pk, reason="原件缺页"), h, before)
    item.refresh_from_db()
    assert (item.status, item.dispute_reason) == (ItemStatus.DISPUTED, "原件缺页")
    assert Event.objects.get(handover=h, kind="item_disputed").comment == "原件缺页"


def test_the_witness_cannot_dispute(handed_over, people, login):
    h = handed_over
    item = h.items.first()
    before = version(h)
    assert_refused(post(login(people.witness), "item_dispute", h, item.pk, reason="不对"), h, before)


# ---------------------------------------------------------------------------------------
# Joint visits


@pytest.fixture
def at_visits(handover):
    return advance_to(handover, State.VISITS)


def visit_data(**extra) -> dict:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    return {
        "visited_on": f"{yesterday:%Y-%m-%d}",
        "mode": "in_person",
        "contact_met": "王采购",
        "outcome": "介绍了新对接人",
        "concerns": "",
        **extra,
    }


def test_the_receiver_records_a_visit_and_the_departing_person_confirms_it(at_visits, people, login):
    h = at_visits
    hc = h.clients.first()
    before = version(h)
    assert_done(post(login(people.receiver), "visit_record", h, hc.pk, **visit_data()), h, before)
    visit = Visit.objects.get(handover_client=hc)
    assert visit.receiver_confirmed_at is not None and visit.departing_confirmed_at is None
    assert_done(post(login(people.departing), "visit_confirm", h, visit.pk), h, before + 1)
    visit.refresh_from_db()
    assert visit.is_confirmed


def test_the_witness_cannot_record_a_visit(at_visits, people, login):
    h = at_visits
    hc = h.clients.first()
    before = version(h)
    assert_refused(post(login(people.witness), "visit_record", h, hc.pk, **visit_data()), h, before)
    assert not Visit.objects.filter(handover_client=hc).exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"visited_on": f"{timezone.localdate() + datetime.timedelta(days=3):%Y-%m-%d}"},
        {"visited_on": "not a date"},
        {"outcome": ""},
        {"mode": "by_carrier_pigeon"},
    ],
)
def test_a_visit_with_bad_input_is_refused(at_visits, people, login, bad):
    h = at_visits
    hc = h.clients.first()
    before = version(h)
    assert_refused(post(login(people.departing), "visit_record", h, hc.pk, **visit_data(**bad)), h, before)
    assert not Visit.objects.filter(handover_client=hc).exists()


def test_the_recorder_cannot_confirm_their_own_visit_twice(at_visits, people, login):
    h = at_visits
    hc = h.clients.first()
    post(login(people.departing), "visit_record", h, hc.pk, **visit_data())
    visit = Visit.objects.get(handover_client=hc)
    before = version(h)
    assert_refused(post(login(people.departing), "visit_confirm", h, visit.pk), h, before)


# ---------------------------------------------------------------------------------------
# Phone spot-check and report


def test_the_witness_records_a_call(handover, people, login):
    h = advance_to(handover, State.SPOT_CHECK)
    hc = h.clients.filter(in_sample=True).first()
    before = version(h)
    data = {"result": CallResult.CONFIRMED, "note": ""}
    assert_done(post(login(people.witness), "phone_check_record", h, hc.pk, **data), h, before)
    assert hc.phone_checks.get().result == CallResult.CONFIRMED


def test_the_departing_person_cannot_record_a_call(handover, people, login):
    h = advance_to(handover, State.SPOT_CHECK)
    hc = h.clients.filter(in_sample=True).first()
    before = version(h)
    data = {"result": CallResult.CONFIRMED, "note": ""}
    assert_refused(post(login(people.departing), "phone_check_record", h, hc.pk, **data), h, before)
    assert not hc.phone_checks.exists()


def test_the_departing_person_writes_the_report(handover, people, login):
    h = advance_to(handover, State.REPORT)
    before = version(h)
    data = {"summary": "全部交接完毕", "open_risks": "一笔逾期", "advice": "先跟进A类"}
    response = post(login(people.departing), "report_update", h, **data)
    assert_done(response, h, before)
    assert response.url.endswith("#report")
    h.report.refresh_from_db()
    assert (h.report.summary, h.report.open_risks, h.report.advice) == ("全部交接完毕", "一笔逾期", "先跟进A类")


def test_the_supervisor_cannot_write_the_report(handover, people, login):
    h = advance_to(handover, State.REPORT)
    summary = h.report.summary
    before = version(h)
    assert_refused(post(login(people.supervisor), "report_update", h, summary="改写"), h, before)
    h.report.refresh_from_db()
    assert h.report.summary == summary


# ---------------------------------------------------------------------------------------
# Transitions


def test_the_departing_person_submits_a_complete_plan(handover, people, login):
    do_stage_work(handover)
    before = version(handover)
    assert_done(post(login(people.departing), "transition", handover, "submit_plan"), handover, before)
    assert Handover.objects.get(pk=handover.pk).state == State.PLAN_REVIEW


def test_an_incomplete_plan_is_refused_with_what_is_missing(handover, people, login):
    before = version(handover)
    assert_refused(post(login(people.departing), "transition", handover, "submit_plan"), handover, before)
    assert Handover.objects.get(pk=handover.pk).state == State.PLAN


def test_the_receiver_cannot_submit_the_plan(handover, people, login):
    do_stage_work(handover)
    before = version(handover)
    assert_refused(post(login(people.receiver), "transition", handover, "submit_plan"), handover, before)
    assert Handover.objects.get(pk=handover.pk).state == State.PLAN


def test_a_double_clicked_submit_moves_the_handover_once(handover, people, login):
    do_stage_work(handover)
    browser = login(people.departing)
    url = reverse("handover:transition", args=[handover.pk, "submit_plan"])
    data = {"version": version(handover)}
    first, second = send(browser, url, data), send(browser, url, data)
    assert [level for level, _ in messages_of(first)] == [SUCCESS]
    assert messages_of(second) == [(ERROR, conflict_text(handover))]
    assert Handover.objects.get(pk=handover.pk).state == State.PLAN_REVIEW
    assert Event.objects.filter(handover=handover, kind="transition").count() == 1


def test_two_people_at_once_get_one_success_and_one_conflict(handover, people, login):
    h = advance_to(handover, State.PLAN_REVIEW)
    seen = version(h)  # both pages were loaded at this version
    signed = {"method": "typed", "typed_name": people.supervisor.full_name, "password": DEFAULT_PASSWORD}
    approve = send(
        login(people.supervisor),
        reverse("handover:transition", args=[h.pk, "approve_plan_review"]),
        {"version": seen, **signed},
    )
    assert [level for level, _ in messages_of(approve)] == [SUCCESS]
    cancel = send(
        login(people.hr), reverse("handover:transition", args=[h.pk, "cancel"]), {"version": seen, "comment": "撤回"}
    )
    assert messages_of(cancel) == [(ERROR, conflict_text(h))]
    assert Handover.objects.get(pk=h.pk).state == State.PLAN_APPROVAL


def test_a_return_needs_a_reason(handover, people, login):
    h = advance_to(handover, State.PLAN_REVIEW)
    before = version(h)
    assert_refused(post(login(people.supervisor), "transition", h, "return_plan_review", comment=""), h, before)
    assert Handover.objects.get(pk=h.pk).state == State.PLAN_REVIEW


def test_a_return_with_a_reason_goes_back_to_the_departing_person(handover, people, login):
    h = advance_to(handover, State.PLAN_REVIEW)
    before = version(h)
    response = post(login(people.supervisor), "transition", h, "return_plan_review", comment="风险写得太笼统")
    assert_done(response, h, before)
    h = Handover.objects.get(pk=h.pk)
    assert (h.state, h.last_return_reason) == (State.PLAN, "风险写得太笼统")
    content = login(people.departing).get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert "风险写得太笼统" in content


def test_the_departing_person_cannot_approve_their_own_plan(handover, people, login):
    h = advance_to(handover, State.PLAN_REVIEW)
    before = version(h)
    assert_refused(post(login(people.departing), "transition", h, "approve_plan_review"), h, before)


def test_an_unknown_step_is_a_404(handover, people, login):
    response = post(login(people.departing), "transition", handover, "delete_everything")
    assert response.status_code == 404


# ---------------------------------------------------------------------------------------
# Someone who may not see the handover gets a 404 from every action, and nothing changes


def _action_urls(h: Handover) -> list[tuple[str, dict]]:
    hc = h.clients.first()
    item = h.items.first()
    return [
        (reverse("handover:transition", args=[h.pk, "cancel"]), {"comment": "x"}),
        (reverse("handover:plan_update", args=[h.pk, hc.pk]), PLAN),
        (reverse("handover:receiver_set", args=[h.pk]), {"handover_client": hc.pk, "receiver": hc.receiver_id}),
        (reverse("handover:item_hand_over", args=[h.pk, item.pk]), {}),
        (reverse("handover:items_hand_over_all", args=[h.pk]), {}),
        (reverse("handover:item_confirm", args=[h.pk, item.pk]), {}),
        (reverse("handover:items_confirm_all", args=[h.pk]), {}),
        (reverse("handover:item_dispute", args=[h.pk, item.pk]), {"reason": "x"}),
        (reverse("handover:visit_record", args=[h.pk, hc.pk]), visit_data()),
        (reverse("handover:phone_check_record", args=[h.pk, hc.pk]), {"result": "confirmed"}),
        (reverse("handover:report_update", args=[h.pk]), {"summary": "x"}),
    ]


@pytest.mark.parametrize("who", ["other_sales", "other_supervisor"])
def test_every_action_is_a_404_for_someone_who_may_not_see_the_handover(handover, people, login, who):
    browser = login(getattr(people, who))
    before = version(handover)
    for url, data in _action_urls(handover):
        assert browser.post(url, {**data, "version": before}).status_code == 404, url
    assert (
        browser.get(reverse("handover:item_dispute", args=[handover.pk, handover.items.first().pk])).status_code == 404
    )
    assert version(handover) == before


def test_an_item_of_another_handover_is_a_404(start, handover, people, login):
    colleague = UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES])
    ClientFactory(owner=colleague)
    other = start(departing=colleague)
    foreign_item = ChecklistItem.objects.filter(handover=other).first()
    response = post(login(people.departing), "item_hand_over", handover, foreign_item.pk)
    assert response.status_code == 404


def test_actions_answer_only_post(handover, people, login):
    response = login(people.departing).get(reverse("handover:items_hand_over_all", args=[handover.pk]))
    assert response.status_code == 405
