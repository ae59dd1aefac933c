"""The plan saved by rows (the grid, the sheet): all or nothing, errors and conflicts by row."""

import datetime

import pytest

from handover import services
from handover.models import Event, HandoverClient
from handover.services import PlanRow, RowErrors


def _rows(h):
    return list(HandoverClient.objects.filter(handover=h).order_by("pk"))


@pytest.mark.django_db
def test_saves_every_row_together_and_bumps_each_row(handover, people):
    a, b = _rows(handover)[:2]
    before = handover.version
    saved = services.plan_save_rows(
        handover=handover,
        user=people.departing,
        rows=[
            PlanRow(a.pk, current_status="合同执行中", row_version=a.row_version),
            PlanRow(b.pk, risks="回款逾期", row_version=b.row_version),
        ],
    )
    assert {hc.pk for hc in saved} == {a.pk, b.pk}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.current_status, a.row_version) == ("合同执行中", 2)
    assert (b.risks, b.row_version) == ("回款逾期", 2)
    handover.refresh_from_db()
    assert handover.version == before + 1
    assert Event.objects.filter(handover=handover, kind="plan_updated").count() == 2


@pytest.mark.django_db
def test_one_bad_row_saves_nothing_and_names_its_field(handover, people):
    a, b = _rows(handover)[:2]
    status_before = a.current_status  # prefilled from the book at the start
    too_late = handover.last_working_day + datetime.timedelta(days=1)
    with pytest.raises(RowErrors) as caught:
        services.plan_save_rows(
            handover=handover,
            user=people.departing,
            rows=[PlanRow(a.pk, current_status="好的"), PlanRow(b.pk, planned_visit_on=too_late)],
        )
    assert set(caught.value.rows) == {b.pk}
    assert "planned_visit_on" in caught.value.rows[b.pk]
    a.refresh_from_db()
    assert a.current_status == status_before != "好的" and a.row_version == 1


@pytest.mark.django_db
def test_a_row_changed_meanwhile_conflicts_alone(handover, people):
    a, b = _rows(handover)[:2]
    services.handover_client_update_plan(
        handover_client=b,
        user=people.departing,
        current_status="别人改的",
        risks="",
        next_steps="",
        planned_visit_on=None,
    )
    # a was loaded before b changed; saving a alone is no conflict (different rows).
    services.plan_save_rows(handover=handover, user=people.departing, rows=[PlanRow(a.pk, risks="x", row_version=1)])
    with pytest.raises(RowErrors) as caught:
        services.plan_save_rows(
            handover=handover, user=people.departing, rows=[PlanRow(b.pk, risks="我的", row_version=1)]
        )
    assert caught.value.conflicts == {b.pk}
    assert caught.value.status == 409
    b.refresh_from_db()
    assert b.current_status == "别人改的" and b.risks == ""


@pytest.mark.django_db
def test_text_over_the_limit_is_refused_on_its_row(handover, people):
    a = _rows(handover)[0]
    limit = HandoverClient._meta.get_field("risks").max_length
    with pytest.raises(RowErrors) as caught:
        services.plan_save_rows(
            handover=handover, user=people.departing, rows=[PlanRow(a.pk, risks="险" * (limit + 1))]
        )
    assert "risks" in caught.value.rows[a.pk]


@pytest.mark.django_db
def test_the_receiver_may_not_fill_the_plan(handover, people):
    a = _rows(handover)[0]
    with pytest.raises(services.NotAllowed):
        services.plan_save_rows(handover=handover, user=people.receiver, rows=[PlanRow(a.pk, risks="x")])


@pytest.mark.django_db
def test_the_supervisor_may_change_receivers_but_not_the_plan(handover, people, receiver2):
    a, b = _rows(handover)[:2]
    services.plan_save_rows(handover=handover, user=people.supervisor, rows=[PlanRow(a.pk, receiver=receiver2)])
    a.refresh_from_db()
    assert a.receiver_id == receiver2.pk
    assert set(a.items.values_list("receiver", flat=True)) == {receiver2.pk}
    with pytest.raises(RowErrors) as caught:
        services.plan_save_rows(handover=handover, user=people.supervisor, rows=[PlanRow(b.pk, risks="x")])
    assert b.pk in caught.value.rows


@pytest.mark.django_db
def test_a_receiver_who_may_not_receive_is_refused_on_the_row(handover, people):
    a = _rows(handover)[0]
    with pytest.raises(RowErrors) as caught:
        services.plan_save_rows(handover=handover, user=people.departing, rows=[PlanRow(a.pk, receiver=people.witness)])
    assert "receiver" in caught.value.rows[a.pk]


@pytest.mark.django_db
def test_unchanged_rows_are_left_alone(handover, people):
    a = _rows(handover)[0]
    HandoverClient.objects.filter(pk=a.pk).update(prefilled=[])  # confirmed already: saving it again changes nothing
    before = handover.version
    saved = services.plan_save_rows(handover=handover, user=people.departing, rows=[PlanRow(a.pk, risks=a.risks)])
    assert saved == []
    handover.refresh_from_db()
    assert handover.version == before
