"""Notices match the work (issue 11, item 10): who hears what, exactly once, with a link to the
tab and row to act on; and the manager's final approval waits for every checklist signature."""

import pytest
from django.urls import reverse
from django.utils import translation

from handover import flow, notify, services
from handover.models import Handover, HandoverClient, ItemStatus, SignaturePurpose, State
from handover.selectors import inbox_for
from notifications.models import Notification
from tests.walk import advance_to, sign_missing, signature_of


def _new(before: set[int]) -> list[Notification]:
    return list(Notification.objects.exclude(pk__in=before).order_by("pk"))


def _ids() -> set[int]:
    return set(Notification.objects.values_list("pk", flat=True))


def _zh(text) -> str:
    with translation.override("zh-hans"):
        return str(text)


def _tab(h, tab: str, anchor: str = "") -> str:
    return reverse("handover:detail", args=[h.pk]) + f"?tab={tab}" + (f"#{anchor}" if anchor else "")


@pytest.fixture
def split(handover, people, receiver2):
    """Two receivers: the first client goes to receiver2, the rest to the handover's receiver."""
    hc = HandoverClient.objects.filter(handover=handover).order_by("pk").first()
    services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    return advance_to(handover, State.MATERIALS)


def test_handing_everything_over_tells_each_receiver_once_with_the_first_row_of_theirs(split, people, receiver2):
    h = split
    mine = {
        r.pk: list(h.items.filter(receiver=r).order_by("order", "pk").values_list("pk", flat=True))
        for r in (people.receiver, receiver2)
    }
    before = _ids()

    n = services.items_hand_over_all(handover=h, user=people.departing)

    told = _new(before)
    # One notice per receiver for the one action, not one per item; the departing person acted.
    assert sorted(x.user_id for x in told) == sorted([people.receiver.pk, receiver2.pk])
    assert n == sum(len(v) for v in mine.values()) > len(told)
    for notice in told:
        pks = mine[notice.user_id]
        assert notice.url == _tab(h, "materials", f"item-{pks[0]}")
        assert str(len(pks)) in notice.title and h.number in notice.title
    assert len({x.source for x in told}) == 1


def test_the_same_event_written_twice_is_told_once(split, people):
    h = split
    before = _ids()
    services.items_hand_over_all(handover=h, user=people.departing)
    event = h.events.latest("pk")
    # A retry of the same event (the unique user/source) adds nothing.
    notify.notice_items_waiting(h, event_id=event.pk, actor=people.departing, items={people.receiver.pk: [1]})
    assert len([x for x in _new(before) if x.user_id == people.receiver.pk]) == 1


def test_a_single_item_handed_over_tells_its_receiver_only(split, people, receiver2):
    h = split
    item = h.items.filter(receiver=receiver2).first()
    before = _ids()

    services.item_hand_over(item=item, user=people.departing)

    told = _new(before)
    assert [(x.user_id, x.url) for x in told] == [(receiver2.pk, _tab(h, "materials", f"item-{item.pk}"))]


def test_a_dispute_tells_the_departing_person_with_the_items_row(split, people):
    h = split
    services.items_hand_over_all(handover=h, user=people.departing)
    item = h.items.filter(receiver=people.receiver).first()
    before = _ids()

    services.item_dispute(item=item, user=people.receiver, reason="合同原件缺第3页")

    told = _new(before)
    assert [(x.user_id, x.url) for x in told] == [(people.departing.pk, _tab(h, "materials", f"item-{item.pk}"))]
    assert "合同原件缺第3页" in told[0].body


def test_the_departing_person_hears_once_when_every_receiver_has_confirmed_and_signed(split, people, receiver2):
    h = split
    services.items_hand_over_all(handover=h, user=people.departing)
    before = _ids()
    title = _zh(flow.WORK_NOTICES["materials_confirmed"].title) % {"number": h.number, "n": 1}

    def told_departing() -> list[Notification]:
        return [x for x in _new(before) if x.user_id == people.departing.pk]

    services.items_confirm_all(handover=h, user=people.receiver)
    services.items_confirm_all(handover=h, user=receiver2)
    # Confirmed, but the receipts are not signed: the departing person cannot submit yet.
    assert told_departing() == []
    services.handover_sign(
        handover=h,
        user=people.receiver,
        purpose=SignaturePurpose.MATERIALS_RECEIPT,
        signature=signature_of(people.receiver),
    )
    assert told_departing() == []

    services.handover_sign(
        handover=h, user=receiver2, purpose=SignaturePurpose.MATERIALS_RECEIPT, signature=signature_of(receiver2)
    )

    told = told_departing()
    assert [(x.title, x.url) for x in told] == [(title, _tab(h, "materials"))]


def _to_report_approval(handover, people) -> Handover:
    h = advance_to(handover, State.REPORT_REVIEW)
    before = _ids()
    services.handover_transition(
        handover=h, name="approve_report_review", user=people.supervisor, signature=signature_of(people.supervisor)
    )
    return Handover.objects.get(pk=h.pk), before


