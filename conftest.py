"""One shared set of users, one per role, for every app's tests."""

import os
from types import SimpleNamespace

import pytest

from accounts.roles import Role
from accounts.tests.factories import DEFAULT_PASSWORD, DepartmentFactory, UserFactory


def pytest_configure(config):
    # Under pytest-xdist (scripts/test.sh) each worker has its own Redis database, so that one
    # worker's flush (the Celery worker test) never wipes the keys of another's test.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get("TEST_REDIS_URL", "")
    if worker.startswith("gw") and url:
        base = url.rsplit("/", 1)[0]
        os.environ["TEST_REDIS_URL"] = f"{base}/{15 - int(worker[2:]) % 15}"


TRANSACTIONAL_FIXTURES = {"transactional_db", "live_server", "django_db_reset_sequences"}


def pytest_collection_modifyitems(config, items):
    # A test on a real transaction empties every table when it ends, the rows the migrations wrote
    # included; in one process pytest-django runs them last, but pytest-xdist's workers would mix
    # them in. They are marked, and scripts/test.sh runs them in one process after the others.
    for item in items:
        marker = item.get_closest_marker("django_db")
        if TRANSACTIONAL_FIXTURES & set(item.fixturenames) or (marker and marker.kwargs.get("transaction")):
            item.add_marker(pytest.mark.transactional)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher is slow by design; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def people(db):
    """The people of one handover, and outsiders who must be refused.

    departing and receiver sell in department east; supervisor heads it; other_sales and
    other_supervisor work in department north.
    """
    east = DepartmentFactory(code="EAST", name="华东销售部")
    north = DepartmentFactory(code="NORTH", name="华北销售部")
    supervisor = UserFactory(username="supervisor", full_name="王主管", department=east, roles=[Role.SUPERVISOR])
    east.head = supervisor
    east.save()
    manager = UserFactory(username="manager", full_name="赵经理", department=east, roles=[Role.MANAGER])
    departing = UserFactory(
        username="departing", full_name="李离职", department=east, supervisor=supervisor, roles=[Role.SALES]
    )
    receiver = UserFactory(
        username="receiver", full_name="张接收", department=east, supervisor=supervisor, roles=[Role.SALES]
    )
    witness = UserFactory(username="witness", full_name="钱监交", department=east, roles=[Role.WITNESS])
    hr = UserFactory(username="hr", full_name="孙人事", department=None, roles=[Role.HR])
    admin = UserFactory(username="admin", full_name="周管理", department=None, roles=[Role.ADMIN])
    other_supervisor = UserFactory(
        username="other_supervisor", full_name="吴主管", department=north, roles=[Role.SUPERVISOR]
    )
    north.head = other_supervisor
    north.save()
    other_sales = UserFactory(
        username="other_sales", full_name="郑销售", department=north, supervisor=other_supervisor, roles=[Role.SALES]
    )
    return SimpleNamespace(
        east=east,
        north=north,
        supervisor=supervisor,
        manager=manager,
        departing=departing,
        receiver=receiver,
        witness=witness,
        hr=hr,
        admin=admin,
        other_supervisor=other_supervisor,
        other_sales=other_sales,
    )


@pytest.fixture
def login(client):
    """login(user) -> the test client, logged in as that user."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


# The handover fixtures (a departing person's book, a started handover) serve every app's tests.
from handover.tests.conftest import book, handover, receiver2, start  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _archives_after_the_test_transaction(request, monkeypatch):
    """The archive of a completed handover is made by a thread when there is no broker. A test that
    runs inside one transaction (most) has rows no other connection sees: there the thread's work
    runs at the transaction's commit instead, which the test captures (django_capture_on_commit_callbacks)
    or leaves undone. Tests on a transactional database keep the real thread, except the browser
    tests on SQLite: the test database there is one in-memory database shared by every thread, and
    a thread printing while the live server answers made requests fail with "database table is
    locked"; there the archive and the annex are made in the request that asks for them, after its
    commit (the pages then see them at once, as they would a fast worker's)."""
    from django.db import connection

    from handover.services import archive

    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args[:1] == (True,))))
    if "live_server" in request.fixturenames and connection.vendor == "sqlite":
        monkeypatch.setattr(archive, "_run_in_process", [archive.archive_job_run_logged])
        monkeypatch.setattr(archive, "_annex_run_in_process", [archive.confirmation_annex_print_logged])
        return
    if transactional or {"transactional_db", "live_server"} & set(request.fixturenames):
        if connection.vendor == "sqlite":
            # Nor a second printing thread beside the archive's on that one shared database.
            monkeypatch.setattr(archive, "_annex_run_in_process", [lambda handover_id: None])
        return
    from django.db import transaction

    def after_commit(handover_id):
        transaction.on_commit(lambda: archive.archive_job_run_logged(handover_id))

    monkeypatch.setattr(archive, "_run_in_process", [after_commit])
    # The annex printed ahead is only a head start (the archive prints what is missing): not at all
    # here, unless a test asks for it (handover/tests/test_confirmation_annex.py).
    monkeypatch.setattr(archive, "_annex_run_in_process", [lambda handover_id: None])


@pytest.fixture(autouse=True)
def _invitations_sent_by_the_caller(monkeypatch):
    """With no broker the visit invitations are sent by a thread (handover/services/invitations.py).
    It could not see the rows of a test run inside one transaction, and on SQLite it would lock the
    tables other threads of a test write: here they are sent by the caller after its commit, through
    the task as a worker runs it. A test of the thread itself puts it back."""
    from handover.services import invitations

    def inline(ids):
        for pk in ids:
            invitations._delivery_queue[0](pk)

    monkeypatch.setattr(invitations, "_run_in_process", [inline])
