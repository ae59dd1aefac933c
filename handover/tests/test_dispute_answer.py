"""A dispute in the departing person's to-do, answered there (hand over again with a reply), and
the receiver's confirmation of the items they select, all or none (issue 11, item 6)."""

import pytest
from django.urls import reverse

from accounts.tokens import api_token_create
from handover import services
from handover.models import ChecklistItem, Handover, ItemStatus, State
from notifications.models import Notification
from tests.walk import advance_to

INBOX = reverse("handover:inbox")


@pytest.fixture
def disputed(handover, people):
    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    item = h.items.order_by("order", "pk").first()
    services.item_dispute(item=item, user=people.receiver, reason="合同原件缺第3页")
    item.refresh_from_db()
    return item


def _answer_url(item) -> str:
    return reverse("handover:item_answer", args=[item.handover_id, item.pk])


def _version(item) -> int:
    return Handover.objects.values_list("version", flat=True).get(pk=item.handover_id)


def test_the_dispute_shows_in_the_departing_persons_todo_with_item_and_reason(disputed, people, login):
    page = login(people.departing).get(INBOX).content.decode()
    assert f'id="dispute-{disputed.pk}"' in page
    assert disputed.title in page and "合同原件缺第3页" in page
    assert f'action="{_answer_url(disputed)}"' in page
    # The to-do line opens the tab where the work is done.
    detail = reverse("handover:detail", args=[disputed.handover_id])
    assert f'href="{detail}?tab=materials" data-handover="{disputed.handover_id}"' in page


