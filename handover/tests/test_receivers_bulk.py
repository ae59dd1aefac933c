"""Receivers in bulk: one receiver for many clients, an automatic split shown before it applies, and
the receivers HR chooses at the start. Every refusal from the side of the person refused."""

import datetime
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.models import Client
from clients.tests.factories import ClientFactory, ContractFactory, ReceivableFactory
from handover import services, split
from handover.models import ChecklistItem, Event, HandoverClient, ItemStatus, State
from handover.services import InvalidInput, NotAllowed, PlanRow, RowErrors, RowPick, WrongState
from tests.walk import advance_to

# ---------------------------------------------------------------------------------------
# The split itself (pure)


def _facts(n: int, *, a: int, seed: int = 7) -> list[split.ClientFacts]:
    rng = random.Random(seed)
    return [
        split.ClientFacts(i, "A" if i < a else rng.choice("BC"), Decimal(rng.randrange(0, 2_000_000)) / 100)
        for i in range(n)
    ]


@pytest.mark.parametrize(("n", "a", "k"), [(40, 8, 2), (40, 7, 3), (45, 10, 4), (12, 3, 5), (3, 1, 4)])
def test_split_balances_clients_a_clients_and_receivables(n, a, k):
    facts = _facts(n, a=a)
    receivers = [split.Receiver(pk) for pk in range(100, 100 + k)]
    assignment = split.split_clients(facts, receivers)
    assert set(assignment) == {c.key for c in facts}
    loads = split.loads_after(facts, assignment, receivers)
    counts = [load.clients for load in loads.values()]
    a_counts = [load.a_clients for load in loads.values()]
    assert max(counts) - min(counts) <= 1
    assert max(a_counts) - min(a_counts) <= 1
    if n >= 4 * k:
        # The receivables dealt largest first end close: within the largest single client's.
        sums = [load.receivable for load in loads.values()]
        assert max(sums) - min(sums) <= max(c.receivable for c in facts)
        assert max(sums) <= Decimal("1.35") * (sum(sums) / k)


def test_split_is_deterministic_whatever_the_order_of_receivers_and_clients():
    facts = _facts(30, a=6)
    receivers = [split.Receiver(pk, book_size=pk % 3) for pk in (5, 9, 2)]
    first = split.split_clients(facts, receivers)
    again = split.split_clients(list(reversed(facts)), list(reversed(receivers)))
    assert first == again


def test_split_counts_what_a_receiver_already_has():
    facts = [split.ClientFacts(i, "B", Decimal("100")) for i in range(4)]
    busy = split.Receiver(1, base=split.Load(clients=4, a_clients=0, receivable=Decimal("400")))
    idle = split.Receiver(2)
    assignment = split.split_clients(facts, [busy, idle])
    assert list(assignment.values()) == [2, 2, 2, 2]


def test_split_ties_go_to_the_smaller_book():
    facts = [split.ClientFacts(1, "A", Decimal("10"))]
    assert split.split_clients(facts, [split.Receiver(1, book_size=30), split.Receiver(2, book_size=3)]) == {1: 2}


# ---------------------------------------------------------------------------------------
# One receiver for many clients


def _rows(h):
    return list(HandoverClient.objects.filter(handover=h).select_related("client").order_by("pk"))


@pytest.mark.django_db
def test_selected_rows_go_to_one_receiver_all_together(handover, people, receiver2):
    a, b, c = _rows(handover)[:3]
    before = handover.version
    changed = services.receivers_set(
        handover=handover,
        user=people.supervisor,
        receiver=receiver2,
        pick=RowPick(ids=[a.pk, b.pk], row_versions={a.pk: a.row_version, b.pk: b.row_version}),
    )
    assert {hc.pk for hc in changed} == {a.pk, b.pk}
    for hc in (a, b, c):
        hc.refresh_from_db()
    assert (a.receiver_id, b.receiver_id, c.receiver_id) == (receiver2.pk, receiver2.pk, people.receiver.pk)
    assert a.row_version == 2 and c.row_version == 1
    assert set(ChecklistItem.objects.filter(handover_client=a).values_list("receiver_id", flat=True)) == {receiver2.pk}
    handover.refresh_from_db()
    assert handover.version == before + 1
    # One timeline line per client that changed hands, as a single change writes.
    lines = Event.objects.filter(handover=handover, kind="receiver_changed")
    assert sorted(e.data["client"] for e in lines) == sorted([a.client.name, b.client.name])


