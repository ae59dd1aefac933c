"""The visits grid, the call list and the visit record's Excel round trip, through the pages.

A refused save shows the page again with every typed value in place and the message on its row;
nothing is written. Each from the side of the person refused too.
"""

import datetime
import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from handover import services
from handover.models import CallResult, HandoverClient, PhoneCheck, State, Visit, VisitMode
from handover.tests.risk_helpers import calm
from tests.walk import advance_to

pytestmark = pytest.mark.django_db


def _yesterday() -> str:
    return (timezone.localdate() - datetime.timedelta(days=1)).isoformat()


def _clients(h):
    return list(HandoverClient.objects.filter(handover=h).select_related("client").order_by("grade", "pk"))


def _grid_post(rows: dict, versions: dict | None = None) -> dict:
    """The visits grid's POST: rows = {hc: {field: value}}."""
    data = {"row": [str(pk) for pk in rows]}
    for pk, values in rows.items():
        for name, value in values.items():
            data[f"v-{pk}-{name}"] = value
        if versions and pk in versions:
            data[f"v-{pk}-row_version"] = str(versions[pk])
    return data


def _service_row(hc):
    v = _visit()
    v["visited_on"] = datetime.date.fromisoformat(v["visited_on"])
    return services.VisitRow(hc.pk, **v)


def _visit(**overrides):
    return {
        "visited_on": _yesterday(),
        "mode": VisitMode.IN_PERSON,
        "contact_met": "采购经理",
        "outcome": "已介绍新对接人。",
        "concerns": "",
    } | overrides


@pytest.fixture
def at_visits(handover):
    return advance_to(handover, State.VISITS)


def test_the_departing_person_sees_every_client_a_receiver_only_theirs(at_visits, people, receiver2, login):
    h = at_visits
    hcs = _clients(h)
    HandoverClient.objects.filter(pk=hcs[-1].pk).update(receiver=receiver2)
    page = login(people.departing).get(reverse("handover:detail", args=[h.pk]))
    grid = page.context["page"].visits_grid
    assert [r.pk for r in grid.rows] == [hc.pk for hc in hcs]
    assert grid.sheet_url == ""  # no export by the departing person
    assert b'id="visits-save-form"' in page.content
    page = login(receiver2).get(reverse("handover:detail", args=[h.pk]))
    assert [r.pk for r in page.context["page"].visits_grid.rows] == [hcs[-1].pk]
    page = login(people.witness).get(reverse("handover:detail", args=[h.pk]))
    assert page.context["page"].visits_grid is None


