"""The duty page (/handovers/duties/) and GET /api/duties/: one's own duties, done or not, recorded
from there; a supervisor sees their team's and who is late, not another team's; the departed
person and outsiders see none."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from accounts.tokens import api_token_create
from clients.models import FollowUpKind
from clients.tests.factories import ClientFactory
from handover.models import Duty, DutyKind, State
from tests.walk import advance_to

DUTIES = "/handovers/duties/"


@pytest.fixture
def completed(handover):
    return advance_to(handover, State.COMPLETED)


@pytest.fixture
def north_duty(people, start):
    """Another team's duty: a receiver of department north owes a contact, late."""
    north_receiver = UserFactory(
        username="north_receiver",
        full_name="北方接收",
        department=people.north,
        supervisor=people.other_supervisor,
        roles=[Role.SALES],
    )
    client = ClientFactory(owner=north_receiver, name="华北远方有限公司")
    h = start(departing=people.other_sales, receiver=north_receiver)
    return Duty.objects.create(
        handover=h,
        kind=DutyKind.CONTACT_CLIENT,
        client=client,
        assignee=north_receiver,
        due_on=timezone.localdate() - datetime.timedelta(days=3),
    )


def _api(user):
    api = APIClient()
    if user is not None:
        api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
    return api


def _rows(response) -> list[dict]:
    body = response.json()
    return body["results"] if isinstance(body, dict) else body


def test_the_inbox_to_do_opens_the_duty_page(completed, people, login):
    page = login(people.receiver).get(reverse("handover:inbox")).content.decode()
    assert f'href="{DUTIES}#handover-{completed.pk}-contact_client"' in page
    assert f'href="{DUTIES}#handover-{completed.pk}-visit_client"' in page


def test_the_receiver_records_from_the_duty_page_and_comes_back_to_it(completed, people, login):
    browser = login(people.receiver)
    page = browser.get(DUTIES).content.decode()
    assert page.count("记录跟进") == 2 * completed.clients.count()
    assert "未完成" in page and f'id="handover-{completed.pk}-contact_client"' in page
    client = completed.clients.first().client
    link = reverse("clients:follow_up_add", args=[client.pk]) + "?kind=phone&amp;next="
    assert link in page
    form = browser.get(reverse("clients:follow_up_add", args=[client.pk]) + f"?kind=phone&next={DUTIES}").content
    assert b'value="phone" selected' in form and DUTIES.encode() in form
    response = browser.post(
        reverse("clients:follow_up_add", args=[client.pk]),
        {
            "date": timezone.localdate().isoformat(),
            "kind": FollowUpKind.WECHAT,
            "contact": "",
            "content": "微信告知新对接人。",
            "next": f"{DUTIES}#handover-{completed.pk}-contact_client",
        },
    )
    assert response.status_code == 302 and response["Location"].startswith(DUTIES)
    page = browser.get(DUTIES).content.decode()
    assert "已完成" in page
    assert Duty.objects.get(handover=completed, client=client, kind=DutyKind.CONTACT_CLIENT).done_by == people.receiver
    assert Duty.objects.get(handover=completed, client=client, kind=DutyKind.VISIT_CLIENT).done_at is None


def test_a_supervisor_sees_their_team_and_who_is_late_not_another_team(completed, north_duty, people, login):
    Duty.objects.filter(handover=completed, kind=DutyKind.CONTACT_CLIENT).update(
        due_on=timezone.localdate() - datetime.timedelta(days=2)
    )
    page = login(people.supervisor).get(DUTIES).content.decode()
    assert completed.number in page and north_duty.handover.number not in page
    assert "逾期人员" in page and people.receiver.full_name in page and "北方接收" not in page
    assert "记录跟进" not in page  # they see, the receiver records
    late = login(people.supervisor).get(DUTIES + "?late=1").content.decode()
    assert "visit_client" not in late and f"handover-{completed.pk}-contact_client" in late

    other = login(people.other_supervisor).get(DUTIES).content.decode()
    assert north_duty.handover.number in other and completed.number not in other
    assert "北方接收" in other


@pytest.mark.parametrize("who", ["departing", "witness", "other_sales"])
def test_the_departed_person_and_outsiders_see_no_duty(completed, people, login, who):
    page = login(getattr(people, who)).get(DUTIES).content.decode()
    assert completed.number not in page and "没有交接后待办" in page
    assert _rows(_api(getattr(people, who)).get(reverse("api:duty-list"))) == []


