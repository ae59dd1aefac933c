import contextlib
import datetime

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.tests.factories import (
    ClientFactory,
    ContactFactory,
    ContractFactory,
    OpportunityFactory,
    ReceivableFactory,
)
from handover import services
from handover.models import ChecklistTemplateItem, ItemKind


@pytest.fixture
def book(people):
    """The departing person's book: 2 A clients and 8 others, with contracts, receivables and deals."""
    clients = []
    for i in range(10):
        c = ClientFactory(owner=people.departing, grade="A" if i < 2 else ("B" if i < 6 else "C"))
        ContactFactory(client=c)
        contract = ContractFactory(client=c)
        ReceivableFactory(contract=contract)
        OpportunityFactory(client=c)
        clients.append(c)
    ChecklistTemplateItem.objects.create(kind=ItemKind.PROPERTY, title="笔记本电脑", storage_location="IT 部")
    ChecklistTemplateItem.objects.create(kind=ItemKind.ACCOUNT, title="CRM 系统账号")
    return clients


@pytest.fixture
def receiver2(people):
    east = people.east
    return UserFactory(
        username="receiver2", full_name="陈接收", department=east, supervisor=people.supervisor, roles=[Role.SALES]
    )


@pytest.fixture
def start(people, book):
    def _start(**overrides):
        today = timezone.localdate()
        kwargs = {
            "started_by": people.hr,
            "departing": people.departing,
            "receiver": people.receiver,
            "witness": people.witness,
            "manager": people.manager,
            "reason": "resignation",
            "notice_date": today,
            "last_working_day": today + datetime.timedelta(days=30),
        }
        kwargs.update(overrides)
        return services.handover_start(**kwargs)

    return _start


@pytest.fixture
def handover(start):
    return start()


@contextlib.contextmanager
def celery_broker(url: str, *, eager: bool = False):
    """Point the Celery app at another broker for one test, and back."""
    from config.celery import app

    def reset():
        # The app caches its connection and producer pools; a new URL needs new pools. (Closing
        # them would break kombu's shared pool for the old URL, which the app goes back to.)
        app._pool = None
        app.amqp._producer_pool = None

    keys = ("broker_url", "broker_write_url", "broker_read_url", "task_always_eager")
    saved = {k: app.conf[k] for k in keys}
    app.conf.update(broker_url=url, broker_write_url=url, broker_read_url=url, task_always_eager=eager)
    reset()
    try:
        yield app
    finally:
        app.conf.update(saved)
        reset()
