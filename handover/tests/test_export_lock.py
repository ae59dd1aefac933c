"""The departing person exports no client data from the start of their handover to its end.

selectors.departing_is_locked decides it; here it is asked at every open state, not only at
the plan, and the export comes back once the handover is cancelled (the clients stay theirs).
"""

import pytest
from django.urls import reverse

from handover import selectors, services
from handover.models import OPEN_STATES, State
from tests.walk import advance_to


def _export(browser):
    return browser.get(reverse("clients:export"), {"format": "csv"})


@pytest.mark.parametrize("state", OPEN_STATES)
def test_the_departing_person_cannot_export_at_any_open_state(handover, people, login, state):
    h = advance_to(handover, state)
    assert h.state == state
    assert selectors.departing_is_locked(people.departing)
    assert _export(login(people.departing)).status_code == 403


@pytest.mark.parametrize("state", [State.PLAN, State.MATERIALS, State.REPORT_APPROVAL])
def test_the_export_comes_back_once_the_handover_is_cancelled(handover, people, book, login, state):
    h = advance_to(handover, state)
    services.handover_transition(handover=h, name="cancel", user=people.hr, comment="离职申请撤回")

    response = _export(login(people.departing))

    assert response.status_code == 200
    assert book[0].name in b"".join(response.streaming_content).decode()


def test_after_completion_the_export_holds_none_of_the_handed_over_clients(handover, people, book, login):
    advance_to(handover, State.COMPLETED)

    response = _export(login(people.departing))

    # Not locked any more (a transfer stays in the company), but the clients are the receivers' now.
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert not [c.name for c in book if c.name in body]
