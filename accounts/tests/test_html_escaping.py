"""Text people type is shown as text: a script or HTML in it never reaches a page as markup.

The handover page writes its long rows in Python (handover/templatetags/handover_page.py) rather
than through the template engine, so its escaping is checked here as carefully as the templates'.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from clients.tests.factories import ClientFactory, ContactFactory, ContractFactory, FollowUpFactory
from handover import services
from handover.models import State, VisitMode
from tests.walk import advance_to

SCRIPT = '<script>alert("x")</script>'
IMG = "<img src=x onerror=alert(1)>"


def payload(label: str) -> str:
    return f"{label}{SCRIPT}{IMG}"


def assert_escaped(html: str, text: str) -> None:
    assert text not in html
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert escape(text) in html


@pytest.fixture
def hostile(people):
    """A client whose every text field carries markup, in a started handover."""
    client = ClientFactory(owner=people.departing, grade="A", name=payload("客户"), preferences=payload("偏好"))
    ContactFactory(client=client, name=payload("联系人")[:50])
    ContractFactory(client=client, name=payload("合同"))
    FollowUpFactory(client=client, content=payload("跟进"))
    today = timezone.localdate()
    h = services.handover_start(
        started_by=people.hr,
        departing=people.departing,
        receiver=people.receiver,
        witness=people.witness,
        manager=people.manager,
        reason="resignation",
        notice_date=today,
        last_working_day=today + datetime.timedelta(days=30),
    )
    return client, h


def test_client_texts_are_escaped_on_the_client_pages(people, login, hostile):
    client, _h = hostile
    browser = login(people.supervisor)

    detail = browser.get(reverse("clients:detail", args=[client.pk])).content.decode()
    for text in (client.name, client.preferences, payload("跟进"), payload("合同")):
        assert_escaped(detail, text)
    assert_escaped(detail, client.contacts.get().name)

    listing = browser.get(reverse("clients:list")).content.decode()
    assert_escaped(listing, client.name)


def test_the_client_name_is_escaped_on_the_handover_pages(people, login, hostile):
    client, h = hostile
    browser = login(people.departing)
    assert_escaped(browser.get(reverse("handover:detail", args=[h.pk])).content.decode(), client.name)


def test_a_dispute_reason_is_escaped_on_the_handover_page(people, login, hostile):
    client, h = hostile
    h = advance_to(h, State.MATERIALS)
    item = h.items.get(handover_client__client=client, kind="client")
    services.item_hand_over(item=item, user=people.departing)
    reason = payload("缺页")
    services.item_dispute(item=item, user=people.receiver, reason=reason)

    browser = login(people.supervisor)
    page = browser.get(reverse("handover:detail", args=[h.pk]) + "?tab=materials").content.decode()
    timeline = browser.get(reverse("handover:detail", args=[h.pk]) + "?tab=timeline").content.decode()

    # On the item row, and in the timeline (its own tab).
    for content in (page, timeline):
        assert_escaped(content, reason)
        assert escape(reason) in content


def test_a_visit_record_is_escaped_on_the_handover_page(people, login, hostile):
    client, h = hostile
    h = advance_to(h, State.VISITS)
    outcome, concerns = payload("结果"), payload("顾虑")
    services.visit_record(
        handover_client=h.clients.get(),
        user=people.departing,
        visited_on=timezone.localdate(),
        mode=VisitMode.IN_PERSON,
        contact_met=payload("张")[:100],
        outcome=outcome,
        concerns=concerns,
    )

    page = login(people.receiver).get(reverse("handover:detail", args=[h.pk])).content.decode()

    assert_escaped(page, outcome)
    assert_escaped(page, concerns)


def test_a_return_reason_and_the_report_are_escaped_on_the_handover_page(people, login, hostile):
    _client, h = hostile
    h = advance_to(h, State.PLAN_REVIEW)
    reason = payload("退回")
    h = services.handover_transition(handover=h.pk, name="return_plan_review", user=people.supervisor, comment=reason)

    page = login(people.departing).get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert_escaped(page, reason)

    h = advance_to(h, State.REPORT)
    summary = payload("总结")
    services.report_update(handover=h, user=people.departing, summary=summary, open_risks=payload("风险"), advice="")
    page = login(people.departing).get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert_escaped(page, summary)
    assert_escaped(page, payload("风险"))
