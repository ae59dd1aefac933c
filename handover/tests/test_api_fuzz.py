"""The API fuzzed from its own OpenAPI schema (schemathesis): whatever is sent, no server
error, and every answer is one the schema describes (status, content type, body).

Each operation gets a bounded, derandomized set of examples: valid ones (half of them aimed at
the objects of a real handover, so they reach the services rather than stop at 404) and
invalid ones. The requests go through the WSGI application in-process, inside the test's
transaction, with a salesperson's token (the departing person: a party to the handover, who
may act at some steps and is refused at others).
"""

import datetime

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tokens import api_token_create
from clients.tests.factories import ClientFactory, ContactFactory, ContractFactory, ReceivableFactory
from handover import services
from handover.models import State
from tests.walk import advance_to

EXAMPLES_PER_OPERATION = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def world(people, settings):
    """A small company: the departing person's three clients in a handover at the visits stage."""
    settings.ALLOWED_HOSTS = ["*"]
    for grade in ("A", "B", "C"):
        c = ClientFactory(owner=people.departing, grade=grade)
        ContactFactory(client=c)
        ReceivableFactory(contract=ContractFactory(client=c))
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
    h = advance_to(h, State.VISITS)
    hc = h.clients.order_by("pk").first()
    visit = services.visit_record(
        handover_client=hc,
        user=people.departing,
        visited_on=today,
        mode="in_person",
        contact_met="采购经理",
        outcome="已介绍新对接人。",
    )
    ids = {"pk": h.pk, "hc_id": hc.pk, "item_id": h.items.order_by("pk").first().pk, "visit_id": visit.pk}
    ids["client_id"] = hc.client_id  # the departing person still owns it: follow-ups are theirs to record
    return ids, api_token_create(user=people.departing)[0]


@pytest.fixture
def schema(world, client):
    _ids, token = world
    response = client.get("/api/schema/", {"format": "json"}, headers={"authorization": f"Token {token}"})
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(response.json())


@pytest.fixture
def wsgi_app(schema):
    # The real WSGI handler, minus what closes the database connection around each request: the
    # test's transaction must survive (what Django's test client does too). After the schema was
    # fetched: each request of the test client connects it again on its way out.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _strategy(operation, ids: dict):
    names = {p.name for p in operation.path_parameters}
    real = {name: value for name, value in ids.items() if name in names}
    strategies = [operation.as_strategy(), operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)]
    if real:
        strategies.append(operation.as_strategy(path_parameters=real))
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, path_parameters=real))
    return st.one_of(strategies)


def test_the_api_survives_fuzzing_and_keeps_to_its_schema(world, schema, wsgi_app):
    ids, token = world
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    failures = []
    for operation in operations:

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=_strategy(operation, ids))
        def run(case):
            case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Token {token}"}, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failure, reported together
            failures.append(f"{operation.label}: {exc}")

    assert not failures, "\n\n".join(failures)