def test_the_departing_person_answers_in_the_inbox_and_the_receiver_reads_the_reply(disputed, people, login):
    before = set(Notification.objects.values_list("pk", flat=True))
    response = login(people.departing).post(
        _answer_url(disputed), {"reply": "第3页已补，原件在档案柜B2", "next": "inbox"}
    )

    assert response.status_code == 302 and response.url == INBOX
    disputed.refresh_from_db()
    assert disputed.status == ItemStatus.HANDED_OVER
    assert disputed.dispute_reply == "第3页已补，原件在档案柜B2"
    told = list(Notification.objects.exclude(pk__in=before))
    link = reverse("handover:detail", args=[disputed.handover_id]) + f"?tab=materials#item-{disputed.pk}"
    assert [(x.user_id, x.url) for x in told] == [(people.receiver.pk, link)]
    # The receiver sees the reason and the reply on the item's row, and may confirm it again.
    page = login(people.receiver).get(reverse("handover:detail", args=[disputed.handover_id])).content.decode()
    row = page[page.index(f'id="item-{disputed.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "第3页已补，原件在档案柜B2" in row and "合同原件缺第3页" in row
    # Gone from the departing person's to-do.
    assert f'id="dispute-{disputed.pk}"' not in login(people.departing).get(INBOX).content.decode()


def test_confirming_clears_the_dispute_and_its_reply(disputed, people):
    services.item_answer_dispute(item=disputed, user=people.departing, reply="已补齐")
    services.item_confirm(item=disputed, user=people.receiver)
    disputed.refresh_from_db()
    assert (disputed.status, disputed.dispute_reason, disputed.dispute_reply) == (ItemStatus.CONFIRMED, "", "")


def test_someone_else_cannot_answer_a_dispute(disputed, people, login):
    version = _version(disputed)
    for person in (people.receiver, people.supervisor, people.manager):
        with pytest.raises(services.NotAllowed):
            services.item_answer_dispute(item=disputed, user=person, reply="我来答复")
        response = login(person).post(_answer_url(disputed), {"reply": "我来答复", "next": "inbox"})
        assert response.status_code == 403
    disputed.refresh_from_db()
    assert (disputed.status, disputed.dispute_reply) == (ItemStatus.DISPUTED, "")
    assert _version(disputed) == version


def test_an_item_not_disputed_cannot_be_answered(disputed, people, login):
    other = ChecklistItem.objects.filter(handover_id=disputed.handover_id, status=ItemStatus.HANDED_OVER).first()
    with pytest.raises(services.WrongState):
        services.item_answer_dispute(item=other, user=people.departing, reply="无异议也答复")
    response = login(people.departing).post(_answer_url(other), {"reply": "无异议也答复", "next": "inbox"})
    assert response.status_code == 409
    other.refresh_from_db()
    assert (other.status, other.dispute_reply) == (ItemStatus.HANDED_OVER, "")


def test_an_empty_reply_is_refused_on_the_row(disputed, people, login):
    response = login(people.departing).post(_answer_url(disputed), {"reply": "  ", "next": "inbox"})
    assert response.status_code == 400
    page = response.content.decode()
    form = page[page.index(f'id="dispute-{disputed.pk}"') :]
    assert "answer-error" in form[: form.index("</form>")]
    disputed.refresh_from_db()
    assert disputed.status == ItemStatus.DISPUTED


@pytest.mark.parametrize("where", ["inbox", "detail"])
def test_a_refused_reply_stays_in_its_box(disputed, people, login, where):
    # Stale: the page was loaded before someone else changed the handover.
    stale = _version(disputed) - 1
    reply = "原件已在<档案柜>B2"
    response = login(people.departing).post(_answer_url(disputed), {"reply": reply, "version": stale, "next": where})
    assert response.status_code == 409
    page = response.content.decode()
    form = page[page.index(f'id="dispute-{disputed.pk}"') :]
    form = form[: form.index("</form>")]
    assert "原件已在&lt;档案柜&gt;B2</textarea>" in form
    assert "answer-error" in form
    disputed.refresh_from_db()
    assert disputed.status == ItemStatus.DISPUTED


def test_the_dispute_is_answered_on_the_handover_page_too(disputed, people, login):
    url = reverse("handover:detail", args=[disputed.handover_id])
    page = login(people.departing).get(url).content.decode()
    assert f'id="dispute-{disputed.pk}"' in page
    response = login(people.departing).post(_answer_url(disputed), {"reply": "已补齐", "next": "detail"})
    assert response.status_code == 302
    assert response.url == f"{url}?tab=materials#item-{disputed.pk}"


def test_the_api_answers_a_dispute_and_refuses_another_person(disputed, people, client):
    url = reverse("api:item-answer", args=[disputed.handover_id, disputed.pk])

    def post(user, body):
        token = api_token_create(user=user)[0]
        return client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")

    refused = post(people.receiver, {"reply": "我来答复"})
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed"
    empty = post(people.departing, {"reply": ""})
    assert empty.status_code == 400 and empty.json()["field"] == "reply"
    done = post(people.departing, {"reply": "已补齐"})
    assert done.status_code == 200
    assert done.json()["status"] == ItemStatus.HANDED_OVER and done.json()["dispute_reply"] == "已补齐"
    again = post(people.departing, {"reply": "再答复一次"})
    assert again.status_code == 409 and again.json()["code"] == "wrong_state"


# ---------------------------------------------------------------------------------------
# Confirm the selected items, all or none


@pytest.fixture
def handed(handover, people, receiver2):
    from handover.models import HandoverClient

    hc = HandoverClient.objects.filter(handover=handover).order_by("pk").first()
    services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    return Handover.objects.get(pk=h.pk)


def _statuses(h, pks) -> list[str]:
    return list(ChecklistItem.objects.filter(handover=h, pk__in=pks).order_by("pk").values_list("status", flat=True))


def test_the_receiver_confirms_the_selected_items(handed, people, login):
    mine = list(handed.items.filter(receiver=people.receiver).order_by("pk").values_list("pk", flat=True))
    chosen = mine[:2]
    page = login(people.receiver).get(reverse("handover:detail", args=[handed.pk])).content.decode()
    assert 'id="confirm-selected"' in page
    assert page.count('form="confirm-selected"') == len(mine)
    response = login(people.receiver).post(
        reverse("handover:items_confirm", args=[handed.pk]), {"version": handed.version, "items": chosen}
    )
    assert response.status_code == 302
    assert _statuses(handed, chosen) == [ItemStatus.CONFIRMED] * 2
    assert _statuses(handed, mine[2:]) == [ItemStatus.HANDED_OVER] * len(mine[2:])


def test_a_selection_with_someone_elses_item_confirms_nothing(handed, people, receiver2):
    mine = list(handed.items.filter(receiver=people.receiver).values_list("pk", flat=True))[:2]
    theirs = list(handed.items.filter(receiver=receiver2).values_list("pk", flat=True))[:1]
    with pytest.raises(services.NotAllowed):
        services.items_confirm(handover=handed, user=people.receiver, item_ids=mine + theirs)
    assert set(_statuses(handed, mine + theirs)) == {ItemStatus.HANDED_OVER}


def test_a_selection_with_an_item_not_waiting_confirms_nothing(handed, people):
    mine = list(handed.items.filter(receiver=people.receiver).order_by("pk").values_list("pk", flat=True))
    services.item_dispute(item=ChecklistItem.objects.get(pk=mine[0]), user=people.receiver, reason="缺页")
    with pytest.raises(services.WrongState):
        services.items_confirm(handover=handed, user=people.receiver, item_ids=mine[:3])
    assert _statuses(handed, mine[1:3]) == [ItemStatus.HANDED_OVER] * 2
    with pytest.raises(services.InvalidInput):
        services.items_confirm(handover=handed, user=people.receiver, item_ids=[])


def test_the_api_confirms_the_selected_items(handed, people, receiver2, client):
    url = reverse("api:items-confirm", args=[handed.pk])
    mine = list(handed.items.filter(receiver=receiver2).values_list("pk", flat=True))
    token = api_token_create(user=receiver2)[0]
    response = client.post(url, {"items": mine}, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200 and response.json() == {"count": len(mine)}
    assert set(_statuses(handed, mine)) == {ItemStatus.CONFIRMED}