def test_saving_the_grid_records_every_typed_row(at_visits, people, login):
    h = at_visits
    a, b, c = _clients(h)[:3]
    browser = login(people.receiver)
    response = browser.post(
        reverse("handover:visits_save", args=[h.pk]),
        _grid_post(
            {
                a.pk: _visit(),
                b.pk: _visit(contact_met="总经理"),
                c.pk: _visit(visited_on="", contact_met="", outcome=""),
            }
        ),
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/handovers/{h.pk}/?tab=visits#visits-grid")
    assert set(Visit.objects.values_list("handover_client_id", flat=True)) == {a.pk, b.pk}


def test_a_refused_save_keeps_every_typed_value_and_names_the_a_client(at_visits, people, login):
    h = at_visits
    a_client = next(hc for hc in _clients(h) if hc.grade == "A")
    other = next(hc for hc in _clients(h) if hc.grade != "A")
    browser = login(people.departing)
    response = browser.post(
        reverse("handover:visits_save", args=[h.pk]),
        _grid_post(
            {
                a_client.pk: _visit(mode=VisitMode.JOINT_CALL, outcome="电话里说好了"),
                other.pk: _visit(contact_met="财务主管王五", concerns="账期"),
            }
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "电话里说好了" in html and "财务主管王五" in html and "账期" in html
    rows = {r.pk: r for r in response.context["page"].visits_grid.rows}
    assert a_client.client.name in rows[a_client.pk].errors["mode"]
    assert rows[a_client.pk].values["mode"] == VisitMode.JOINT_CALL
    assert not rows[other.pk].errors
    assert not Visit.objects.exists()


def test_a_conflict_keeps_the_input_and_shows_the_row_as_it_is_now(at_visits, people, login):
    h = at_visits
    a = _clients(h)[0]
    loaded = a.row_version
    services.visits_save_rows(handover=h, user=people.receiver, rows=[_service_row(a)])
    response = login(people.departing).post(
        reverse("handover:visits_save", args=[h.pk]),
        _grid_post({a.pk: _visit(outcome="我这边的记录")}, {a.pk: loaded}),
    )
    assert response.status_code == 409
    row = response.context["page"].visits_grid.rows[0]
    assert row.conflict and row.values["outcome"] == "我这边的记录"
    assert "row-reloaded" in response.content.decode()
    assert len(row.visits) == 1  # the colleague's visit, shown now
    a.refresh_from_db()
    assert row.row_version == a.row_version  # saving again adds the visit
    assert Visit.objects.count() == 1


def test_someone_else_s_client_is_refused_on_its_row(at_visits, people, receiver2, login):
    h = at_visits
    a, b = _clients(h)[:2]
    HandoverClient.objects.filter(pk=b.pk).update(receiver=receiver2)
    response = login(people.receiver).post(
        reverse("handover:visits_save", args=[h.pk]), _grid_post({a.pk: _visit(), b.pk: _visit()})
    )
    # Nothing saved only because one row is not theirs: a refusal (403), the message on that row.
    assert response.status_code == 403
    assert not Visit.objects.exists()


def test_the_receiver_confirms_all_or_the_selected_visits(at_visits, people, login):
    h = at_visits
    hcs = _clients(h)[:3]
    visits = services.visits_save_rows(handover=h, user=people.departing, rows=[_service_row(hc) for hc in hcs])
    browser = login(people.receiver)
    url = reverse("handover:visits_confirm", args=[h.pk])
    response = browser.post(url, {"scope": "selected", "visit": [visits[1].pk]})
    assert response.status_code == 302
    assert list(Visit.objects.filter(receiver_confirmed_at__isnull=False).values_list("pk", flat=True)) == [
        visits[1].pk
    ]
    response = browser.post(url, {"scope": "all"})
    assert response.status_code == 302
    assert not Visit.objects.filter(receiver_confirmed_at__isnull=True).exists()
    # Nothing left: refused on the page, not a server error.
    assert browser.post(url, {"scope": "all"}).status_code == 400


def test_the_witness_may_not_confirm_visits(at_visits, people, login):
    h = at_visits
    services.visits_save_rows(handover=h, user=people.departing, rows=[_service_row(_clients(h)[0])])
    response = login(people.witness).post(reverse("handover:visits_confirm", args=[h.pk]), {"scope": "all"})
    assert response.status_code == 403
    assert not Visit.objects.filter(receiver_confirmed_at__isnull=False).exists()


# --- the call list ------------------------------------------------------------------------


@pytest.fixture
def at_spot_check(handover):
    calm(handover)
    return advance_to(handover, State.SPOT_CHECK)


def _calls_post(rows: dict) -> dict:
    data = {"row": [str(pk) for pk in rows]}
    for pk, values in rows.items():
        for name, value in values.items():
            data[f"c-{pk}-{name}"] = value
    return data


def test_the_witness_sees_only_the_sample_with_tel_links(at_spot_check, people, login):
    h = at_spot_check
    response = login(people.witness).get(reverse("handover:detail", args=[h.pk]))
    grid = response.context["page"].calls_grid
    sampled = set(HandoverClient.objects.filter(handover=h, in_sample=True).values_list("pk", flat=True))
    assert {r.pk for r in grid.rows} == sampled and len(sampled) < h.clients.count()
    assert all(r.contacts and r.contacts[0].tel.startswith("tel:") for r in grid.rows)
    assert b'href="tel:' in response.content
    assert login(people.departing).get(reverse("handover:detail", args=[h.pk])).context["page"].calls_grid is None


def test_the_call_list_saves_all_or_keeps_the_choices(at_spot_check, people, login):
    h = at_spot_check
    a, b = HandoverClient.objects.filter(handover=h, in_sample=True).order_by("pk")[:2]
    browser = login(people.witness)
    url = reverse("handover:calls_save", args=[h.pk])
    response = browser.post(
        url, _calls_post({a.pk: {"result": CallResult.CONFIRMED, "note": "很好"}, b.pk: {"result": CallResult.UNAWARE}})
    )
    assert response.status_code == 400
    rows = {r.pk: r for r in response.context["page"].calls_grid.rows}
    assert rows[a.pk].values == {"result": CallResult.CONFIRMED, "note": "很好"}
    assert "note" in rows[b.pk].errors
    assert f'id="c-{a.pk}-confirmed" checked'.encode() in response.content
    assert not PhoneCheck.objects.exists()
    response = browser.post(
        url,
        _calls_post(
            {a.pk: {"result": CallResult.CONFIRMED}, b.pk: {"result": CallResult.UNREACHABLE, "note": "无人接"}}
        ),
    )
    assert response.status_code == 302
    assert PhoneCheck.objects.count() == 2


def test_a_call_outside_the_sample_is_refused_on_the_page(at_spot_check, people, login):
    h = at_spot_check
    outside = HandoverClient.objects.filter(handover=h, in_sample=False).first()
    response = login(people.witness).post(
        reverse("handover:calls_save", args=[h.pk]), _calls_post({outside.pk: {"result": CallResult.CONFIRMED}})
    )
    assert response.status_code == 400
    assert not PhoneCheck.objects.exists()


# --- the visit record as a sheet ----------------------------------------------------------


def _sheet(browser, h):
    response = browser.get(reverse("handover:visits_sheet", args=[h.pk]))
    assert response.status_code == 200, response.status_code
    return openpyxl.load_workbook(io.BytesIO(response.content))


def _upload(browser, h, workbook, name="visits.xlsx"):
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    buffer.name = name
    return browser.post(reverse("handover:visits_sheet_upload", args=[h.pk]), {"file": buffer})


def _columns(sheet) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1]}


def test_the_sheet_round_trip_records_the_filled_rows(at_visits, people, login):
    h = at_visits
    browser = login(people.receiver)
    workbook = _sheet(browser, h)
    sheet = workbook.active
    cols = _columns(sheet)
    assert sheet.max_row == h.clients.count() + 1
    assert "id" in cols and "row_version" in cols
    date_col = next(c for name, c in cols.items() if name in ("拜访日期", "visit date"))
    # Fill in two rows: the date, the contact and the outcome (the mode is prefilled).
    for row in (2, 3):
        sheet.cell(row=row, column=date_col).value = timezone.localdate() - datetime.timedelta(days=2)
        sheet.cell(row=row, column=date_col + 2).value = "采购部李经理"
        sheet.cell(row=row, column=date_col + 3).value = "客户认可新对接人。"
    response = _upload(browser, h, workbook)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Visit.objects.count() == 2
    # The same file again: the rows now repeat recorded visits and are skipped.
    workbook = _sheet(browser, h)
    response = _upload(browser, h, workbook)
    assert response.status_code == 302 and Visit.objects.count() == 2


def test_a_bad_sheet_row_saves_nothing_and_names_row_and_column(at_visits, people, login):
    h = at_visits
    browser = login(people.receiver)
    workbook = _sheet(browser, h)
    sheet = workbook.active
    cols = _columns(sheet)
    date_col = next(c for name, c in cols.items() if name in ("拜访日期", "visit date"))
    a_row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(row=r, column=2).value == "A")
    b_row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(row=r, column=2).value != "A")
    for row in (a_row, b_row):
        sheet.cell(row=row, column=date_col).value = timezone.localdate() - datetime.timedelta(days=2)
        sheet.cell(row=row, column=date_col + 2).value = "采购部李经理"
        sheet.cell(row=row, column=date_col + 3).value = "客户认可。"
    sheet.cell(row=a_row, column=date_col + 1).value = "joint_call"
    response = _upload(browser, h, workbook)
    assert response.status_code == 400
    text = "\n".join(str(m) for m in response.context["messages"])
    a_name = sheet.cell(row=a_row, column=1).value
    assert a_name in text and str(a_row) in text
    assert not Visit.objects.exists()