def test_hr_revokes_from_the_duty_page(completed, people, login):
    browser = login(people.hr)
    page = browser.get(DUTIES).content.decode()
    action = reverse("handover:revoke_access", args=[completed.pk])
    assert action in page and "记录跟进" not in page
    response = browser.post(action, {"next": "duties"})
    assert response["Location"] == DUTIES
    assert Duty.objects.get(handover=completed, kind=DutyKind.REVOKE_ACCOUNTS).done_by == people.hr
    assert action not in browser.get(DUTIES).content.decode()


def test_api_duties_with_the_page_visibility_and_filters(completed, north_duty, people):
    mine = _rows(_api(people.receiver).get(reverse("api:duty-list")))
    assert {d["handover"] for d in mine} == {completed.pk}
    assert {d["kind"] for d in mine} == {"contact_client", "visit_client"}
    assert all(d["assignee"]["id"] == people.receiver.pk and not d["is_done"] for d in mine)

    team = _rows(_api(people.supervisor).get(reverse("api:duty-list")))
    # + HR's revoke duty, and their own evaluation of the handover.
    assert north_duty.pk not in {d["id"] for d in team} and len(team) == len(mine) + 2
    late = _rows(_api(people.other_supervisor).get(reverse("api:duty-list"), {"late": "true"}))
    assert [d["id"] for d in late] == [north_duty.pk] and late[0]["is_late"]
    assert _rows(_api(people.other_supervisor).get(reverse("api:duty-list"), {"late": "false"})) == []

    client = completed.clients.first().client
    Duty.objects.filter(handover=completed, client=client, kind=DutyKind.CONTACT_CLIENT).update(done_at=timezone.now())
    done = _rows(_api(people.receiver).get(reverse("api:duty-list"), {"done": "true"}))
    assert [(d["client"], d["kind"], d["is_done"]) for d in done] == [(client.pk, "contact_client", True)]
    still = _rows(_api(people.receiver).get(reverse("api:duty-list"), {"done": "false"}))
    assert len(still) == len(mine) - 1

    refused = _api(people.receiver).get(reverse("api:duty-list"), {"late": "maybe"})
    assert refused.status_code == 400 and refused.json()["field"] == "late"
    assert _api(None).get(reverse("api:duty-list")).status_code == 401


def test_the_schema_describes_the_new_endpoints(people):
    schema = _api(people.receiver).get(reverse("api:schema")).json()
    follow_ups = schema["paths"]["/api/clients/{client_id}/follow-ups/"]
    assert {"get", "post"} <= set(follow_ups)
    assert "FollowUpCreate" in str(follow_ups["post"]["requestBody"])
    duties = schema["paths"]["/api/duties/"]["get"]
    assert {p["name"] for p in duties["parameters"]} >= {"done", "late"}


def test_a_duty_reminder_links_to_the_duty_page(completed, people):
    from handover.reminders import reminders_scan
    from notifications.models import Notification

    due = Duty.objects.filter(handover=completed, assignee=people.receiver).order_by("due_on").first().due_on
    reminders_scan(today=due + datetime.timedelta(days=1))
    urls = set(
        Notification.objects.filter(user=people.receiver, source__startswith="reminder:").values_list("url", flat=True)
    )
    assert f"{DUTIES}#handover-{completed.pk}-contact_client" in urls


def test_a_manager_sees_the_duties_of_the_handovers_they_are_named_on(completed, north_duty, people, login):
    page = login(people.manager).get(DUTIES).content.decode()
    assert completed.number in page and north_duty.handover.number in page  # named on both
    north_duty.handover.__class__.objects.filter(pk=north_duty.handover_id).update(manager=people.other_supervisor)
    page = login(people.manager).get(DUTIES).content.decode()
    assert completed.number in page and north_duty.handover.number not in page


def test_hr_sees_every_handovers_duties_a_page_at_a_time(completed, north_duty, people, login, monkeypatch):
    from handover.selectors import duties as duty_selectors

    monkeypatch.setattr(duty_selectors, "HANDOVERS_PER_PAGE", 1)
    browser = login(people.hr)
    first = browser.get(DUTIES).content.decode()
    second = browser.get(DUTIES + "?page=2").content.decode()
    numbers = (completed.number, north_duty.handover.number)
    assert sorted(n for n in numbers if n in first + second) == sorted(numbers)
    assert sum(n in first for n in numbers) == 1 == sum(n in second for n in numbers)
    # Who is late counts over every page.
    assert "北方接收" in first and "北方接收" in second
