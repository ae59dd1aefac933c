from django.urls import reverse

from handover import services
from handover.models import State
from notifications.models import Notification
from tests.walk import advance_to, do_stage_work


def _submit_plan(handover, people):
    do_stage_work(handover)
    services.handover_transition(handover=handover, name="submit_plan", user=people.departing)


def test_the_bell_counts_unread_notices(handover, people, login):
    _submit_plan(handover, people)
    client = login(people.supervisor)
    page = client.get(reverse("clients:list")).content.decode()
    unread = Notification.objects.filter(user=people.supervisor, read_at__isnull=True).count()
    assert unread >= 1
    assert f'<span class="badge rounded-pill bg-danger ms-1" id="bell-count">{unread}</span>' in page


def test_the_list_shows_only_my_notices(handover, people, login):
    _submit_plan(handover, people)
    mine = login(people.supervisor).get(reverse("notifications")).content.decode()
    assert handover.number in mine
    others = login(people.other_sales).get(reverse("notifications")).content.decode()
    assert handover.number not in others


def test_reading_a_notice_marks_it_and_opens_the_handover(handover, people, login):
    _submit_plan(handover, people)
    notice = Notification.objects.filter(user=people.supervisor).latest("id")
    response = login(people.supervisor).post(reverse("notification_read", args=[notice.pk]))
    assert response.status_code == 302
    # Straight to the tab where the supervisor reviews the plan.
    assert response.url == reverse("handover:detail", args=[handover.pk]) + "?tab=plan"
    notice.refresh_from_db()
    assert notice.read_at is not None


def test_nobody_can_mark_someone_elses_notice(handover, people, login):
    _submit_plan(handover, people)
    notice = Notification.objects.filter(user=people.supervisor).latest("id")
    login(people.other_sales).post(reverse("notification_read", args=[notice.pk]))
    login(people.other_sales).post(reverse("notifications_read_all"))
    notice.refresh_from_db()
    assert notice.read_at is None


def test_mark_all_read(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    client = login(people.departing)
    assert Notification.objects.filter(user=people.departing, read_at__isnull=True).exists()
    client.post(reverse("notifications_read_all"))
    assert not Notification.objects.filter(user=people.departing, read_at__isnull=True).exists()
    assert h.number  # the handover exists; the notices were about it


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("notifications"))
    assert response.status_code == 302 and reverse("login") in response.url
