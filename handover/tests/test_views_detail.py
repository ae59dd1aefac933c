"""The handover page: who sees it, what it shows, which forms each person gets, and its query count."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.tests.factories import ClientFactory, ContactFactory, ContractFactory, OpportunityFactory
from handover import services
from handover.models import CallResult, ChecklistItem, Handover, ItemStatus, State
from handover.tests.risk_helpers import calm
from tests.walk import advance_to, do_stage_work


def url(h, tab: str = "") -> str:
    return reverse("handover:detail", args=[h.pk]) + (f"?tab={tab}" if tab else "")


def stage_status(content: str) -> dict[str, str]:
    return dict(re.findall(r'data-stage="(\w+)" data-status="(\w+)"', content))


def steps(content: str) -> list[str]:
    return re.findall(r'class="step[^"]*" data-step="(\w+)"', content)


@pytest.mark.parametrize("who", ["departing", "receiver", "supervisor", "witness", "manager", "hr"])
def test_every_party_and_hr_see_the_page(handover, people, login, who):
    response = login(getattr(people, who)).get(url(handover))
    assert response.status_code == 200
    assert handover.number in response.content.decode()


@pytest.mark.parametrize("who", ["other_sales", "other_supervisor", "admin"])
def test_it_is_a_404_for_everyone_else(handover, people, login, who):
    assert login(getattr(people, who)).get(url(handover)).status_code == 404


def test_a_department_head_sees_their_departments_handovers(handover, people, login):
    head = UserFactory(department=people.east, roles=[Role.SUPERVISOR])
    people.east.head = head
    people.east.save()
    assert login(head).get(url(handover)).status_code == 200


def test_a_receiver_of_one_client_sees_the_handover(handover, people, receiver2, login):
    assert login(receiver2).get(url(handover)).status_code == 404
    hc = handover.clients.first()
    services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    assert login(receiver2).get(url(handover)).status_code == 200


def test_the_header_shows_the_five_people_and_the_dates(handover, people, login):
    content = login(people.witness).get(url(handover)).content.decode()
    for person in (people.departing, people.receiver, people.supervisor, people.witness, people.manager):
        assert person.full_name in content
    assert f"{handover.last_working_day:%Y-%m-%d}" in content
    due = handover.deadlines.get(state=State.PLAN).due_on
    assert f'id="stage-due">{due:%Y-%m-%d}' in content


def test_the_progress_bar_marks_where_the_handover_stands(handover, people, login):
    browser = login(people.departing)
    assert stage_status(browser.get(url(handover)).content.decode()) == {
        "plan": "current",
        "materials": "todo",
        "visits": "todo",
        "spot_check": "todo",
        "report": "todo",
        "completed": "todo",
    }
    h = advance_to(handover, State.MATERIALS_REVIEW)
    bar = stage_status(browser.get(url(h)).content.decode())
    assert bar["plan"] == "done" and bar["materials"] == "current" and bar["visits"] == "todo"


def test_a_return_shows_its_reason_to_the_departing_person(handover, people, login):
    h = advance_to(handover, State.PLAN_REVIEW)
    services.handover_transition(
        handover=h, name="return_plan_review", user=people.supervisor, comment="风险一栏太笼统"
    )
    content = login(people.departing).get(url(h)).content.decode()
    assert 'id="return-reason"' in content and "alert-danger" in content
    assert "风险一栏太笼统" in content
    assert stage_status(content)["plan"] == "returned"
    # The reason is shown in the timeline, too, with the move it caused.
    timeline = login(people.departing).get(url(h, "timeline")).content.decode()
    assert 'data-kind="return_plan_review"' in timeline


def test_a_cancelled_handover_shows_where_and_why(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    services.handover_transition(handover=h, name="cancel", user=people.hr, comment="员工撤回离职申请")
    content = login(people.departing).get(url(h)).content.decode()
    assert 'id="cancel-reason"' in content and "员工撤回离职申请" in content
    bar = stage_status(content)
    assert bar["plan"] == "done" and bar["materials"] == "cancelled" and bar["visits"] == "todo"
    assert steps(content) == []


def test_the_checklist_is_grouped_by_receiver_and_client(handover, people, receiver2, login):
    hc = handover.clients.select_related("client").first()
    services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    content = login(people.supervisor).get(url(handover, "materials")).content.decode()
    groups = re.findall(r'class="card mb-3 receiver-group" data-receiver="(\d+)"', content)
    assert groups == [str(people.receiver.pk), str(receiver2.pk)]
    assert content.count('class="client-block"') == 10
    # The reassigned client sits in receiver2's group.
    assert content.index(f'data-receiver="{receiver2.pk}"') < content.index(f'id="client-{hc.pk}"')
    for item in handover.items.all():
        assert f'id="item-{item.pk}"' in content
    assert 'id="other-items"' in content


def test_the_timeline_lists_every_event_in_order(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    content = login(people.receiver).get(url(h, "timeline")).content.decode()
    kinds = re.findall(r'data-kind="(\w+)"', content)
    # Newest first.
    assert kinds[-1] == "started"
    assert kinds.count("plan_updated") == 10
    assert kinds[:3] == ["approve_plan", "approve_plan_review", "submit_plan"]
    assert len(kinds) == h.events.count()


# ---------------------------------------------------------------------------------------
# The forms each person gets


def test_at_plan_the_departing_person_edits_the_plan_and_others_do_not(handover, people, login):
    hc = handover.clients.first()
    plan_url = reverse("handover:plan_rows", args=[handover.pk])
    content = login(people.departing).get(url(handover)).content.decode()
    assert plan_url in content and f'name="s-{hc.pk}"' in content
    assert 'id="receivers-bulk"' in content
    assert steps(content) == ["submit_plan"]
    assert 'class="step step-blocked" data-step="submit_plan"' in content
    content = login(people.receiver).get(url(handover)).content.decode()
    assert plan_url not in content and 'id="receivers-bulk"' not in content
    assert f'name="s-{hc.pk}"' not in content
    assert 'id="nothing-to-do"' in content
    content = login(people.supervisor).get(url(handover)).content.decode()
    assert plan_url not in content and 'id="receivers-bulk"' in content


def test_a_complete_plan_can_be_submitted(handover, people, login):
    do_stage_work(handover)
    content = login(people.departing).get(url(handover)).content.decode()
    assert reverse("handover:transition", args=[handover.pk, "submit_plan"]) in content
    assert 'class="step" data-step="submit_plan"' in content


def test_at_review_the_supervisor_gets_approve_and_return(handover, people, login):
    h = advance_to(handover, State.PLAN_REVIEW)
    content = login(people.supervisor).get(url(h)).content.decode()
    assert steps(content) == ["approve_plan_review", "return_plan_review"]
    assert 'name="comment"' in content
    assert steps(login(people.departing).get(url(h)).content.decode()) == []


def test_hr_and_the_manager_may_cancel(handover, people, login):
    assert steps(login(people.hr).get(url(handover)).content.decode()) == ["cancel"]
    assert steps(login(people.manager).get(url(handover)).content.decode()) == ["cancel"]


def test_at_materials_each_person_gets_their_buttons(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    item = h.items.first()
    hand_over = reverse("handover:item_hand_over", args=[h.pk, item.pk])
    confirm = reverse("handover:item_confirm", args=[h.pk, item.pk])
    dispute = reverse("handover:item_dispute", args=[h.pk, item.pk])
    content = login(people.departing).get(url(h)).content.decode()
    assert hand_over in content and 'id="hand-over-all"' in content
    assert confirm not in content
    services.items_hand_over_all(handover=h, user=people.departing)
    content = login(people.receiver).get(url(h)).content.decode()
    assert confirm in content and dispute in content and 'id="confirm-all"' in content
    content = login(people.witness).get(url(h)).content.decode()
    assert confirm not in content and hand_over not in content and 'id="confirm-all"' not in content


def test_a_dispute_reason_is_shown_on_the_item(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    item = h.items.first()
    services.item_dispute(item=item, user=people.receiver, reason="合同原件缺第3页")
    content = login(people.departing).get(url(h)).content.decode()
    assert "合同原件缺第3页" in content
    assert f'id="item-{item.pk}" class="item" data-status="disputed"' in content
    # A disputed item can be handed over again.
    assert reverse("handover:item_hand_over", args=[h.pk, item.pk]) in content


def test_at_visits_the_salespeople_record_and_confirm(handover, people, login):
    h = advance_to(handover, State.VISITS)
    hc = h.clients.first()
    # The visits grid: the two salespeople record there, the supervisor reads.
    record = reverse("handover:visits_save", args=[h.pk])
    row = f'name="v-{hc.pk}-outcome"'
    for who in (people.departing, people.receiver):
        content = login(who).get(url(h)).content.decode()
        assert record in content and row in content
    content = login(people.supervisor).get(url(h)).content.decode()
    assert record not in content and row not in content
    visit = services.visit_record(
        handover_client=hc,
        user=people.departing,
        visited_on=timezone.localdate(),
        mode="in_person",
        contact_met="王采购",
        outcome="介绍了新对接人",
    )
    confirm = f'id="confirm-visit-{visit.pk}"'
    assert confirm in login(people.receiver).get(url(h)).content.decode()
    assert confirm not in login(people.departing).get(url(h)).content.decode()


def test_at_spot_check_the_witness_sees_the_phones_of_the_sampled_clients(handover, people, login):
    calm(handover)
    h = advance_to(handover, State.SPOT_CHECK)
    sampled = list(h.clients.filter(in_sample=True).select_related("client"))
    others = list(h.clients.filter(in_sample=False).select_related("client"))
    content = login(people.witness).get(url(h)).content.decode()
    # The call list: the sample only, each contact's phone a tel: link.
    assert reverse("handover:calls_save", args=[h.pk]) in content
    for hc in sampled:
        assert f'id="calls-client-{hc.pk}"' in content
        for contact in hc.client.contacts.all():
            assert f'href="tel:{contact.phone}"' in content
    for hc in others:
        assert f'id="calls-client-{hc.pk}"' not in content
    assert steps(content) == ["finish_spot_check"]
    assert 'class="step step-blocked" data-step="finish_spot_check"' in content
    content = login(people.departing).get(url(h)).content.decode()
    assert "phone-check" not in content


def test_a_client_who_was_unaware_lets_the_witness_return_to_visits(handover, people, login):
    h = advance_to(handover, State.SPOT_CHECK)
    do_stage_work(h)
    hc = h.clients.filter(in_sample=True).first()
    services.phone_check_record(handover_client=hc, user=people.witness, result=CallResult.UNAWARE, note="不知情")
    content = login(people.witness).get(url(h)).content.decode()
    assert steps(content) == ["finish_spot_check", "return_spot_check"]
    assert 'class="step step-blocked" data-step="finish_spot_check"' in content
    assert 'class="step step-reason" data-step="return_spot_check"' in content


def test_at_report_the_departing_person_writes_it_with_live_figures(handover, people, login):
    h = advance_to(handover, State.REPORT)
    content = login(people.departing).get(url(h)).content.decode()
    assert 'id="report-form"' in content and 'id="figures"' in content
    assert reverse("handover:report_update", args=[h.pk]) in content
    content = login(people.supervisor).get(url(h)).content.decode()
    assert 'id="report-form"' not in content
    h = advance_to(h, State.REPORT_REVIEW)
    content = login(people.supervisor).get(url(h)).content.decode()
    assert 'id="report-form"' not in content and 'id="figures"' in content
    assert h.report.summary in content


def test_a_completed_handover_shows_every_stage_done(handover, people, login):
    h = advance_to(handover, State.COMPLETED)
    content = login(people.receiver).get(url(h)).content.decode()
    assert set(stage_status(content).values()) == {"done"}
    assert steps(content) == []


# ---------------------------------------------------------------------------------------
# The query count does not grow with the number of clients


def _handover_with(people, n: int) -> Handover:
    departing = UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES])
    for i in range(n):
        client = ClientFactory(owner=departing, grade="A" if i % 5 == 0 else "B")
        ContactFactory(client=client)
        ContractFactory(client=client)
        OpportunityFactory(client=client)
    today = timezone.localdate()
    return services.handover_start(
        started_by=people.hr,
        departing=departing,
        receiver=people.receiver,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=today,
        last_working_day=today + datetime.timedelta(days=30),
    )


def _queries(client, h) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url(h)).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("state", "viewer"),
    [
        (State.PLAN, "departing"),
        (State.PLAN, "supervisor"),
        (State.MATERIALS, "departing"),
        (State.MATERIALS, "receiver"),
        (State.VISITS, "departing"),
        (State.VISITS_REVIEW, "supervisor"),
        (State.SPOT_CHECK, "witness"),
        (State.REPORT, "departing"),
        (State.REPORT_APPROVAL, "manager"),
    ],
)
def test_the_query_count_does_not_grow_with_the_clients(people, client, state, viewer):
    small, large = _handover_with(people, 5), _handover_with(people, 25)
    small, large = advance_to(small, state), advance_to(large, state)
    if state == State.MATERIALS:
        for h in (small, large):
            services.items_hand_over_all(handover=h, user=h.departing)
    counts = []
    for h in (small, large):
        user = h.departing if viewer == "departing" else getattr(people, viewer)
        client.force_login(user)
        _queries(client, h)  # warm up: per-process caches are not the page's
        counts.append(_queries(client, h))
    assert counts[0] == counts[1]
    limit = 20 if (state, viewer) == (State.REPORT, "departing") else 15
    if state == State.PLAN:
        limit += 1  # the plan shows each client's relationship risk: one query (selectors/risk.py)
    assert counts[1] <= limit


def test_items_waiting_for_the_receiver_do_not_cost_queries_each(handover, people, client):
    h = advance_to(handover, State.MATERIALS)
    client.force_login(people.receiver)
    before = _queries(client, h)
    services.items_hand_over_all(handover=h, user=people.departing)
    assert h.items.filter(status=ItemStatus.HANDED_OVER).count() > 10
    assert _queries(client, h) == before


def test_data_shown_in_the_rows_is_escaped(handover, people, login):
    item = ChecklistItem.objects.filter(handover=handover).first()
    ChecklistItem.objects.filter(pk=item.pk).update(title="<script>alert(1)</script>", description="a & b")
    h = advance_to(handover, State.PLAN_REVIEW)
    services.handover_transition(
        handover=h, name="return_plan_review", user=people.supervisor, comment="<b>不</b>\n第二行"
    )
    content = login(people.departing).get(url(h, "materials")).content.decode()
    assert "<script>alert(1)</script>" not in content and "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "a &amp; b" in content
    assert "<b>不</b>" not in content and "&lt;b&gt;不&lt;/b&gt;<br>第二行" in content
