"""The receivers-in-bulk pages: tick rows or filter, give them to one receiver, preview a split and
apply it; refusals keep what was chosen, next to the field or the row."""

import datetime
import re

import pytest
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.urls import reverse
from django.utils import timezone

from handover import services
from handover.models import HandoverClient, State
from tests.walk import advance_to


def _urls(h):
    return (
        reverse("handover:receivers_bulk", args=[h.pk]),
        reverse("handover:receivers_split_preview", args=[h.pk]),
        reverse("handover:receivers_split_apply", args=[h.pk]),
    )


def _levels(response):
    return [m.level for m in get_messages(response.wsgi_request)]


def _rows(h):
    return list(HandoverClient.objects.filter(handover=h).select_related("client").order_by("pk"))


@pytest.mark.django_db
def test_the_handover_page_shows_the_panel_to_who_may_use_it(handover, people, login):
    url = reverse("handover:detail", args=[handover.pk])
    page = login(people.supervisor).get(url).content.decode()
    assert 'id="receivers-bulk"' in page
    assert reverse("handover:receivers_split_preview", args=[handover.pk]) in page
    for who in (people.receiver, people.witness, people.manager):
        assert 'id="receivers-bulk"' not in login(who).get(url).content.decode()


@pytest.mark.django_db
def test_the_page_lists_every_client_with_its_row_version_and_receivable(handover, people, login):
    page_url, _preview, _apply = _urls(handover)
    response = login(people.departing).get(page_url)
    assert response.status_code == 200
    html = response.content.decode()
    for hc in _rows(handover):
        assert f'name="hc" value="{hc.pk}" form="receivers-bulk"' in html
        assert f'name="v-{hc.pk}" value="{hc.row_version}" form="receivers-bulk"' in html
    assert "¥30,000.00" in html
    # Never offered: the departing person, the parties who review the handover.
    offered = set(re.findall(r'name="receivers" value="(\d+)"', html))
    assert str(people.receiver.pk) in offered
    for party in (people.departing, people.supervisor, people.witness, people.manager):
        assert str(party.pk) not in offered


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["receiver", "witness", "manager", "other_supervisor"])
def test_the_page_is_refused_to_others(handover, people, login, who):
    page_url, _preview, _apply = _urls(handover)
    assert login(getattr(people, who)).get(page_url).status_code in (403, 404)


