"""Receiver suggestions by fit, and the client cap per salesperson (issue 15, item 1).

The rule (handover/selectors/fit.py): experience in the client's industry and region, the
relationship with the client, and the load against the cap. Each rule is shown changing one
thing at a time; every refusal of the cap from the side of the person refused.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.models import Client, ClientStatus, OwnershipChange
from clients.tests.factories import ClientFactory, FollowUpFactory
from handover import services
from handover.models import HandoverClient
from handover.selectors import fit
from handover.services import CapExceeded, PlanRow, RowErrors, RowPick


def _rows(h):
    return list(HandoverClient.objects.filter(handover=h).select_related("client").order_by("pk"))


def _by_client(h):
    return {s.handover_client.pk: s for s in fit.receiver_suggestions(h, limit=None)}


def _names(suggestions):
    return [s.receiver.username for s in suggestions.suggestions]


@pytest.fixture
def medical(handover):
    """One client of the handover in the medical-devices industry in 华南."""
    hc = _rows(handover)[0]
    Client.objects.filter(pk=hc.client_id).update(industry="医疗器械", region="华南")
    return hc


# ---------------------------------------------------------------------------------------
# The candidates and the rule


@pytest.mark.django_db
def test_the_candidates_are_the_plans_receiver_choices(handover, people, receiver2):
    from handover.selectors import receivers_for

    suggestions = fit.receiver_suggestions(handover, limit=None)
    assert len(suggestions) == handover.clients.count()
    expected = {u.pk for u in receivers_for(handover)}
    for s in suggestions:
        assert {x.receiver.pk for x in s.suggestions} == expected
    # The departing person and the parties are never suggested.
    assert people.departing.pk not in expected and people.supervisor.pk not in expected


@pytest.mark.django_db
def test_industry_experience_ranks_first(handover, people, receiver2, medical):
    before = _by_client(handover)[medical.pk]
    ClientFactory.create_batch(3, owner=receiver2, industry="医疗器械", region="华北")
    after = _by_client(handover)[medical.pk]
    assert _names(after)[0] == "receiver2"
    top = after.top
    assert top.facts.same_industry == 3
    assert top.score > next(s.score for s in before.suggestions if s.receiver.pk == receiver2.pk)


@pytest.mark.django_db
def test_clients_of_the_industry_lost_count_against(handover, people, receiver2, medical):
    ClientFactory.create_batch(2, owner=receiver2, industry="医疗器械", region="华北")
    kept = _by_client(handover)[medical.pk].top
    ClientFactory(owner=receiver2, industry="医疗器械", status=ClientStatus.LOST, lost_reason="price")
    lost = next(s for s in _by_client(handover)[medical.pk].suggestions if s.receiver.pk == receiver2.pk)
    assert lost.facts.industry_lost == 1
    assert lost.score < kept.score


@pytest.mark.django_db
def test_following_up_the_client_is_a_relationship(handover, people, receiver2, medical):
    FollowUpFactory.create_batch(2, client=medical.client, created_by=receiver2)
    top = _by_client(handover)[medical.pk].top
    assert top.receiver.pk == receiver2.pk
    assert top.facts.follow_ups == 2


@pytest.mark.django_db
def test_a_former_owner_is_a_relationship(handover, people, receiver2, medical):
    OwnershipChange.objects.create(
        client=medical.client, from_owner=receiver2, to_owner=people.departing, reason="调岗"
    )
    top = _by_client(handover)[medical.pk].top
    assert top.receiver.pk == receiver2.pk and top.facts.former_owner


@pytest.mark.django_db
def test_load_lowers_the_score_and_a_full_candidate_goes_last(handover, people, receiver2, medical):
    # Alike in everything but the load: the lighter book ranks first.
    ClientFactory.create_batch(20, owner=receiver2, industry="其他", region="其他")
    order = _names(_by_client(handover)[medical.pk])
    assert order.index("other_sales") < order.index("receiver2")
    # A candidate with follow-ups of the client but at their cap goes last, marked full.
    FollowUpFactory.create_batch(3, client=medical.client, created_by=receiver2)
    assert _by_client(handover)[medical.pk].top.receiver.pk == receiver2.pk
    receiver2.client_cap = 20
    receiver2.save()
    last = _by_client(handover)[medical.pk].suggestions[-1]
    assert last.receiver.pk == receiver2.pk and last.full


@pytest.mark.django_db
def test_the_reasons_in_chinese(handover, people, receiver2, medical):
    ClientFactory.create_batch(12, owner=receiver2, industry="医疗器械", region="华北")
    FollowUpFactory.create_batch(2, client=medical.client, created_by=receiver2)
    receiver2.client_cap = 50
    receiver2.save()
    with translation.override("zh-hans"):
        top = _by_client(handover)[medical.pk].top
        text = top.reasons_text
    assert "同行业客户12个" in text
    assert "曾跟进该客户2次" in text
    assert "当前负荷12/50" in text


@pytest.mark.django_db
def test_the_department_cap_applies_unless_the_person_has_their_own(people, receiver2):
    people.east.client_cap = 40
    people.east.save()
    receiver2.refresh_from_db()
    assert receiver2.effective_client_cap == 40
    receiver2.client_cap = 60
    assert receiver2.effective_client_cap == 60
    assert people.hr.effective_client_cap is None


@pytest.mark.django_db
def test_the_load_counts_the_book_and_what_comes_in_open_handovers(handover, people, receiver2):
    ClientFactory.create_batch(3, owner=people.receiver)
    ClientFactory(owner=people.receiver, status=ClientStatus.LOST, lost_reason="price")
    receiver = type(people.receiver).objects.select_related("department").get(pk=people.receiver.pk)
    load = fit.receiver_loads([receiver])[receiver.pk]
    # 3 kept clients of their book + the 10 of this handover (2 of them A), the lost one aside.
    assert (load.clients, load.a_clients) == (13, 2)
    assert load.open_deals == 10
    assert load.receivable > 0


def _bigger(start, people, n: int):
    departing = UserFactory(department=people.east, supervisor=people.supervisor, roles=[Role.SALES])
    for i in range(n):
        c = ClientFactory(owner=departing, grade="A" if i % 5 == 0 else "B", industry=f"行业{i % 4}")
        FollowUpFactory(client=c, created_by=people.other_sales)
    return start(departing=departing)


@pytest.mark.django_db
def test_constant_queries_for_a_whole_handover(start, people, receiver2):
    counts = []
    for n in (5, 40):
        h = _bigger(start, people, n)
        with CaptureQueriesContext(connection) as ctx:
            result = fit.receiver_suggestions(h)
        assert len(result) == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


# ---------------------------------------------------------------------------------------
# The cap, enforced by the services: every path that gives clients, from the refused side


def _cap(user, n):
    user.client_cap = n
    user.save()


@pytest.mark.django_db
def test_one_client_beyond_the_cap_is_refused(handover, people, receiver2):
    ClientFactory.create_batch(2, owner=receiver2)
    _cap(receiver2, 2)
    hc = _rows(handover)[0]
    with translation.override("zh-hans"), pytest.raises(CapExceeded) as caught:
        services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    assert "超过其上限2个" in caught.value.message and "陈接收" in caught.value.message
    hc.refresh_from_db()
    assert hc.receiver_id == people.receiver.pk


@pytest.mark.django_db
def test_up_to_the_cap_is_allowed(handover, people, receiver2):
    ClientFactory.create_batch(2, owner=receiver2)
    _cap(receiver2, 3)
    hc = _rows(handover)[0]
    services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    hc.refresh_from_db()
    assert hc.receiver_id == receiver2.pk


@pytest.mark.django_db
def test_the_department_cap_refuses_too(handover, people, receiver2):
    people.east.client_cap = 0
    people.east.save()
    with pytest.raises(CapExceeded):
        services.handover_client_set_receiver(
            handover_client=_rows(handover)[0], user=people.departing, receiver=receiver2
        )


@pytest.mark.django_db
def test_moving_a_client_away_from_someone_over_their_cap_is_allowed(handover, people, receiver2):
    # people.receiver holds the 10 clients of the handover; a cap lowered to 5 afterwards.
    _cap(people.receiver, 5)
    hc = _rows(handover)[0]
    services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    # And moving it back to them is refused: they are still over.
    with pytest.raises(CapExceeded):
        services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=people.receiver)


@pytest.mark.django_db
def test_many_clients_to_one_receiver_beyond_the_cap_are_refused(handover, people, receiver2):
    _cap(receiver2, 3)
    with pytest.raises(CapExceeded) as caught:
        services.receivers_set(handover=handover, user=people.supervisor, receiver=receiver2, pick=RowPick())
    assert caught.value.field == "receiver"
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()
    # Three of them fit.
    ids = [hc.pk for hc in _rows(handover)[:3]]
    services.receivers_set(handover=handover, user=people.supervisor, receiver=receiver2, pick=RowPick(ids=ids))
    assert HandoverClient.objects.filter(receiver=receiver2).count() == 3


@pytest.mark.django_db
def test_a_plan_grid_save_beyond_the_cap_is_refused_by_row(handover, people, receiver2):
    _cap(receiver2, 1)
    a, b = _rows(handover)[:2]
    with pytest.raises(RowErrors) as caught:
        services.plan_save_rows(
            handover=handover,
            user=people.departing,
            rows=[PlanRow(a.pk, receiver=receiver2), PlanRow(b.pk, receiver=receiver2)],
        )
    assert set(caught.value.rows) == {a.pk, b.pk}
    assert "receiver" in caught.value.rows[a.pk]
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_an_even_split_beyond_a_cap_is_shown_over_and_refused_on_apply(handover, people, receiver2):
    _cap(receiver2, 2)
    preview = services.receivers_split_preview(
        handover=handover, user=people.departing, receivers=[people.receiver, receiver2], pick=RowPick()
    )
    loads = {r.receiver.pk: r for r in preview.receivers}
    assert loads[receiver2.pk].held == 5 and loads[receiver2.pk].cap == 2 and loads[receiver2.pk].over
    with pytest.raises(CapExceeded) as caught:
        services.receivers_split_apply(
            handover=handover,
            user=people.departing,
            assignment=preview.assignment,
            row_versions=preview.row_versions,
            digest=preview.digest,
        )
    assert caught.value.field == "receivers"
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_a_start_beyond_the_receivers_cap_is_refused(start, people, book):
    _cap(people.receiver, 5)
    with pytest.raises(CapExceeded) as caught:
        start()
    assert caught.value.field == "receiver"
    assert not HandoverClient.objects.exists()


# ---------------------------------------------------------------------------------------
# The split by fit


@pytest.mark.django_db
def test_the_split_by_fit_gives_each_client_its_best_fit(handover, people, receiver2, medical):
    FollowUpFactory.create_batch(2, client=medical.client, created_by=receiver2)
    preview = services.receivers_split_preview(
        handover=handover, user=people.departing, receivers=[], pick=RowPick(), mode="fit"
    )
    assert preview.mode == "fit"
    assert preview.assignment[medical.pk] == receiver2.pk
    assert set(preview.assignment) == {hc.pk for hc in _rows(handover)}
    # The load spreads the rest: nobody takes them all.
    assert len(set(preview.assignment.values())) > 1
    services.receivers_split_apply(
        handover=handover,
        user=people.departing,
        assignment=preview.assignment,
        row_versions=preview.row_versions,
        digest=preview.digest,
    )
    medical.refresh_from_db()
    assert medical.receiver_id == receiver2.pk


@pytest.mark.django_db
def test_the_split_by_fit_respects_the_caps(handover, people, receiver2, medical):
    FollowUpFactory.create_batch(3, client=medical.client, created_by=receiver2)
    ClientFactory.create_batch(2, owner=receiver2)
    _cap(receiver2, 2)
    preview = services.receivers_split_preview(
        handover=handover, user=people.departing, receivers=[receiver2, people.receiver], pick=RowPick(), mode="fit"
    )
    assert receiver2.pk not in preview.assignment.values()
    assert all(not r.over for r in preview.receivers)


@pytest.mark.django_db
def test_the_split_by_fit_is_refused_when_no_one_has_room(handover, people, receiver2):
    _cap(receiver2, 0)
    _cap(people.receiver, 3)
    with pytest.raises(services.InvalidInput) as caught:
        services.receivers_split_preview(
            handover=handover,
            user=people.departing,
            receivers=[receiver2, people.receiver],
            pick=RowPick(),
            mode="fit",
        )
    assert caught.value.field == "receivers"


@pytest.mark.django_db
def test_an_unknown_split_mode_is_refused(handover, people, receiver2):
    with pytest.raises(services.InvalidInput):
        services.receivers_split_preview(
            handover=handover, user=people.departing, receivers=[receiver2], pick=RowPick(), mode="random"
        )
