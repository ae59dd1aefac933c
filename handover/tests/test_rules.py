"""Each rule that is needed both as a queryset filter and over loaded rows: the two forms agree."""

import datetime
import itertools
import random

import pytest
from django.utils import timezone

from handover import models, rules
from handover.models import ChecklistItem, HandoverClient, ItemStatus, Visit, VisitMode

VISIT_SHAPES = list(itertools.product([False, True], [False, True], [False, True], VisitMode.values))


def _visit(hc: HandoverClient, user, *, superseded: bool, departing: bool, receiver: bool, mode: str) -> Visit:
    now = timezone.now()
    return Visit.objects.create(
        handover_client=hc,
        visited_on=timezone.localdate() - datetime.timedelta(days=1),
        mode=mode,
        contact_met="采购负责人",
        outcome="已介绍新对接人",
        recorded_by=user,
        departing_confirmed_at=now if departing else None,
        receiver_confirmed_at=now if receiver else None,
        superseded=superseded,
    )


def _covered_in_memory() -> set[int]:
    return {
        v.pk for v in Visit.objects.select_related("handover_client") if rules.visit_covers(v, v.handover_client.grade)
    }


def test_a_visit_covers_its_client_alike_in_the_database_and_in_memory(handover, people):
    # Every shape of visit, for a client of each grade.
    by_grade = {hc.grade: hc for hc in handover.clients.all()}
    assert set(by_grade) == {"A", "B", "C"}
    for hc in by_grade.values():
        for superseded, departing, receiver, mode in VISIT_SHAPES:
            _visit(hc, people.departing, superseded=superseded, departing=departing, receiver=receiver, mode=mode)
    covered = set(Visit.objects.filter(rules.VISIT_COVERS).values_list("pk", flat=True))
    assert covered == _covered_in_memory()
    # The rule bites: per grade, only the confirmed, current visits count, and for A only in person.
    assert Visit.objects.filter(pk__in=covered, handover_client__grade="A").count() == 1
    assert Visit.objects.filter(pk__in=covered, handover_client__grade="B").count() == 2


@pytest.mark.parametrize("seed", range(5))
def test_the_clients_left_to_visit_are_the_same_counted_either_way(handover, people, seed):
    rnd = random.Random(seed)
    for hc in handover.clients.all():
        for _ in range(rnd.randrange(3)):
            superseded, departing, receiver, mode = rnd.choice(VISIT_SHAPES)
            _visit(hc, people.departing, superseded=superseded, departing=departing, receiver=receiver, mode=mode)
    h = models.Handover.objects.get(pk=handover.pk)
    in_db = [hc.pk for hc in h.visit_gaps()]
    in_memory = [hc.pk for hc in rules.visit_gaps(h.clients.all(), list(Visit.objects.all()))]
    assert in_db == in_memory
    assert models.every_client_visited(h) == (in_memory == [])


@pytest.mark.parametrize("seed", range(5))
def test_the_items_left_to_confirm_are_the_same_counted_either_way(handover, seed):
    rnd = random.Random(seed)
    for item in handover.items.all():
        ChecklistItem.objects.filter(pk=item.pk).update(status=rnd.choice(ItemStatus.values))
    rows = list(ChecklistItem.objects.filter(handover=handover).values("pk", "status"))
    in_db = set(
        ChecklistItem.objects.filter(handover=handover).exclude(rules.ITEM_CONFIRMED).values_list("pk", flat=True)
    )
    assert in_db == {i["pk"] for i in rules.unconfirmed_items(rows)}
    assert models.every_item_confirmed(handover) == (not in_db)


def test_every_item_confirmed_holds_only_when_each_one_is(handover):
    handover.items.update(status=ItemStatus.CONFIRMED)
    assert models.every_item_confirmed(handover)
    assert rules.unconfirmed_items(list(handover.items.values("pk", "status"))) == []
    item = handover.items.first()
    ChecklistItem.objects.filter(pk=item.pk).update(status=ItemStatus.HANDED_OVER)
    assert not models.every_item_confirmed(handover)
    assert [i["pk"] for i in rules.unconfirmed_items(list(handover.items.values("pk", "status")))] == [item.pk]


def test_a_plan_is_complete_only_with_every_part_written(handover):
    hc = handover.clients.first()
    hc.current_status, hc.risks, hc.next_steps = "正常", "无", "共同拜访"
    hc.planned_visit_on = timezone.localdate()
    hc.prefilled = ["risks"]  # filled in from the book and not yet confirmed
    assert not rules.plan_complete(hc)
    hc.prefilled = []
    assert rules.plan_complete(hc)
    for field, blank in [("current_status", "  "), ("risks", ""), ("next_steps", "\n"), ("planned_visit_on", None)]:
        saved = getattr(hc, field)
        setattr(hc, field, blank)
        assert not rules.plan_complete(hc), field
        setattr(hc, field, saved)
