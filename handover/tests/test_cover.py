"""A cover (代管): a handover for a leave or a temporary transfer, whose clients come back.

The return date is required for a cover and refused otherwise, on every path that starts a
handover; the cover begins at completion, ends by itself on the return date (the daily scan) or
earlier by HR, and refuses to give clients back to someone who has left or is leaving. Each rule
is tested from the side of the one refused.
"""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.tokens import api_token_create
from clients.models import Client, OwnershipChange
from clients.tests.factories import ClientFactory, ContactFactory
from handover import services
from handover.models import (
    CoverAccess,
    CoverPolicy,
    CoverStatus,
    Duty,
    DutyKind,
    Event,
    Handover,
    HandoverClient,
    HrDeparture,
    State,
)
from handover.reminders import reminders_scan
from handover.services import InvalidInput, NotAllowed, WrongState
from notifications.models import Notification
from tests.walk import advance_to

TODAY = timezone.localdate()
LAST_DAY = TODAY + datetime.timedelta(days=30)
RETURNS = LAST_DAY + datetime.timedelta(days=90)


@pytest.fixture
def small_book(people):
    clients = []
    for i in range(3):
        c = ClientFactory(owner=people.departing, grade="A" if i == 0 else "B", name=f"代管客户{i}有限公司")
        ContactFactory(client=c)
        clients.append(c)
    return clients


@pytest.fixture
def start_cover(people, small_book):
    def _start(**overrides):
        kwargs = {
            "started_by": people.hr,
            "departing": people.departing,
            "receiver": people.receiver,
            "witness": people.witness,
            "manager": people.manager,
            "reason": "maternity_leave",
            "notice_date": TODAY,
            "last_working_day": LAST_DAY,
            "returns_on": RETURNS,
        }
        kwargs.update(overrides)
        return services.handover_start(**kwargs)

    return _start


@pytest.fixture
def cover(start_cover):
    """A maternity leave's handover, completed: the cover person (receiver) holds the clients."""
    return advance_to(start_cover(), State.COMPLETED)


def fresh(h) -> Handover:
    return Handover.objects.get(pk=h.pk)


def owners(clients) -> set[int]:
    return set(Client.objects.filter(pk__in=[c.pk for c in clients]).values_list("owner_id", flat=True))


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
    return client


# ---------------------------------------------------------------------------------------
# The return date: required for a cover, refused otherwise, after the last day, within two years


@pytest.mark.parametrize("reason", ["long_leave", "maternity_leave", "temporary_transfer"])
def test_a_cover_without_a_return_date_is_refused(start_cover, reason):
    with pytest.raises(InvalidInput) as exc:
        start_cover(reason=reason, returns_on=None)
    assert exc.value.field == "returns_on" and "返岗日期" in exc.value.message
    assert not Handover.objects.exists()


@pytest.mark.parametrize("reason", ["resignation", "transfer"])
def test_a_departure_with_a_return_date_is_refused(start_cover, reason):
    with pytest.raises(InvalidInput) as exc:
        start_cover(reason=reason)
    assert exc.value.field == "returns_on"
    assert not Handover.objects.exists()


@pytest.mark.parametrize("returns_on", [LAST_DAY, LAST_DAY - datetime.timedelta(days=1)])
def test_a_return_date_not_after_the_last_working_day_is_refused(start_cover, returns_on):
    with pytest.raises(InvalidInput) as exc:
        start_cover(returns_on=returns_on)
    assert exc.value.field == "returns_on" and "最后工作日" in exc.value.message
    assert not Handover.objects.exists()


def test_a_return_date_beyond_two_years_is_refused_and_two_years_is_accepted(start_cover):
    with pytest.raises(InvalidInput) as exc:
        start_cover(returns_on=LAST_DAY + datetime.timedelta(days=732))
    assert exc.value.field == "returns_on"
    assert not Handover.objects.exists()
    h = start_cover(returns_on=LAST_DAY + datetime.timedelta(days=731))
    assert h.returns_on == LAST_DAY + datetime.timedelta(days=731)
    assert h.cover_status == CoverStatus.PENDING


