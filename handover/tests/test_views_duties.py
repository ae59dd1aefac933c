"""After completion: the receivers' and HR's duties in the inbox, and HR revoking access."""

from django.urls import reverse

from handover.models import Duty, DutyKind, State
from tests.walk import advance_to


def test_receivers_and_hr_find_their_duties_in_the_inbox(handover, people, login):
    h = advance_to(handover, State.COMPLETED)
    receiver_page = login(people.receiver).get(reverse("handover:inbox")).content.decode()
    assert receiver_page.count(h.number) >= 2  # contact and visit duties
    hr_page = login(people.hr).get(reverse("handover:inbox")).content.decode()
    assert reverse("handover:revoke_access", args=[h.pk]) in hr_page
    other = login(people.other_sales).get(reverse("handover:inbox")).content.decode()
    assert h.number not in other


def test_hr_revokes_access_from_the_inbox(handover, people, login):
    h = advance_to(handover, State.COMPLETED)
    response = login(people.hr).post(reverse("handover:revoke_access", args=[h.pk]))
    assert response.status_code == 302
    people.departing.refresh_from_db()
    assert not people.departing.is_active
    assert Duty.objects.get(handover=h, kind=DutyKind.REVOKE_ACCOUNTS).done_at is not None
    assert (
        reverse("handover:revoke_access", args=[h.pk])
        not in login(people.hr).get(reverse("handover:inbox")).content.decode()
    )


def test_others_cannot_revoke(handover, people, login):
    h = advance_to(handover, State.COMPLETED)
    for who in ("supervisor", "manager", "receiver"):
        login(getattr(people, who)).post(reverse("handover:revoke_access", args=[h.pk]))
    assert login(people.other_sales).post(reverse("handover:revoke_access", args=[h.pk])).status_code == 404
    people.departing.refresh_from_db()
    assert people.departing.is_active
    assert Duty.objects.get(handover=h, kind=DutyKind.REVOKE_ACCOUNTS).done_at is None