@pytest.mark.django_db
def test_a_filter_picks_the_current_rows(handover, people, receiver2):
    a_clients = [hc for hc in _rows(handover) if hc.grade == "A"]
    changed = services.receivers_set(
        handover=handover, user=people.departing, receiver=receiver2, pick=RowPick(grade="A")
    )
    assert {hc.pk for hc in changed} == {hc.pk for hc in a_clients}
    assert set(HandoverClient.objects.filter(receiver=receiver2).values_list("grade", flat=True)) == {"A"}


@pytest.mark.django_db
def test_a_filter_by_industry_and_region(handover, people, receiver2):
    one = _rows(handover)[0]
    Client.objects.filter(pk=one.client_id).update(industry="医疗器械", region="华南")
    changed = services.receivers_set(
        handover=handover,
        user=people.departing,
        receiver=receiver2,
        pick=RowPick(industry="医疗器械", region="华南"),
    )
    assert [hc.pk for hc in changed] == [one.pk]
    with pytest.raises(InvalidInput):
        services.receivers_set(
            handover=handover,
            user=people.departing,
            receiver=receiver2,
            pick=RowPick(industry="医疗器械", region="华北"),
        )


@pytest.mark.django_db
def test_a_row_changed_since_it_was_loaded_conflicts_and_nothing_is_written(handover, people, receiver2):
    a, b = _rows(handover)[:2]
    services.handover_client_set_receiver(handover_client=b, user=people.departing, receiver=receiver2)
    with pytest.raises(RowErrors) as caught:
        services.receivers_set(
            handover=handover,
            user=people.supervisor,
            receiver=people.receiver,
            pick=RowPick(ids=[a.pk, b.pk], row_versions={a.pk: 1, b.pk: 1}),
        )
    assert caught.value.conflicts == {b.pk}
    a.refresh_from_db()
    assert a.row_version == 1


@pytest.mark.django_db
def test_a_row_of_another_handover_is_refused_by_row(handover, people, receiver2):
    a = _rows(handover)[0]
    with pytest.raises(RowErrors) as caught:
        services.receivers_set(
            handover=handover, user=people.departing, receiver=receiver2, pick=RowPick(ids=[a.pk, 999_999])
        )
    assert set(caught.value.rows) == {999_999}
    a.refresh_from_db()
    assert a.receiver_id == people.receiver.pk


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["receiver", "witness", "manager", "hr", "other_supervisor"])
def test_only_the_departing_person_or_the_supervisor_sets_receivers(handover, people, receiver2, who):
    with pytest.raises(NotAllowed):
        services.receivers_set(handover=handover, user=getattr(people, who), receiver=receiver2, pick=RowPick())
    with pytest.raises(NotAllowed):
        services.receivers_split_preview(
            handover=handover, user=getattr(people, who), receivers=[receiver2, people.receiver], pick=RowPick()
        )
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_not_after_the_plan(handover, people, receiver2):
    h = advance_to(handover, State.MATERIALS)
    with pytest.raises(WrongState):
        services.receivers_set(handover=h, user=people.supervisor, receiver=receiver2, pick=RowPick())
    with pytest.raises(WrongState):
        services.receivers_split_preview(
            handover=h, user=people.supervisor, receivers=[receiver2, people.receiver], pick=RowPick()
        )
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_the_departing_person_is_never_a_receiver(handover, people):
    with pytest.raises(InvalidInput) as caught:
        services.receivers_set(handover=handover, user=people.supervisor, receiver=people.departing, pick=RowPick())
    assert caught.value.field == "receiver"
    with pytest.raises(InvalidInput) as caught:
        services.receivers_split_preview(
            handover=handover, user=people.supervisor, receivers=[people.receiver, people.departing], pick=RowPick()
        )
    assert caught.value.field == "receivers"


@pytest.mark.django_db
def test_an_inactive_person_or_a_party_is_never_a_receiver(handover, people, receiver2):
    receiver2.is_active = False
    receiver2.save()
    with pytest.raises(InvalidInput, match="陈接收"):
        services.receivers_set(handover=handover, user=people.supervisor, receiver=receiver2, pick=RowPick())
    with pytest.raises(InvalidInput):
        services.receivers_set(handover=handover, user=people.departing, receiver=people.witness, pick=RowPick())
    assert not HandoverClient.objects.exclude(receiver=people.receiver).exists()


# ---------------------------------------------------------------------------------------
# The split: preview, then apply exactly that