def _form(people, **overrides) -> dict:
    data = {
        "departing": people.departing.pk,
        "receiver": people.receiver.pk,
        "witness": people.witness.pk,
        "manager": people.manager.pk,
        "reason": "long_leave",
        "notice_date": f"{TODAY:%Y-%m-%d}",
        "last_working_day": f"{LAST_DAY:%Y-%m-%d}",
        "returns_on": "",
    }
    data.update(overrides)
    return data


def test_the_start_page_refuses_a_cover_without_return_date_and_keeps_the_input(people, small_book, login):
    browser = login(people.hr)
    response = browser.post(reverse("handover:start"), _form(people))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-field="returns_on"' in page and "返岗日期" in page
    assert f'value="{LAST_DAY:%Y-%m-%d}"' in page  # what was typed stays
    assert not Handover.objects.exists()
    response = browser.post(reverse("handover:start"), _form(people, returns_on=f"{RETURNS:%Y-%m-%d}"))
    h = Handover.objects.get()
    assert response.status_code == 302 and h.returns_on == RETURNS


def test_the_start_page_refuses_a_return_date_for_a_resignation(people, small_book, login):
    response = login(people.hr).post(
        reverse("handover:start"), _form(people, reason="resignation", returns_on=f"{RETURNS:%Y-%m-%d}")
    )
    assert response.status_code == 200 and 'data-field="returns_on"' in response.content.decode()
    assert not Handover.objects.exists()


