"""Who hears that a handover ended: the flow spec's `told` for the closed states (notify.actors_for)."""

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from handover import services
from handover.models import HandoverClient, SignaturePurpose, State
from notifications.models import Notification
from tests.walk import advance_to, sign_missing, signature_of


def _told(h, title_part: str) -> set[int]:
    return set(Notification.objects.filter(handover=h, title__contains=title_part).values_list("user_id", flat=True))


def test_a_completion_is_told_to_the_departing_person_the_supervisor_every_receiver_and_hr(handover, people, receiver2):
    # One client goes to a second receiver: the completion reaches them too.
    hc = HandoverClient.objects.filter(handover=handover).first()
    services.handover_client_set_receiver(handover_client=hc, user=people.departing, receiver=receiver2)
    other_hr = UserFactory(username="hr2", roles=[Role.HR])
    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    before = set(Notification.objects.values_list("pk", flat=True))

    services.handover_transition(
        handover=h, name="approve_report", user=people.manager, signature=signature_of(people.manager)
    )

    told = set(Notification.objects.filter(handover=h).exclude(pk__in=before).values_list("user_id", flat=True))
    expected = {people.departing.pk, people.supervisor.pk, people.receiver.pk, receiver2.pk, people.hr.pk, other_hr.pk}
    # The manager approved (an actor hears nothing of their own act); the witness is not told.
    assert told == expected


def test_a_cancellation_is_told_to_every_party_but_the_one_who_cancelled(handover, people):
    before = set(Notification.objects.values_list("pk", flat=True))

    services.handover_transition(handover=handover, name="cancel", user=people.hr, comment="调岗取消")

    told = set(Notification.objects.filter(handover=handover).exclude(pk__in=before).values_list("user_id", flat=True))
    assert told == {
        people.departing.pk,
        people.receiver.pk,
        people.supervisor.pk,
        people.witness.pk,
        people.manager.pk,
    }
