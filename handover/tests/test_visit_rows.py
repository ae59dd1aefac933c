"""The visits and the spot-check calls saved by rows (the grids, the sheet, the API): all or nothing,
errors and conflicts by row, the A-client and date rules refused where they are typed."""

import datetime

import pytest
from django.utils import timezone

from handover import services
from handover.models import CallResult, Event, HandoverClient, PhoneCheck, State, Visit, VisitMode
from handover.services import CallRow, RowErrors, VisitRow
from handover.tests.risk_helpers import calm
from tests.walk import advance_to

pytestmark = pytest.mark.django_db


def _yesterday():
    return timezone.localdate() - datetime.timedelta(days=1)


def _row(hc, **overrides):
    values = {
        "visited_on": _yesterday(),
        "mode": VisitMode.IN_PERSON,
        "contact_met": "采购经理",
        "outcome": "已介绍新对接人，客户认可。",
        "concerns": "",
        "row_version": hc.row_version,
    }
    return VisitRow(hc.pk, **(values | overrides))


@pytest.fixture
def at_visits(handover):
    return advance_to(handover, State.VISITS)


def _clients(h):
    return list(HandoverClient.objects.filter(handover=h).select_related("client").order_by("grade", "pk"))


# --- visits_save_rows ---------------------------------------------------------------------


def test_saves_every_typed_row_together_and_skips_blank_ones(at_visits, people):
    h = at_visits
    a, b, c = _clients(h)[:3]
    before = h.version
    saved = services.visits_save_rows(
        handover=h,
        user=people.departing,
        rows=[_row(a), _row(b, mode=VisitMode.IN_PERSON), VisitRow(c.pk, mode=VisitMode.JOINT_CALL)],
    )
    assert {v.handover_client_id for v in saved} == {a.pk, b.pk}
    assert not Visit.objects.filter(handover_client=c).exists()
    a_before, c_before = a.row_version, c.row_version
    a.refresh_from_db()
    c.refresh_from_db()
    assert a.row_version == a_before + 1 and c.row_version == c_before
    # Whoever records confirms; the receiver still has to.
    v = Visit.objects.get(handover_client=a)
    assert v.departing_confirmed_at is not None and v.receiver_confirmed_at is None
    h.refresh_from_db()
    assert h.version == before + 1
    assert Event.objects.filter(handover=h, kind="visit_recorded").count() == 2


def test_one_bad_row_saves_nothing_and_names_its_field(at_visits, people):
    h = at_visits
    a, b = _clients(h)[:2]
    with pytest.raises(RowErrors) as caught:
        services.visits_save_rows(handover=h, user=people.departing, rows=[_row(a), _row(b, outcome="  ")])
    assert set(caught.value.rows) == {b.pk}
    assert set(caught.value.rows[b.pk]) == {"outcome"}
    assert not Visit.objects.filter(handover_client__handover=h).exists()
    before = a.row_version
    a.refresh_from_db()
    assert a.row_version == before


def test_an_a_client_by_phone_alone_is_refused_at_entry_naming_the_client(at_visits, people):
    h = at_visits
    a_client = next(hc for hc in _clients(h) if hc.grade == "A")
    other = next(hc for hc in _clients(h) if hc.grade != "A")
    with pytest.raises(RowErrors) as caught:
        services.visits_save_rows(
            handover=h,
            user=people.receiver,
            rows=[_row(a_client, mode=VisitMode.JOINT_CALL), _row(other, mode=VisitMode.JOINT_CALL)],
        )
    assert set(caught.value.rows) == {a_client.pk}
    assert a_client.client.name in caught.value.rows[a_client.pk]["mode"]
    assert not Visit.objects.filter(handover_client__handover=h).exists()


def test_the_single_visit_refuses_an_a_client_by_phone_too(at_visits, people):
    a_client = next(hc for hc in _clients(at_visits) if hc.grade == "A")
    with pytest.raises(services.InvalidInput) as caught:
        services.visit_record(
            handover_client=a_client,
            user=people.departing,
            visited_on=_yesterday(),
            mode=VisitMode.JOINT_CALL,
            contact_met="总经理",
            outcome="电话沟通。",
        )
    assert caught.value.field == "mode" and a_client.client.name in caught.value.message


def test_a_future_date_is_refused_naming_the_client(at_visits, people):
    a = _clients(at_visits)[0]
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(RowErrors) as caught:
        services.visits_save_rows(handover=at_visits, user=people.departing, rows=[_row(a, visited_on=tomorrow)])
    message = caught.value.rows[a.pk]["visited_on"]
    assert a.client.name in message


def test_a_row_without_a_date_is_refused_not_skipped(at_visits, people):
    a = _clients(at_visits)[0]
    with pytest.raises(RowErrors) as caught:
        services.visits_save_rows(handover=at_visits, user=people.departing, rows=[_row(a, visited_on=None)])
    assert "visited_on" in caught.value.rows[a.pk]