def test_the_departing_person_may_not_download_the_sheet(at_visits, people, login):
    response = login(people.departing).get(reverse("handover:visits_sheet", args=[at_visits.pk]))
    assert response.status_code == 403
    response = login(people.witness).get(reverse("handover:visits_sheet", args=[at_visits.pk]))
    assert response.status_code == 403


def test_a_file_that_is_no_workbook_is_refused(at_visits, people, login):
    browser = login(people.receiver)
    buffer = io.BytesIO(b"not a workbook")
    buffer.name = "visits.xlsx"
    response = browser.post(reverse("handover:visits_sheet_upload", args=[at_visits.pk]), {"file": buffer})
    assert response.status_code == 400
    assert not Visit.objects.exists()


def test_confirming_keeps_the_visits_typed_but_not_saved(at_visits, people, login):
    h = at_visits
    a, b = _clients(h)[:2]
    visit = services.visits_save_rows(handover=h, user=people.departing, rows=[_service_row(a)])[0]
    data = _grid_post({b.pk: _visit(outcome="还没保存的拜访")}) | {"scope": "selected", "visit": [visit.pk]}
    response = login(people.receiver).post(reverse("handover:visits_confirm", args=[h.pk]), data)
    assert response.status_code == 200
    assert "还没保存的拜访" in response.content.decode()
    visit.refresh_from_db()
    assert visit.receiver_confirmed_at is not None
    assert Visit.objects.count() == 1