def test_the_start_api_asks_the_same_rule(people, small_book):
    body = {
        "departing": people.departing.pk,
        "receiver": people.receiver.pk,
        "witness": people.witness.pk,
        "manager": people.manager.pk,
        "reason": "temporary_transfer",
        "notice_date": str(TODAY),
        "last_working_day": str(LAST_DAY),
    }
    refused = api(people.hr).post("/api/handovers/", body, format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "returns_on", refused.content
    assert not Handover.objects.exists()
    refused = api(people.hr).post(
        "/api/handovers/", {**body, "reason": "transfer", "returns_on": str(RETURNS)}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["field"] == "returns_on"
    done = api(people.hr).post("/api/handovers/", {**body, "returns_on": str(RETURNS)}, format="json")
    assert done.status_code == 201, done.content
    assert done.json()["returns_on"] == str(RETURNS) and done.json()["cover_status"] == "pending"


@pytest.fixture
def defaults(people):
    people.east.default_witness = people.witness
    people.east.default_manager = people.manager
    people.east.save()
    return people


def _departure(people, **overrides) -> dict:
    data = {
        "external_id": "HR-COVER-1",
        "employee_no": people.departing.employee_no,
        "kind": "maternity_leave",
        "notice_date": str(TODAY),
        "last_working_day": str(LAST_DAY),
        "receiver_employee_nos": [people.receiver.employee_no],
    }
    data.update(overrides)
    return data


def test_the_hr_system_must_send_the_return_date_of_a_cover(defaults, small_book):
    refused = api(defaults.hr).post("/api/hr/departures/", _departure(defaults), format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "returns_on", refused.content
    refused = api(defaults.hr).post(
        "/api/hr/departures/", _departure(defaults, kind="resignation", returns_on=str(RETURNS)), format="json"
    )
    assert refused.status_code == 400 and refused.json()["field"] == "returns_on"
    assert not Handover.objects.exists() and not HrDeparture.objects.exists()
    done = api(defaults.hr).post("/api/hr/departures/", _departure(defaults, returns_on=str(RETURNS)), format="json")
    assert done.status_code == 201, done.content
    assert done.json()["returns_on"] == str(RETURNS)
    assert Handover.objects.get().returns_on == RETURNS


def test_the_same_hr_id_with_another_return_date_is_refused(defaults, small_book):
    api(defaults.hr).post("/api/hr/departures/", _departure(defaults, returns_on=str(RETURNS)), format="json")
    later = str(RETURNS + datetime.timedelta(days=7))
    again = api(defaults.hr).post("/api/hr/departures/", _departure(defaults, returns_on=later), format="json")
    assert again.status_code == 409
    same = api(defaults.hr).post("/api/hr/departures/", _departure(defaults, returns_on=str(RETURNS)), format="json")
    assert same.status_code == 200
    assert Handover.objects.count() == 1


# ---------------------------------------------------------------------------------------
# The cover begins at completion, with no account revocation


def test_completion_gives_the_clients_to_the_cover_person_and_the_cover_is_active(people, cover, small_book):
    assert owners(small_book) == {people.receiver.pk}
    assert cover.cover_status == CoverStatus.ACTIVE
    detail = api(people.hr).get(f"/api/handovers/{cover.pk}/").json()
    assert detail["returns_on"] == str(RETURNS) and detail["cover_status"] == "active"
    assert detail["cover_ended_at"] is None and detail["cover_ended_by"] is None
    # The lists say it too: the API's and the page's.
    listed = api(people.hr).get("/api/handovers/").json()["results"]
    assert [h["returns_on"] for h in listed if h["id"] == cover.pk] == [str(RETURNS)]


def test_the_handover_list_shows_a_cover_and_its_return_date(people, cover, login):
    page = login(people.hr).get(reverse("handover:list")).content.decode()
    assert 'data-cover-status="active"' in page
    assert RETURNS.isoformat() in page


def test_a_cover_creates_no_revoke_duty_and_hr_cannot_revoke(people, cover):
    assert not Duty.objects.filter(handover=cover, kind=DutyKind.REVOKE_ACCOUNTS).exists()
    assert Duty.objects.filter(handover=cover, kind=DutyKind.CONTACT_CLIENT).exists()
    with pytest.raises(WrongState):
        services.handover_revoke_access(handover=cover, user=people.hr)
    people.departing.refresh_from_db()
    assert people.departing.is_active


# ---------------------------------------------------------------------------------------
# The return on the return date, by the daily scan


def test_the_scan_leaves_the_cover_until_the_return_date(people, cover, small_book):
    reminders_scan(today=RETURNS - datetime.timedelta(days=1))
    assert owners(small_book) == {people.receiver.pk}
    assert fresh(cover).cover_status == CoverStatus.ACTIVE


def test_the_scan_returns_the_clients_on_the_return_date_once(people, cover, small_book):
    result = reminders_scan(today=RETURNS)
    assert result["covers_ended"] == 1
    h = fresh(cover)
    assert owners(small_book) == {people.departing.pk}
    assert h.cover_status == CoverStatus.ENDED and h.cover_ended_by is None
    changes = OwnershipChange.objects.filter(to_owner=people.departing, from_owner=people.receiver)
    assert changes.count() == len(small_book)
    assert {c.reason for c in changes} == {f"代管结束：交接单{h.number}"}
    assert Event.objects.filter(handover=h, kind="cover_ended").count() == 1
    # No one is reminded any more of contacting or visiting the clients gone back.
    assert not Duty.objects.filter(handover=h, client__isnull=False, done_at__isnull=True).exists()
    told = set(Notification.objects.filter(handover=h, title__contains="代管").values_list("user_id", flat=True))
    assert {people.departing.pk, people.receiver.pk} <= told
    # The next day: nothing more (a cover ends once).
    again = reminders_scan(today=RETURNS + datetime.timedelta(days=1))
    assert again["covers_ended"] == 0
    assert OwnershipChange.objects.filter(to_owner=people.departing).count() == len(small_book)
    with pytest.raises(WrongState):
        services.cover_end(handover=h, today=RETURNS)


def test_a_client_that_changed_hands_or_is_in_another_open_handover_stays(people, cover, small_book, receiver2):
    moved, busy, back = small_book
    Client.objects.filter(pk=moved.pk).update(owner=people.other_sales)
    # The cover person leaves meanwhile with one of the clients in their own open handover.
    Client.objects.filter(pk=busy.pk).update(owner=receiver2)
    ClientFactory(owner=receiver2)
    services.handover_start(
        started_by=people.hr,
        departing=receiver2,
        receiver=people.other_sales,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=TODAY,
        last_working_day=LAST_DAY,
    )
    HandoverClient.objects.filter(handover=cover, client=busy).update(receiver=receiver2)
    result = services.cover_end(handover=cover, today=RETURNS)
    assert result.ended and result.returned == 1
    assert Client.objects.get(pk=back.pk).owner_id == people.departing.pk
    assert Client.objects.get(pk=moved.pk).owner_id == people.other_sales.pk
    assert Client.objects.get(pk=busy.pk).owner_id == receiver2.pk
    event = Event.objects.get(handover=cover, kind="cover_ended")
    assert moved.name in event.comment and busy.name in event.comment
    assert len(event.data["stayed"]) == 2


# ---------------------------------------------------------------------------------------
# No return to someone who has left or is leaving


def test_no_return_to_an_inactive_account_hr_and_the_supervisor_are_told(people, cover, small_book, login):
    people.departing.is_active = False
    people.departing.save()
    result = reminders_scan(today=RETURNS)
    assert result["covers_refused"] == 1 and result["covers_ended"] == 0
    h = fresh(cover)
    assert owners(small_book) == {people.receiver.pk}
    assert h.cover_status == CoverStatus.REFUSED and h.cover_ended_at is None and h.cover_refusal
    told = set(Notification.objects.filter(handover=h, source__startswith="event:").values_list("user_id", flat=True))
    assert {people.hr.pk, people.supervisor.pk} <= told
    assert not OwnershipChange.objects.filter(to_owner=people.departing).exists()
    # The scan does not try again every day.
    events = Event.objects.filter(handover=h, kind="cover_return_refused").count()
    reminders_scan(today=RETURNS + datetime.timedelta(days=1))
    assert Event.objects.filter(handover=h, kind="cover_return_refused").count() == events == 1
    # The page shows it.
    assert 'id="cover-refusal"' in login(people.hr).get(reverse("handover:detail", args=[h.pk])).content.decode()


def test_no_return_to_someone_leaving_in_an_open_handover(people, cover, small_book):
    services.handover_start(
        started_by=people.hr,
        departing=people.departing,
        receiver=people.other_sales,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=TODAY,
        last_working_day=LAST_DAY,
    )
    result = services.cover_end(handover=cover, today=RETURNS)
    assert not result.ended and "交接" in result.refusal
    assert owners(small_book) == {people.receiver.pk}
    assert fresh(cover).cover_status == CoverStatus.REFUSED


# ---------------------------------------------------------------------------------------
# HR ends a cover early


@pytest.mark.parametrize("who", ["supervisor", "manager", "receiver", "witness"])
def test_only_hr_ends_a_cover_early(people, cover, small_book, login, who):
    user = getattr(people, who)
    with pytest.raises(NotAllowed):
        services.cover_end(handover=cover, by=user)
    response = login(user).post(reverse("handover:cover_end", args=[cover.pk]))
    assert response.status_code == 302
    refused = api(user).post(f"/api/handovers/{cover.pk}/cover/end/", {"confirm": True}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed"
    assert owners(small_book) == {people.receiver.pk}
    assert fresh(cover).cover_status == CoverStatus.ACTIVE


def test_the_absent_person_cannot_end_their_own_cover(people, cover, small_book):
    Group.objects.get_or_create(name=Role.HR)[0].user_set.add(people.departing)
    with pytest.raises(NotAllowed):
        services.cover_end(handover=cover, by=people.departing)
    assert owners(small_book) == {people.receiver.pk}


def test_hr_ends_a_cover_early_on_the_page(people, cover, small_book, login):
    browser = login(people.hr)
    page = browser.get(reverse("handover:detail", args=[cover.pk])).content.decode()
    assert 'id="cover-end"' in page and "提前结束代管" in page
    response = browser.post(reverse("handover:cover_end", args=[cover.pk]))
    assert response.status_code == 302
    h = fresh(cover)
    assert h.cover_status == CoverStatus.ENDED and h.cover_ended_by == people.hr
    assert owners(small_book) == {people.departing.pk}
    assert Event.objects.get(handover=h, kind="cover_ended").data["early"] is True
    told = set(Notification.objects.filter(handover=h, title__contains="提前").values_list("user_id", flat=True))
    assert {people.departing.pk, people.receiver.pk} <= told
    # Ended: the button is gone, and a second end is refused.
    assert 'id="cover-end"' not in browser.get(reverse("handover:detail", args=[h.pk])).content.decode()
    again = api(people.hr).post(f"/api/handovers/{h.pk}/cover/end/", {"confirm": True}, format="json")
    assert again.status_code == 409


def test_the_supervisor_sees_no_end_button(people, cover, login):
    page = login(people.supervisor).get(reverse("handover:detail", args=[cover.pk])).content.decode()
    assert 'id="cover"' in page and 'id="cover-end"' not in page


def test_the_api_ends_a_cover_early_with_confirmation(people, cover, small_book):
    url = f"/api/handovers/{cover.pk}/cover/end/"
    unconfirmed = api(people.hr).post(url, {"confirm": False}, format="json")
    assert unconfirmed.status_code == 400 and unconfirmed.json()["field"] == "confirm"
    assert owners(small_book) == {people.receiver.pk}
    done = api(people.hr).post(url, {"confirm": True}, format="json")
    assert done.status_code == 200, done.content
    assert done.json() == {
        "handover": cover.pk,
        "ended": True,
        "cover_status": "ended",
        "returned": 3,
        "stayed": [],
        "refusal": "",
    }


def test_no_early_end_for_a_departure_nor_before_completion(people, start_cover, small_book):
    h = start_cover()
    refused = api(people.hr).post(f"/api/handovers/{h.pk}/cover/end/", {"confirm": True}, format="json")
    assert refused.status_code == 409  # not yet begun
    services.handover_transition(handover=h, name="cancel", user=people.hr, comment="改为离职")
    resignation = advance_to(start_cover(reason="resignation", returns_on=None), State.COMPLETED)
    refused = api(people.hr).post(f"/api/handovers/{resignation.pk}/cover/end/", {"confirm": True}, format="json")
    assert refused.status_code == 409
    assert owners(small_book) == {people.receiver.pk}


# ---------------------------------------------------------------------------------------
# What the absent person reads during the cover: the company's setting


def _absent(people, login):
    return login(people.departing)


def test_by_default_the_absent_person_sees_nothing_of_the_covered_clients(people, cover, small_book, login):
    browser = _absent(people, login)
    assert browser.get(reverse("clients:detail", args=[small_book[0].pk])).status_code == 404
    assert small_book[0].name not in browser.get(reverse("clients:list")).content.decode()


def test_with_read_access_the_absent_person_reads_but_edits_nothing(people, cover, small_book, login):
    CoverPolicy.objects.create(absent_access=CoverAccess.READ)
    c = small_book[0]
    browser = _absent(people, login)
    assert c.name in browser.get(reverse("clients:list")).content.decode()
    assert browser.get(reverse("clients:detail", args=[c.pk])).status_code == 200
    follow_up = {"date": f"{TODAY:%Y-%m-%d}", "kind": "phone", "content": "休假期间联系"}
    assert browser.post(reverse("clients:follow_up_add", args=[c.pk]), follow_up).status_code == 403
    assert browser.post(reverse("clients:mark_lost", args=[c.pk]), {"lost_reason": "price"}).status_code == 403
    assert api(people.departing).get(f"/api/clients/{c.pk}/").status_code == 200
    refused = api(people.departing).post(f"/api/clients/{c.pk}/follow-ups/", follow_up, format="json")
    assert refused.status_code == 403
    assert not c.follow_ups.exists()
    assert Client.objects.get(pk=c.pk).status != "lost"
    # No copy taken during the cover either.
    assert browser.get(reverse("clients:export")).status_code == 403


def test_read_access_ends_with_the_cover_and_not_for_another_person(people, cover, small_book, login):
    CoverPolicy.objects.create(absent_access=CoverAccess.READ)
    c = small_book[0]
    assert login(people.other_sales).get(reverse("clients:detail", args=[c.pk])).status_code == 404
    # A client the cover person gave away meanwhile is not the absent person's to read.
    Client.objects.filter(pk=small_book[1].pk).update(owner=people.other_sales)
    browser = _absent(people, login)
    assert browser.get(reverse("clients:detail", args=[small_book[1].pk])).status_code == 404
    services.cover_end(handover=cover, by=people.hr)
    # Back with them: their own again, and their exports with them.
    assert browser.get(reverse("clients:detail", args=[c.pk])).status_code == 200
    assert browser.get(reverse("clients:export")).status_code == 200


def test_the_absent_person_sees_the_return_date_on_their_summary(people, cover, login):
    page = login(people.departing).get(reverse("handover:detail", args=[cover.pk])).content.decode()
    assert 'id="client-data-withheld"' in page  # the summary, not the clients' data
    assert f"{RETURNS:%Y-%m-%d}" in page and 'data-cover-status="active"' in page and "代管中" in page
    assert 'id="cover-end"' not in page


def test_the_timeline_names_the_end_of_a_cover(people, cover, login):
    services.cover_end(handover=cover, by=people.hr)
    page = login(people.supervisor).get(reverse("handover:detail", args=[cover.pk]) + "?tab=timeline")
    assert "代管结束：客户已归还" in page.content.decode()


# ---------------------------------------------------------------------------------------
# HR moves the return date (an extended leave)


def test_hr_extends_a_cover_and_the_scan_waits_for_the_new_date(people, cover, small_book, login):
    later = RETURNS + datetime.timedelta(days=30)
    response = login(people.hr).post(
        reverse("handover:cover_return_date", args=[cover.pk]), {"returns_on": f"{later:%Y-%m-%d}"}
    )
    assert response.status_code == 302
    assert fresh(cover).returns_on == later
    assert Event.objects.filter(handover=cover, kind="cover_return_date_changed").count() == 1
    reminders_scan(today=RETURNS)
    assert owners(small_book) == {people.receiver.pk}
    reminders_scan(today=later)
    assert owners(small_book) == {people.departing.pk}


@pytest.mark.parametrize("who", ["supervisor", "manager", "receiver", "witness"])
def test_only_hr_changes_the_return_date(people, cover, who):
    later = RETURNS + datetime.timedelta(days=30)
    with pytest.raises(NotAllowed):
        services.cover_set_return_date(handover=cover, by=getattr(people, who), returns_on=later)
    refused = api(getattr(people, who)).post(
        f"/api/handovers/{cover.pk}/cover/return-date/", {"returns_on": str(later)}, format="json"
    )
    assert refused.status_code == 403
    assert fresh(cover).returns_on == RETURNS


def test_a_bad_new_return_date_comes_back_with_what_was_typed(people, cover, login):
    too_late = LAST_DAY + datetime.timedelta(days=800)
    response = login(people.hr).post(
        reverse("handover:cover_return_date", args=[cover.pk]), {"returns_on": f"{too_late:%Y-%m-%d}"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f'value="{too_late:%Y-%m-%d}"' in page and 'data-field="returns_on"' in page and "两年" in page
    assert fresh(cover).returns_on == RETURNS
    past = api(people.hr).post(
        f"/api/handovers/{cover.pk}/cover/return-date/", {"returns_on": str(LAST_DAY)}, format="json"
    )
    assert past.status_code == 400 and past.json()["field"] == "returns_on"
    assert fresh(cover).returns_on == RETURNS


def test_no_new_return_date_once_the_cover_ended(people, cover):
    services.cover_end(handover=cover, by=people.hr)
    refused = api(people.hr).post(
        f"/api/handovers/{cover.pk}/cover/return-date/",
        {"returns_on": str(RETURNS + datetime.timedelta(days=1))},
        format="json",
    )
    assert refused.status_code == 409
    assert fresh(cover).returns_on == RETURNS


def test_the_api_changes_the_return_date(people, cover):
    later = RETURNS + datetime.timedelta(days=14)
    done = api(people.hr).post(
        f"/api/handovers/{cover.pk}/cover/return-date/", {"returns_on": str(later)}, format="json"
    )
    assert done.status_code == 200, done.content
    assert done.json() == {"handover": cover.pk, "returns_on": str(later), "cover_status": "active"}
