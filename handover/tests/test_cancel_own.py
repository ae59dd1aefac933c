"""The departing person never cancels their own handover, whatever other role they hold.

In a small company the departing salesperson may also hold the HR role, which may cancel any
handover (policy.may_cancel). Every other test user holds one role, so only here does the
"not the departing person" clause of may_cancel decide anything.
"""

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import ERROR, get_messages
from django.urls import reverse

from accounts.roles import Role
from accounts.tokens import api_token_create
from handover import services
from handover.models import Handover, State
from tests.walk import advance_to


@pytest.fixture
def departing_hr(people):
    people.departing.groups.add(Group.objects.get(name=Role.HR))
    return people.departing


@pytest.mark.parametrize("state", [State.PLAN, State.VISITS])
def test_the_departing_person_who_is_also_hr_cannot_cancel_on_the_page(handover, departing_hr, login, state):
    h = advance_to(handover, state)
    browser = login(departing_hr)
    page = browser.get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert 'data-step="cancel"' not in page

    response = browser.post(
        reverse("handover:transition", args=[h.pk, "cancel"]), {"version": h.version, "comment": "我自己取消"}
    )

    assert response.status_code == 302
    assert [m.level for m in get_messages(response.wsgi_request)] == [ERROR]
    after = Handover.objects.get(pk=h.pk)
    assert (after.state, after.version) == (state, h.version)


def test_the_departing_person_who_is_also_hr_cannot_cancel_through_the_api(handover, departing_hr, client):
    key = api_token_create(user=departing_hr)[0]
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    url = reverse("api:handover-detail", args=[handover.pk])
    assert "cancel" not in client.get(url, **headers).json()["available_transitions"]

    response = client.post(
        reverse("api:handover-transition", args=[handover.pk, "cancel"]),
        {"version": handover.version, "comment": "我自己取消"},
        content_type="application/json",
        **headers,
    )

    assert response.status_code == 403 and response.json()["code"] == "not_allowed"
    assert Handover.objects.get(pk=handover.pk).state == State.PLAN


def test_the_departing_person_who_is_also_hr_cannot_cancel_through_the_service(handover, departing_hr):
    with pytest.raises(services.NotAllowed):
        services.handover_transition(handover=handover, name="cancel", user=departing_hr, comment="我自己取消")
    assert Handover.objects.get(pk=handover.pk).state == State.PLAN


def test_another_hr_person_still_cancels_it(handover, departing_hr, people):
    # The control: the refusal above is about who the person is in this handover, not about HR.
    h = services.handover_transition(handover=handover, name="cancel", user=people.hr, comment="离职申请撤回")
    assert h.state == State.CANCELLED
