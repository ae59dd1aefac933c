"""Demo handovers at several stages, so the demo people have something waiting for them.

Li Hua's own handover is left for HR to start during the demo walk-through. Every step is
done through the services, by the person who would do it.
"""

import datetime

from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import User
from handover import services
from handover.models import Handover, InvitationDelivery, State

from .company import DEMO_PASSWORD
from .walk import advance_to

# departing, receiver, second receiver for a share of the clients (or None), the state to leave it at
DEMO_HANDOVERS = [
    ("liuyang", "zhangwei", "chenjing", State.MATERIALS, "transfer"),
    ("hejun", "luoxue", None, State.SPOT_CHECK, "transfer"),
    ("linfang", "luoxue", None, State.REPORT_APPROVAL, "resignation"),
    ("zhoujie", "wumin", "sunli", State.COMPLETED, "resignation"),
]


@override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
@transaction.atomic
def demo_handovers() -> int:
    """Returns how many were made. The demo's notices go to the bell only, not to email."""
    users = {u.username: u for u in User.objects.all()}
    hr = users["xuxiaoyan"]
    made = 0
    today = timezone.localdate()
    for departing, receiver, second, state, reason in DEMO_HANDOVERS:
        person = users[departing]
        if Handover.objects.filter(departing=person).exists():
            continue
        h = services.handover_start(
            started_by=hr,
            departing=person,
            receiver=users[receiver],
            witness=users["qianjin"],
            manager=users["mayongqiang"],
            reason=reason,
            notice_date=today - datetime.timedelta(days=10),
            last_working_day=today + datetime.timedelta(days=20),
        )
        if second:
            # Every third client goes to the second receiver: one book split between two people.
            for hc in list(h.clients.order_by("pk"))[::3]:
                services.handover_client_set_receiver(handover_client=hc, user=person, receiver=users[second])
        h = advance_to(h, state, password=DEMO_PASSWORD)
        if state == State.MATERIALS:
            services.items_hand_over_all(handover=h, user=person)
        made += 1
    made += _demo_cover(users, hr=hr, today=today)
    # Nor do their visit invitations: the events stay (downloadable, updated by later changes),
    # with no email owed for the demo's past (they would go from a thread, after this override).
    InvitationDelivery.objects.filter(sent_at__isnull=True).delete()
    return made


# A cover (代管): Xu Ting's maternity leave, completed, so Wu Min holds her clients until the return date.
COVER = ("xuting", "wumin", "maternity_leave", 6 * 7)


def _demo_cover(users, *, hr, today) -> int:
    departing, receiver, reason, days_after = COVER
    person = users[departing]
    if Handover.objects.filter(departing=person).exists():
        return 0
    last_working_day = today + datetime.timedelta(days=20)
    h = services.handover_start(
        started_by=hr,
        departing=person,
        receiver=users[receiver],
        witness=users["qianjin"],
        manager=users["mayongqiang"],
        reason=reason,
        notice_date=today - datetime.timedelta(days=10),
        last_working_day=last_working_day,
        returns_on=last_working_day + datetime.timedelta(days=days_after),
    )
    advance_to(h, State.COMPLETED, password=DEMO_PASSWORD)
    return 1