@pytest.mark.django_db
def test_preview_writes_nothing_and_apply_applies_what_was_shown(handover, people, receiver2):
    before = handover.version
    preview = services.receivers_split_preview(
        handover=handover, user=people.supervisor, receivers=[people.receiver, receiver2], pick=RowPick()
    )
    handover.refresh_from_db()
    assert handover.version == before
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()
    loads = {r.receiver.pk: r for r in preview.receivers}
    assert loads[people.receiver.pk].clients + loads[receiver2.pk].clients == 10
    assert abs(loads[people.receiver.pk].clients - loads[receiver2.pk].clients) <= 1
    assert loads[people.receiver.pk].a_clients == loads[receiver2.pk].a_clients == 1
    assert sum(r.receivable for r in preview.receivers) == Decimal("300000.00")

    services.receivers_split_apply(
        handover=handover,
        user=people.supervisor,
        assignment=preview.assignment,
        row_versions=preview.row_versions,
        digest=preview.digest,
    )
    now = dict(HandoverClient.objects.filter(handover=handover).values_list("pk", "receiver_id"))
    assert now == preview.assignment


@pytest.mark.django_db
def test_a_preview_counts_what_receivers_already_have_in_the_handover(handover, people, receiver2):
    # The default receiver keeps the 8 non-A clients; the two A clients are split: one each.
    preview = services.receivers_split_preview(
        handover=handover, user=people.departing, receivers=[people.receiver, receiver2], pick=RowPick(grade="A")
    )
    assert sorted(preview.assignment.values()) == sorted([people.receiver.pk, receiver2.pk])
    loads = {r.receiver.pk: r for r in preview.receivers}
    assert loads[people.receiver.pk].clients >= 8
    # The A-count balance comes first: one A client each.
    assert loads[people.receiver.pk].a_clients == loads[receiver2.pk].a_clients == 1


@pytest.mark.django_db
def test_apply_refuses_a_row_changed_since_the_preview(handover, people, receiver2):
    preview = services.receivers_split_preview(
        handover=handover, user=people.supervisor, receivers=[people.receiver, receiver2], pick=RowPick()
    )
    moved = next(pk for pk, r in preview.assignment.items() if r == receiver2.pk)
    services.handover_client_update_plan(
        handover_client=HandoverClient.objects.get(pk=moved),
        user=people.departing,
        current_status="改了",
        risks="",
        next_steps="",
        planned_visit_on=None,
    )
    with pytest.raises(RowErrors) as caught:
        services.receivers_split_apply(
            handover=handover,
            user=people.supervisor,
            assignment=preview.assignment,
            row_versions=preview.row_versions,
            digest=preview.digest,
        )
    assert caught.value.conflicts == {moved}
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_apply_refuses_an_assignment_that_is_not_the_previewed_one(handover, people, receiver2):
    preview = services.receivers_split_preview(
        handover=handover, user=people.supervisor, receivers=[people.receiver, receiver2], pick=RowPick()
    )
    forged = dict.fromkeys(preview.assignment, receiver2.pk)
    with pytest.raises(InvalidInput):
        services.receivers_split_apply(
            handover=handover,
            user=people.supervisor,
            assignment=forged,
            row_versions=preview.row_versions,
            digest=preview.digest,
        )
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_apply_refuses_a_receiver_who_started_leaving_since_the_preview(handover, people, receiver2):
    preview = services.receivers_split_preview(
        handover=handover, user=people.supervisor, receivers=[people.receiver, receiver2], pick=RowPick()
    )
    receiver2.is_active = False
    receiver2.save()
    with pytest.raises(InvalidInput, match="陈接收"):
        services.receivers_split_apply(
            handover=handover,
            user=people.supervisor,
            assignment=preview.assignment,
            row_versions=preview.row_versions,
            digest=preview.digest,
        )


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["receiver", "witness", "other_supervisor"])
def test_apply_by_someone_else_is_refused(handover, people, receiver2, who):
    preview = services.receivers_split_preview(
        handover=handover, user=people.supervisor, receivers=[people.receiver, receiver2], pick=RowPick()
    )
    with pytest.raises(NotAllowed):
        services.receivers_split_apply(
            handover=handover,
            user=getattr(people, who),
            assignment=preview.assignment,
            row_versions=preview.row_versions,
            digest=preview.digest,
        )
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


# ---------------------------------------------------------------------------------------
# HR chooses the receivers at the start


