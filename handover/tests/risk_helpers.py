"""Test data for the relationship risk (handover/selectors/risk.py).

The shared book's clients are at high risk (one contact, none marked decision maker, never followed
up, an overdue receivable, a contract ending this year): every one of them is drawn for the
spot-check. A test that needs clients left out of the sample calms the clients below grade A first.
"""

import datetime

from django.utils import timezone

from clients.tests.factories import ContactFactory, FollowUpFactory
from handover.models import Handover


def calm(h: Handover, *, grades=("B", "C")) -> None:
    """Each client of these grades gets a decision maker, followed up lately by a colleague (the
    receiver): the overdue receivable and the contract ending stay, so the client is at medium risk."""
    day = timezone.localdate() - datetime.timedelta(days=5)
    for hc in h.clients.filter(grade__in=grades).select_related("client"):
        decider = ContactFactory(client=hc.client, is_key_decision_maker=True)
        FollowUpFactory(client=hc.client, date=day, contact=decider, created_by=h.receiver)