def test_a_receiver_may_not_record_for_someone_elses_client(at_visits, people, receiver2):
    h = at_visits
    a, b = _clients(h)[:2]
    HandoverClient.objects.filter(pk=b.pk).update(receiver=receiver2)
    with pytest.raises(RowErrors) as caught:
        services.visits_save_rows(handover=h, user=people.receiver, rows=[_row(a), _row(b)])
    assert set(caught.value.rows) == {b.pk}
    assert not Visit.objects.filter(handover_client__handover=h).exists()


def test_someone_who_receives_nothing_is_refused(at_visits, people):
    a = _clients(at_visits)[0]
    for who in (people.supervisor, people.witness, people.manager):
        with pytest.raises(services.NotAllowed):
            services.visits_save_rows(handover=at_visits, user=who, rows=[_row(a)])
    assert not Visit.objects.exists()


def test_not_at_the_visits_stage(handover, people):
    a = _clients(handover)[0]
    with pytest.raises(services.WrongState):
        services.visits_save_rows(handover=handover, user=people.departing, rows=[_row(a)])


def test_a_row_changed_meanwhile_conflicts_alone(at_visits, people):
    h = at_visits
    a, b = _clients(h)[:2]
    loaded = {hc.pk: hc.row_version for hc in (a, b)}
    # Someone records b's visit after the grid was loaded.
    services.visits_save_rows(handover=h, user=people.receiver, rows=[_row(b)])
    # a was loaded before b changed: saving a alone is no conflict.
    services.visits_save_rows(handover=h, user=people.departing, rows=[_row(a, row_version=loaded[a.pk])])
    with pytest.raises(RowErrors) as caught:
        services.visits_save_rows(handover=h, user=people.departing, rows=[_row(b, row_version=loaded[b.pk])])
    assert caught.value.conflicts == {b.pk} and caught.value.status == 409
    assert Visit.objects.filter(handover_client=b).count() == 1


# --- visits_confirm -----------------------------------------------------------------------


def test_the_receiver_confirms_every_visit_waiting_at_once(at_visits, people):
    h = at_visits
    rows = [_row(hc, mode=VisitMode.IN_PERSON) for hc in _clients(h)[:4]]
    services.visits_save_rows(handover=h, user=people.departing, rows=rows)
    n = services.visits_confirm(handover=h, user=people.receiver)
    assert n == 4
    assert not Visit.objects.filter(handover_client__handover=h, receiver_confirmed_at__isnull=True).exists()
    # Nothing left to confirm.
    with pytest.raises(services.InvalidInput):
        services.visits_confirm(handover=h, user=people.receiver)


def test_the_receiver_confirms_only_the_selected_visits(at_visits, people):
    h = at_visits
    visits = services.visits_save_rows(handover=h, user=people.departing, rows=[_row(hc) for hc in _clients(h)[:3]])
    n = services.visits_confirm(handover=h, user=people.receiver, visit_ids=[visits[0].pk, visits[2].pk])
    assert n == 2
    open_ = Visit.objects.filter(handover_client__handover=h, receiver_confirmed_at__isnull=True)
    assert list(open_.values_list("pk", flat=True)) == [visits[1].pk]


def test_confirming_ones_own_visit_again_is_refused_on_its_row(at_visits, people):
    h = at_visits
    a, b = _clients(h)[:2]
    mine, theirs = services.visits_save_rows(handover=h, user=people.departing, rows=[_row(a), _row(b)])
    with pytest.raises(RowErrors) as caught:
        services.visits_confirm(handover=h, user=people.departing, visit_ids=[mine.pk])
    assert set(caught.value.rows) == {a.pk}
    theirs.refresh_from_db()
    assert theirs.receiver_confirmed_at is None


def test_another_receiver_may_not_confirm_and_nothing_is_confirmed(at_visits, people, receiver2):
    h = at_visits
    a, b = _clients(h)[:2]
    HandoverClient.objects.filter(pk=b.pk).update(receiver=receiver2)
    va, vb = services.visits_save_rows(handover=h, user=people.departing, rows=[_row(a), _row(b)])
    with pytest.raises(RowErrors) as caught:
        services.visits_confirm(handover=h, user=people.receiver, visit_ids=[va.pk, vb.pk])
    assert set(caught.value.rows) == {b.pk}
    va.refresh_from_db()
    assert va.receiver_confirmed_at is None
    with pytest.raises(services.NotAllowed):
        services.visits_confirm(handover=h, user=people.witness)


def test_confirm_conflicts_by_row(at_visits, people):
    h = at_visits
    a, b = _clients(h)[:2]
    stale = b.row_version
    va, vb = services.visits_save_rows(handover=h, user=people.departing, rows=[_row(a), _row(b)])
    a.refresh_from_db()
    with pytest.raises(RowErrors) as caught:
        services.visits_confirm(
            handover=h, user=people.receiver, visit_ids=[va.pk, vb.pk], row_versions={a.pk: a.row_version, b.pk: stale}
        )
    assert caught.value.conflicts == {b.pk}
    assert not Visit.objects.filter(receiver_confirmed_at__isnull=False).exists()