def test_a_new_visit_comes_with_the_day_and_the_contact_filled_in(at_visits, people, login):
    h = at_visits
    hc = _clients(h)[0]
    contact = hc.client.contacts.order_by("-is_key_decision_maker", "name", "id").first()
    HandoverClient.objects.filter(pk=hc.pk).update(planned_visit_on=timezone.localdate() - datetime.timedelta(days=2))
    page = login(people.departing).get(reverse("handover:detail", args=[h.pk]) + "?tab=visits")
    row = next(r for r in page.context["page"].visits_grid.rows if r.pk == hc.pk)
    planned = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
    assert row.values["visited_on"] == planned and row.values["contact_met"] == (contact.name if contact else "")
    assert row.shown == f"{planned}|{row.values['contact_met']}"


def test_rows_left_at_their_defaults_are_no_visit_and_an_outcome_is_enough(at_visits, people, login):
    h = at_visits
    a, b = _clients(h)[:2]
    shown = {pk: f"{_yesterday()}|王经理" for pk in (a.pk, b.pk)}
    data = _grid_post(
        {
            a.pk: _visit(contact_met="王经理"),  # the outcome typed: a visit at the defaults
            b.pk: _visit(contact_met="王经理", outcome=""),  # nothing typed: left alone
        }
    )
    data |= {f"v-{pk}-shown": value for pk, value in shown.items()}
    response = login(people.departing).post(reverse("handover:visits_save", args=[h.pk]), data)
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.handover_client_id, visit.contact_met, visit.visited_on.isoformat()) == (a.pk, "王经理", _yesterday())


def test_a_default_changed_without_an_outcome_is_still_refused(at_visits, people, login):
    h = at_visits
    a = _clients(h)[0]
    data = _grid_post({a.pk: _visit(contact_met="另一位", outcome="")}) | {f"v-{a.pk}-shown": f"{_yesterday()}|王经理"}
    response = login(people.departing).post(reverse("handover:visits_save", args=[h.pk]), data)
    assert response.status_code == 400 and not Visit.objects.exists()
    assert "另一位" in response.content.decode()