def test_the_checklist_signers_are_asked_to_sign_and_the_manager_waits(handover, people):
    h, before = _to_report_approval(handover, people)

    told = {x.user_id: x for x in _new(before)}

    signers = {people.departing.pk, people.receiver.pk, people.witness.pk}
    assert set(told) == signers
    for notice in told.values():
        assert notice.title == f"交接单{h.number}：请签署三方交接清单"
        assert notice.url == _tab(h, "report")
    # The manager's final approval is not theirs to do yet: not in their to-do either.
    assert h.pk not in {e.handover.pk for e in inbox_for(people.manager)}
    # The signers' to-do asks them to sign.
    for person in (people.departing, people.receiver, people.witness):
        assert any(e.handover.pk == h.pk and "签署三方交接清单" in e.action for e in inbox_for(person))


def test_the_manager_is_told_and_sees_the_todo_once_the_last_checklist_signature_is_in(handover, people):
    h, _before = _to_report_approval(handover, people)
    before = _ids()

    for person in (people.departing, people.receiver):
        services.handover_sign(
            handover=h, user=person, purpose=SignaturePurpose.CHECKLIST, signature=signature_of(person)
        )
    assert [x for x in _new(before) if x.user_id == people.manager.pk] == []
    assert h.pk not in {e.handover.pk for e in inbox_for(people.manager)}

    services.handover_sign(
        handover=h, user=people.witness, purpose=SignaturePurpose.CHECKLIST, signature=signature_of(people.witness)
    )

    told = _new(before)
    to_manager = [x for x in told if x.user_id == people.manager.pk]
    assert len(to_manager) == 1
    assert to_manager[0].url == _tab(h, "report")
    assert h.number in to_manager[0].title
    entries = [e for e in inbox_for(people.manager) if e.handover.pk == h.pk]
    assert len(entries) == 1 and entries[0].action == _zh(flow.STATES[State.REPORT_APPROVAL].todo)


def test_signatures_already_in_when_the_state_is_reached_tell_the_manager_at_once(handover, people):
    # Returned from the final approval and passed on again unchanged: the checklist still holds.
    h, _ = _to_report_approval(handover, people)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    h = Handover.objects.get(pk=h.pk)
    assert notify.signers_waited_for(h) == []
    assert people.manager.pk in notify.actors_for(h)


def test_a_transition_links_to_the_tab_of_the_state_it_reaches(handover, people):
    h = advance_to(handover, State.PLAN)
    from tests.walk import do_stage_work

    do_stage_work(h)
    before = _ids()
    services.handover_transition(handover=h, name="submit_plan", user=people.departing)
    told = _new(before)
    assert [(x.user_id, x.url) for x in told] == [(people.supervisor.pk, _tab(h, "plan"))]


def test_a_handover_pending_item_never_tells_anyone_when_nothing_was_handed_over(split, people):
    h = split
    services.items_hand_over_all(handover=h, user=people.departing)
    before = _ids()
    with pytest.raises(services.InvalidInput):
        services.items_hand_over_all(handover=h, user=people.departing)
    assert _new(before) == []
    assert not h.items.filter(status=ItemStatus.PENDING).exists()


def test_the_final_approvals_reminders_go_to_the_signers_until_the_last_has_signed(handover, people):
    import datetime

    import time_machine

    from handover.models import Reminder, ReminderKind
    from handover.reminders import reminders_scan

    h, _ = _to_report_approval(handover, people)
    due = h.deadlines.get(state=State.REPORT_APPROVAL).due_on
    shanghai = datetime.timezone(datetime.timedelta(hours=8))

    def scan(day) -> set[int]:
        with time_machine.travel(datetime.datetime.combine(day, datetime.time(9), tzinfo=shanghai), tick=False):
            reminders_scan()
        return set(
            Reminder.objects.filter(handover=h, day=day)
            .exclude(kind=ReminderKind.ESCALATION)
            .values_list("user_id", flat=True)
        )

    assert scan(due) == {people.departing.pk, people.receiver.pk, people.witness.pk}
    sign_missing(h, SignaturePurpose.CHECKLIST)
    assert scan(due + datetime.timedelta(days=1)) == {people.manager.pk}


def test_every_notice_the_spec_names_exists_and_links_to_a_tab():
    named = {t.ready for t in flow.TRANSITIONS.values() if t.ready}
    named |= {s.notice for s in flow.SIGNATURES.values() if s.notice}
    assert named <= set(flow.WORK_NOTICES)
    assert {n.tab for n in flow.WORK_NOTICES.values()} <= set(flow.TABS)
    assert {flow.tab_of(s) for s in State} <= set(flow.TABS)
    for state, spec in flow.STATES.items():
        if spec.signed_first:
            # The signatures are given in that very state, and someone is asked to give them.
            assert flow.SIGNED_AT[spec.signed_first] == state
            assert flow.SIGNATURES[spec.signed_first].notice


def test_the_departing_person_hears_once_when_every_receiver_has_signed_the_visits(handover, people):
    from tests.walk import do_stage_work

    h = advance_to(handover, State.VISITS)
    before = _ids()

    do_stage_work(h)

    title = _zh(flow.WORK_NOTICES["visits_confirmed"].title) % {"number": h.number, "n": 1}
    told = [x for x in _new(before) if x.user_id == people.departing.pk]
    assert [(x.title, x.url) for x in told] == [(title, _tab(h, "visits"))]
