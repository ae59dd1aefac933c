"""The flowchart, walked by the people in it, and refused to everyone else."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import Client, OwnershipChange
from handover import selectors, services
from handover.models import (
    APPROVAL_SIGNATURES,
    TRANSITIONS,
    CallResult,
    Event,
    Handover,
    ItemStatus,
    SignaturePurpose,
    State,
    Visit,
)
from handover.tests.risk_helpers import calm
from tests.walk import advance_to, do_stage_work, sign_missing, signature_of

# transition -> (the state it leaves, who may run it)
MATRIX = {
    "submit_plan": (State.PLAN, {"departing"}),
    "approve_plan_review": (State.PLAN_REVIEW, {"supervisor"}),
    "return_plan_review": (State.PLAN_REVIEW, {"supervisor"}),
    "approve_plan": (State.PLAN_APPROVAL, {"manager"}),
    "return_plan": (State.PLAN_APPROVAL, {"manager"}),
    "submit_materials": (State.MATERIALS, {"departing"}),
    "approve_materials": (State.MATERIALS_REVIEW, {"supervisor"}),
    "return_materials": (State.MATERIALS_REVIEW, {"supervisor"}),
    "submit_visits": (State.VISITS, {"departing"}),
    "approve_visits": (State.VISITS_REVIEW, {"supervisor"}),
    "return_visits": (State.VISITS_REVIEW, {"supervisor"}),
    "finish_spot_check": (State.SPOT_CHECK, {"witness"}),
    "return_spot_check": (State.SPOT_CHECK, {"witness"}),
    "submit_report": (State.REPORT, {"departing"}),
    "approve_report_review": (State.REPORT_REVIEW, {"supervisor"}),
    "return_report_review": (State.REPORT_REVIEW, {"supervisor"}),
    "approve_report": (State.REPORT_APPROVAL, {"manager"}),
    "return_report": (State.REPORT_APPROVAL, {"manager"}),
    "cancel": (State.MATERIALS, {"manager", "hr"}),
}
ROLES = ["departing", "receiver", "supervisor", "witness", "manager", "hr", "other_sales"]


def test_the_matrix_names_every_transition():
    assert set(MATRIX) == set(TRANSITIONS)


def _ready(h: Handover, name: str) -> Handover:
    """Put the handover where `name` may run, with its conditions met."""
    source, _roles = MATRIX[name]
    h = advance_to(h, source)
    do_stage_work(h)
    if name == "return_spot_check":
        hc = h.clients.filter(in_sample=True).first()
        hc.phone_checks.all().delete()
        services.phone_check_record(handover_client=hc, user=h.witness, result=CallResult.UNAWARE, note="客户不知情")
    return Handover.objects.get(pk=h.pk)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_transition_matrix(handover, people, name, role):
    h = _ready(handover, name)
    source, allowed = MATRIX[name]
    user = getattr(people, role)
    before = h.version
    if role in allowed:
        # An approval carries the approver's signature, given in the same call.
        signature = signature_of(user) if name in APPROVAL_SIGNATURES else None
        h = services.handover_transition(
            handover=h, name=name, user=user, comment="理由：资料不全", signature=signature
        )
        assert h.state != source
        assert Event.objects.filter(handover=h, kind="transition", data__name=name, actor=user).exists()
    else:
        assert name not in selectors.transitions_for(h, user)
        with pytest.raises(services.NotAllowed):
            services.handover_transition(handover=h, name=name, user=user, comment="理由")
        h.refresh_from_db()
        assert (h.state, h.version) == (source, before)


def test_the_whole_procedure_moves_every_client_to_its_receiver(handover, people, receiver2, book):
    split = handover.clients.get(client=book[3])
    services.handover_client_set_receiver(handover_client=split, user=people.departing, receiver=receiver2)
    h = advance_to(handover, State.COMPLETED)
    assert h.state == State.COMPLETED and h.completed_at
    owners = dict(Client.objects.filter(pk__in=[c.pk for c in book]).values_list("pk", "owner"))
    assert owners.pop(book[3].pk) == receiver2.pk
    assert set(owners.values()) == {people.receiver.pk}
    assert OwnershipChange.objects.filter(from_owner=people.departing).count() == 10
    assert not Client.objects.filter(owner=people.departing).exists()
    report = h.report
    assert report.figures["clients"] == 10 and report.figures["contracts"] == 10
    assert report.figures["outstanding"] == "300000.00"


def test_every_return_needs_a_reason_and_shows_it(handover, people):
    h = _ready(handover, "return_plan_review")
    with pytest.raises(services.InvalidInput):
        services.handover_transition(handover=h, name="return_plan_review", user=people.supervisor, comment="  ")
    h = services.handover_transition(
        handover=h, name="return_plan_review", user=people.supervisor, comment="A类客户风险写得太简单"
    )
    assert h.state == State.PLAN
    assert h.last_return_reason == "A类客户风险写得太简单"


def test_plan_cannot_be_submitted_incomplete(handover, people):
    with pytest.raises(services.InvalidInput) as exc:
        services.handover_transition(handover=handover, name="submit_plan", user=people.departing)
    assert "10" in exc.value.message
    assert Handover.objects.get(pk=handover.pk).state == State.PLAN


def test_materials_cannot_be_submitted_with_an_unconfirmed_item(handover, people):
    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    item = h.items.first()
    services.item_dispute(item=item, user=people.receiver, reason="合同原件缺失")
    services.items_confirm_all(handover=h, user=people.receiver)
    with pytest.raises(services.InvalidInput):
        services.handover_transition(handover=h, name="submit_materials", user=people.departing)
    services.item_hand_over(item=item, user=people.departing, note="原件已补交")
    services.item_confirm(item=item, user=people.receiver)
    sign_missing(h, SignaturePurpose.MATERIALS_RECEIPT)
    h = services.handover_transition(handover=h, name="submit_materials", user=people.departing)
    assert h.state == State.MATERIALS_REVIEW


def test_only_the_items_receiver_may_confirm_or_dispute(handover, people):
    h = advance_to(handover, State.MATERIALS)
    item = h.items.first()
    services.item_hand_over(item=item, user=people.departing)
    for who in ("departing", "supervisor", "other_sales", "witness"):
        with pytest.raises(services.NotAllowed):
            services.item_confirm(item=item, user=getattr(people, who))
        with pytest.raises(services.NotAllowed):
            services.item_dispute(item=item, user=getattr(people, who), reason="x")
    item.refresh_from_db()
    assert item.status == ItemStatus.HANDED_OVER


def test_a_dispute_needs_a_reason(handover, people):
    h = advance_to(handover, State.MATERIALS)
    item = h.items.first()
    services.item_hand_over(item=item, user=people.departing)
    with pytest.raises(services.InvalidInput):
        services.item_dispute(item=item, user=people.receiver, reason="")


def test_visits_cannot_be_submitted_with_an_uncovered_client(handover, people, book):
    h = advance_to(handover, State.VISITS)
    do_stage_work(h)
    Visit.objects.filter(handover_client__client=book[5]).update(receiver_confirmed_at=None)
    with pytest.raises(services.InvalidInput):
        services.handover_transition(handover=h, name="submit_visits", user=people.departing)


def test_an_a_client_must_be_visited_in_person(handover, people, book):
    h = advance_to(handover, State.VISITS)
    do_stage_work(h)
    Visit.objects.filter(handover_client__client=book[0]).update(mode="joint_call")
    assert [hc.client for hc in h.visit_gaps()] == [book[0]]
    with pytest.raises(services.InvalidInput):
        services.handover_transition(handover=h, name="submit_visits", user=people.departing)


def test_a_client_unaware_sends_that_client_back_to_visits(handover, people):
    h = _ready(handover, "return_spot_check")
    unaware = h.spot_check_outcome()[1]
    assert len(unaware) == 1
    h = services.handover_transition(handover=h, name="return_spot_check", user=people.witness, comment="客户不知情")
    assert h.state == State.VISITS
    assert [hc.pk for hc in h.visit_gaps()] == [unaware[0].pk]
    h = advance_to(h, State.SPOT_CHECK)
    pending, still_unaware = h.spot_check_outcome()
    assert [hc.pk for hc in pending] == [unaware[0].pk] and not still_unaware
    h = advance_to(h, State.REPORT)


def test_the_sample_takes_every_a_client_and_a_share_of_the_others(handover):
    calm(handover)  # no client below A at high risk: those would all be drawn
    h = advance_to(handover, State.SPOT_CHECK)
    sampled = list(h.clients.filter(in_sample=True))
    assert {hc.grade for hc in sampled if hc.grade == "A"} == {"A"}
    assert sum(hc.grade == "A" for hc in sampled) == 2
    assert sum(hc.grade != "A" for hc in sampled) == 3  # 20% of 8 is 2, at least 3
    assert h.sample_seed is not None
    # The stored seed reproduces the draw, so it can be audited.
    assert services.draw_sample(list(h.clients.all()), h.sample_seed) == {hc.pk for hc in sampled}


@pytest.mark.parametrize(("others", "expected"), [(0, 0), (2, 2), (3, 3), (10, 3), (15, 3), (16, 4), (100, 20)])
def test_sample_size(others, expected):
    assert services.sample_size(others) == expected


def test_completion_is_all_or_nothing(handover, people, book, monkeypatch):
    h = _ready(handover, "approve_report")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(OwnershipChange.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        services.handover_transition(
            handover=h, name="approve_report", user=people.manager, signature=signature_of(people.manager)
        )
    assert Client.objects.filter(owner=people.departing).count() == 10
    assert Handover.objects.get(pk=h.pk).state == State.REPORT_APPROVAL


def test_completion_statements_do_not_grow_with_clients(handover, people, receiver2):
    h = _ready(handover, "approve_report")
    with CaptureQueriesContext(connection) as ctx:
        services.handover_transition(
            handover=h, name="approve_report", user=people.manager, signature=signature_of(people.manager)
        )
    # Checking the signatures reads a fixed set of rows (signatures, clients, items, visits, calls, report);
    # the clients' receivables at completion are kept in one statement (services.completion.snapshot_receivables);
    # three ask which systems subscribe to the stage change, the completion and the changes of hands.
    assert len(ctx.captured_queries) < 34


def test_a_stale_page_gets_a_conflict_not_a_second_action(handover, people):
    h = _ready(handover, "submit_plan")
    version = h.version
    services.handover_transition(handover=h, name="submit_plan", user=people.departing, expected_version=version)
    with pytest.raises(services.Conflict):
        services.handover_transition(handover=h, name="submit_plan", user=people.departing, expected_version=version)
    # Without a version the second click finds the state already moved.
    with pytest.raises(services.WrongState):
        services.handover_transition(handover=h, name="submit_plan", user=people.departing)
    assert Event.objects.filter(handover=h, data__name="submit_plan").count() == 1


def test_two_people_acting_on_the_same_loaded_handover(handover, people):
    h = _ready(handover, "approve_plan_review")
    first = Handover.objects.get(pk=h.pk)
    second = Handover.objects.get(pk=h.pk)
    # HR cancels while the supervisor sends the plan back.
    first.cancel(reason="撤回离职")
    first.save()
    second.return_plan_review(reason="x")
    from django_fsm import ConcurrentTransition

    with pytest.raises(ConcurrentTransition):
        second.save()


def test_cancel_needs_a_reason_and_closes_the_handover(handover, people):
    with pytest.raises(services.InvalidInput):
        services.handover_transition(handover=handover, name="cancel", user=people.hr)
    h = services.handover_transition(handover=handover, name="cancel", user=people.hr, comment="员工撤回离职申请")
    assert h.state == State.CANCELLED and h.cancel_reason == "员工撤回离职申请"
    assert Client.objects.filter(owner=people.departing).count() == 10