# --- calls_save_rows ----------------------------------------------------------------------


@pytest.fixture
def at_spot_check(handover):
    calm(handover)
    return advance_to(handover, State.SPOT_CHECK)


def _sampled(h):
    return list(HandoverClient.objects.filter(handover=h, in_sample=True).order_by("pk"))


def test_the_witness_saves_every_call_together(at_spot_check, people):
    h = at_spot_check
    sampled = _sampled(h)
    rows = [CallRow(hc.pk, result=CallResult.CONFIRMED, row_version=hc.row_version) for hc in sampled]
    rows[0] = CallRow(sampled[0].pk, result=CallResult.UNREACHABLE, note="无人接听", row_version=sampled[0].row_version)
    rows.append(CallRow(sampled[-1].pk + 10_000))  # a blank row is skipped, even an unknown one
    saved = services.calls_save_rows(handover=h, user=people.witness, rows=rows)
    assert len(saved) == len(sampled)
    assert PhoneCheck.objects.get(handover_client=sampled[0]).note == "无人接听"
    pending, unaware = h.spot_check_outcome()
    assert not unaware


def test_a_call_outside_the_sample_is_refused_and_nothing_saved(at_spot_check, people):
    h = at_spot_check
    inside = _sampled(h)[0]
    outside = HandoverClient.objects.filter(handover=h, in_sample=False).first()
    with pytest.raises(RowErrors) as caught:
        services.calls_save_rows(
            handover=h,
            user=people.witness,
            rows=[CallRow(inside.pk, result=CallResult.CONFIRMED), CallRow(outside.pk, result=CallResult.CONFIRMED)],
        )
    assert set(caught.value.rows) == {outside.pk}
    assert not PhoneCheck.objects.exists()


def test_a_call_not_confirmed_needs_a_note_on_its_row(at_spot_check, people):
    a, b = _sampled(at_spot_check)[:2]
    with pytest.raises(RowErrors) as caught:
        services.calls_save_rows(
            handover=at_spot_check,
            user=people.witness,
            rows=[CallRow(a.pk, result=CallResult.CONFIRMED), CallRow(b.pk, result=CallResult.UNAWARE, note=" ")],
        )
    assert list(caught.value.rows) == [b.pk] and list(caught.value.rows[b.pk]) == ["note"]
    # A note alone, without a result, is a row typed without its choice.
    with pytest.raises(RowErrors) as caught:
        services.calls_save_rows(handover=at_spot_check, user=people.witness, rows=[CallRow(a.pk, note="打过了")])
    assert "result" in caught.value.rows[a.pk]


def test_only_the_witness_calls_and_only_at_the_spot_check(at_spot_check, handover, people):
    a = _sampled(at_spot_check)[0]
    for who in (people.departing, people.receiver, people.supervisor):
        with pytest.raises(services.NotAllowed):
            services.calls_save_rows(
                handover=at_spot_check, user=who, rows=[CallRow(a.pk, result=CallResult.CONFIRMED)]
            )
    assert not PhoneCheck.objects.exists()


def test_calls_at_the_wrong_state_are_refused(at_visits, people):
    a = _clients(at_visits)[0]
    with pytest.raises(services.WrongState):
        services.calls_save_rows(handover=at_visits, user=people.witness, rows=[CallRow(a.pk, result="confirmed")])


def test_a_call_row_changed_meanwhile_conflicts_alone(at_spot_check, people):
    h = at_spot_check
    a, b = _sampled(h)[:2]
    b_loaded = HandoverClient.objects.get(pk=b.pk)
    services.phone_check_record(handover_client=b, user=people.witness, result=CallResult.CONFIRMED)
    with pytest.raises(RowErrors) as caught:
        services.calls_save_rows(
            handover=h,
            user=people.witness,
            rows=[
                CallRow(a.pk, result=CallResult.CONFIRMED, row_version=a.row_version),
                CallRow(b.pk, result=CallResult.CONFIRMED, row_version=b_loaded.row_version),
            ],
        )
    assert caught.value.conflicts == {b.pk}
    assert set(caught.value.rows) == {b.pk}  # the other row was fine, and waits with it
    assert PhoneCheck.objects.filter(handover_client=a).count() == 0


def test_the_departing_person_confirms_the_receivers_visits_at_once(at_visits, people):
    h = at_visits
    hcs = _clients(h)[:2]
    services.visits_save_rows(handover=h, user=people.receiver, rows=[_row(hc) for hc in hcs])
    assert services.visits_confirm(handover=h, user=people.departing) == 2
    gaps = {g.pk for g in h.visit_gaps()}
    assert {hc.pk for hc in hcs}.isdisjoint(gaps) and len(gaps) == h.clients.count() - 2


def test_blank_rows_are_skipped_even_for_a_client_not_in_the_handover(at_visits, people):
    assert services.visits_save_rows(handover=at_visits, user=people.departing, rows=[VisitRow(999_999)]) == []
    at_visits.refresh_from_db()
    assert not Visit.objects.exists()