@pytest.mark.django_db
def test_the_start_splits_the_clients_among_the_chosen_receivers(start, people, receiver2):
    h = start(receivers=[receiver2])
    assert h.receiver_id == people.receiver.pk
    by = {}
    for hc in h.clients.all():
        by.setdefault(hc.receiver_id, []).append(hc)
    assert set(by) == {people.receiver.pk, receiver2.pk}
    assert abs(len(by[people.receiver.pk]) - len(by[receiver2.pk])) <= 1
    assert sum(hc.grade == "A" for hc in by[receiver2.pk]) == 1
    # Each client's items go to its receiver; the standard items to the default receiver.
    for item in ChecklistItem.objects.filter(handover=h).select_related("handover_client"):
        expected = item.handover_client.receiver_id if item.handover_client else people.receiver.pk
        assert item.receiver_id == expected
        assert item.status == ItemStatus.PENDING
    started = Event.objects.get(handover=h, kind="started")
    assert started.data["receivers"] == [str(people.receiver), str(receiver2)]


@pytest.mark.django_db
def test_the_start_split_is_the_plan_split(start, people, receiver2):
    h = start(receivers=[people.receiver, receiver2])
    at_start = dict(h.clients.values_list("pk", "receiver_id"))
    preview = services.receivers_split_preview(
        handover=h, user=people.supervisor, receivers=[people.receiver, receiver2], pick=RowPick()
    )
    assert preview.assignment == at_start


@pytest.mark.django_db
def test_the_start_without_a_default_receiver_takes_the_first_chosen(start, people, receiver2):
    h = start(receiver=None, receivers=[receiver2, people.receiver])
    assert h.receiver_id == receiver2.pk


@pytest.mark.django_db
def test_the_start_refuses_the_departing_person_or_an_inactive_person_among_the_receivers(start, people, receiver2):
    with pytest.raises(InvalidInput) as caught:
        start(receivers=[people.departing])
    assert caught.value.field == "receivers"
    receiver2.is_active = False
    receiver2.save()
    with pytest.raises(InvalidInput, match="陈接收") as caught:
        start(receivers=[receiver2])
    assert caught.value.field == "receivers"
    assert not HandoverClient.objects.exists()


@pytest.mark.django_db
def test_the_start_refuses_a_receiver_who_reviews_the_handover(start, people):
    extra = UserFactory(username="dual", full_name="钱双职", roles=[Role.SALES, Role.WITNESS])
    with pytest.raises(InvalidInput):
        start(witness=extra, receivers=[extra])


@pytest.mark.django_db
def test_receivables_in_the_preview_are_the_book_outstanding(handover, people, receiver2):
    first = _rows(handover)[0]
    contract = ContractFactory(client=first.client)
    ReceivableFactory(contract=contract, amount_due=Decimal("1234567.00"), amount_received=Decimal("0.00"))
    ReceivableFactory(
        contract=contract,
        amount_due=Decimal("50.00"),
        amount_received=Decimal("50.00"),
        due_date=timezone.localdate() - datetime.timedelta(days=3),
    )
    preview = services.receivers_split_preview(
        handover=handover, user=people.departing, receivers=[receiver2], pick=RowPick(ids=[first.pk])
    )
    (row,) = preview.rows
    assert row.receivable == Decimal("1234567.00") + Decimal("30000.00")
    assert ClientFactory._meta.model.objects.filter(owner=receiver2).count() == preview.receivers[0].book_size


@pytest.mark.django_db
def test_a_change_to_another_row_is_no_conflict_and_a_filter_takes_rows_as_they_are(handover, people, receiver2):
    a, b, c = _rows(handover)[:3]
    # The departing person saves c's plan meanwhile: a and b, loaded before, do not conflict.
    services.plan_save_rows(handover=handover, user=people.departing, rows=[PlanRow(c.pk, risks="新")])
    changed = services.receivers_set(
        handover=handover,
        user=people.supervisor,
        receiver=receiver2,
        pick=RowPick(ids=[a.pk, b.pk], row_versions={a.pk: 1, b.pk: 1}),
    )
    assert len(changed) == 2
    # A filter picks the rows as they are now: c's new version is no conflict.
    changed = services.receivers_set(
        handover=handover, user=people.supervisor, receiver=receiver2, pick=RowPick(grade=c.grade)
    )
    assert c.pk in {hc.pk for hc in changed}
    # Giving clients to the receiver they already have changes nothing and writes nothing.
    before = Event.objects.count()
    assert (
        services.receivers_set(handover=handover, user=people.supervisor, receiver=receiver2, pick=RowPick(ids=[a.pk]))
        == []
    )
    assert Event.objects.count() == before