@pytest.mark.django_db
def test_ticked_rows_go_to_one_receiver(handover, people, receiver2, login):
    page_url, _preview, _apply = _urls(handover)
    a, b = _rows(handover)[:2]
    response = login(people.supervisor).post(
        page_url,
        {"hc": [a.pk, b.pk], f"v-{a.pk}": a.row_version, f"v-{b.pk}": b.row_version, "receivers": [receiver2.pk]},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("handover:detail", args=[handover.pk]) + "?tab=plan"
    assert _levels(response) == [SUCCESS]
    assert set(HandoverClient.objects.filter(receiver=receiver2).values_list("pk", flat=True)) == {a.pk, b.pk}


@pytest.mark.django_db
def test_a_filter_goes_to_one_receiver(handover, people, receiver2, login):
    page_url, _preview, _apply = _urls(handover)
    response = login(people.departing).post(page_url, {"grade": "C", "receivers": [receiver2.pk]})
    assert response.status_code == 302
    assert set(HandoverClient.objects.filter(receiver=receiver2).values_list("grade", flat=True)) == {"C"}


@pytest.mark.django_db
def test_two_receivers_for_a_plain_set_keep_the_input_and_say_why(handover, people, receiver2, login):
    page_url, _preview, _apply = _urls(handover)
    a = _rows(handover)[0]
    response = login(people.departing).post(
        page_url, {"hc": [a.pk], "grade": "B", "receivers": [receiver2.pk, people.receiver.pk]}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="receivers-bulk-receivers-error"' in html
    assert f'name="hc" value="{a.pk}" form="receivers-bulk" aria-label="{a.client.name}" checked' in html
    assert f'value="{receiver2.pk}" id="rb-r-{receiver2.pk}" form="receivers-bulk" checked' in html
    assert '<option value="B" selected>' in html
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_the_departing_person_as_receiver_is_refused_next_to_the_field(handover, people, login):
    page_url, preview_url, _apply = _urls(handover)
    for url, chosen in ((page_url, [people.departing.pk]), (preview_url, [people.receiver.pk, people.departing.pk])):
        response = login(people.supervisor).post(url, {"receivers": chosen})
        assert response.status_code == 400
        html = response.content.decode()
        assert 'id="receivers-bulk-receivers-error"' in html
        assert "接收人不能是移交人本人。" in html
    assert not HandoverClient.objects.filter(receiver=people.departing).exists()


@pytest.mark.django_db
def test_an_inactive_receiver_is_refused_by_name(handover, people, receiver2, login):
    receiver2.is_active = False
    receiver2.save()
    page_url, _preview, _apply = _urls(handover)
    response = login(people.departing).post(page_url, {"receivers": [receiver2.pk]})
    assert response.status_code == 400
    assert "陈接收" in response.content.decode()
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_a_conflict_is_shown_on_its_row_and_the_ticks_stay(handover, people, receiver2, login):
    page_url, _preview, _apply = _urls(handover)
    a, b = _rows(handover)[:2]
    services.handover_client_set_receiver(handover_client=b, user=people.departing, receiver=receiver2)
    response = login(people.supervisor).post(
        page_url, {"hc": [a.pk, b.pk], f"v-{a.pk}": 1, f"v-{b.pk}": 1, "receivers": [people.receiver.pk]}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert f'class="invalid-feedback d-block row-error" data-row="{b.pk}"' in html
    assert f'data-row="{a.pk}"' not in html
    assert f'value="{a.pk}" form="receivers-bulk" aria-label="{a.client.name}" checked' in html
    b.refresh_from_db()
    assert b.receiver_id == receiver2.pk


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["receiver", "witness", "other_supervisor"])
def test_others_are_refused_with_a_message_and_nothing_changes(handover, people, receiver2, login, who):
    page_url, preview_url, _apply = _urls(handover)
    user = getattr(people, who)
    for url, chosen in ((page_url, [receiver2.pk]), (preview_url, [receiver2.pk, people.receiver.pk])):
        response = login(user).post(url, {"receivers": chosen})
        if response.status_code == 404:
            continue  # not a party: the handover is not there for them
        assert response.status_code == 302
        # The redirect is not followed here: the first refusal's message is still waiting too.
        assert set(_levels(response)) == {ERROR}
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_after_the_plan_it_is_refused(handover, people, receiver2, login):
    h = advance_to(handover, State.MATERIALS)
    page_url, preview_url, _apply = _urls(h)
    assert login(people.supervisor).get(page_url).status_code == 403
    response = login(people.supervisor).post(page_url, {"receivers": [receiver2.pk]})
    assert response.status_code == 302 and _levels(response) == [ERROR]
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_preview_then_apply_applies_what_was_shown(handover, people, receiver2, login):
    _page, preview_url, apply_url = _urls(handover)
    client = login(people.supervisor)
    response = client.post(preview_url, {"receivers": [people.receiver.pk, receiver2.pk]})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="receivers-split-preview"' in html
    assert "¥150,000.00" in html  # 5 clients of ¥30,000.00 each
    assigned = re.findall(r'name="assign" value="(\d+):(\d+):(\d+)"', html)
    assert len(assigned) == 10
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', html).group(1)
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()

    response = client.post(apply_url, {"digest": digest, "assign": [":".join(a) for a in assigned]})
    assert response.status_code == 302 and _levels(response) == [SUCCESS]
    now = {str(pk): str(r) for pk, r in HandoverClient.objects.filter(handover=handover).values_list("pk", "receiver")}
    assert now == {hc: r for hc, r, _v in assigned}


@pytest.mark.django_db
def test_apply_after_a_change_refuses_and_keeps_the_picking(handover, people, receiver2, login):
    _page, preview_url, apply_url = _urls(handover)
    client = login(people.supervisor)
    html = client.post(preview_url, {"grade": "B", "receivers": [people.receiver.pk, receiver2.pk]}).content.decode()
    assigned = re.findall(r'name="assign" value="(\d+):(\d+):(\d+)"', html)
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', html).group(1)
    changed = HandoverClient.objects.get(pk=int(assigned[0][0]))
    services.plan_save_rows(
        handover=handover, user=people.departing, rows=[services.PlanRow(changed.pk, risks="新风险")]
    )
    response = client.post(
        apply_url,
        {
            "digest": digest,
            "assign": [":".join(a) for a in assigned],
            "grade": "B",
            "receivers": [people.receiver.pk, receiver2.pk],
        },
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert f'data-row="{changed.pk}"' in html
    assert '<option value="B" selected>' in html
    assert f'value="{receiver2.pk}" id="rb-r-{receiver2.pk}" form="receivers-bulk" checked' in html
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_a_forged_apply_is_refused(handover, people, receiver2, login):
    _page, _preview, apply_url = _urls(handover)
    hc = _rows(handover)[0]
    response = login(people.departing).post(
        apply_url, {"digest": "0" * 64, "assign": [f"{hc.pk}:{receiver2.pk}:{hc.row_version}"]}
    )
    assert response.status_code == 400
    assert not HandoverClient.objects.filter(receiver=receiver2).exists()


@pytest.mark.django_db
def test_the_start_page_takes_several_receivers(people, book, receiver2, login):
    today = timezone.localdate()
    response = login(people.hr).post(
        reverse("handover:start"),
        {
            "departing": people.departing.pk,
            "receiver": people.receiver.pk,
            "receivers": [receiver2.pk],
            "witness": people.witness.pk,
            "manager": people.manager.pk,
            "reason": "resignation",
            "notice_date": today.isoformat(),
            "last_working_day": (today + datetime.timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 302
    receivers = list(HandoverClient.objects.values_list("receiver_id", flat=True))
    assert receivers.count(receiver2.pk) == 5 and receivers.count(people.receiver.pk) == 5


@pytest.mark.django_db
def test_the_start_page_refuses_the_departing_person_among_the_receivers_next_to_the_field(people, book, login):
    today = timezone.localdate()
    body = {
        "departing": people.departing.pk,
        "receiver": people.receiver.pk,
        "receivers": [people.departing.pk],
        "witness": people.witness.pk,
        "manager": people.manager.pk,
        "reason": "resignation",
        "notice_date": today.isoformat(),
        "last_working_day": (today + datetime.timedelta(days=30)).isoformat(),
    }
    response = login(people.hr).post(reverse("handover:start"), body)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-field="receivers"' in html
    assert "此人不能接收客户" in html
    # The departing person is not even offered among the receivers.
    offered = re.search(r'<select name="receivers".*?</select>', html, re.S).group(0)
    assert f'<option value="{people.departing.pk}"' not in offered
    assert not HandoverClient.objects.exists()


@pytest.mark.django_db
def test_the_timeline_names_the_receivers_the_start_split_among(start, people, receiver2, login):
    h = start(receivers=[receiver2])
    html = login(people.hr).get(reverse("handover:detail", args=[h.pk]) + "?tab=timeline").content.decode()
    assert "张接收、陈接收" in html
