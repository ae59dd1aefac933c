"""How fast the handover page is for a departing salesperson with a large book: 500 clients."""

import datetime
import statistics
import time
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Department, User
from accounts.roles import Role
from clients.models import Client, Contact, Contract, Opportunity, Receivable
from clients.validators import credit_code_check_char

from . import services
from .models import State
from .walk import advance_to

CLIENTS = 500
MAX_QUERIES = 15
MAX_SECONDS = 0.300
TARGET = f"≤ {MAX_QUERIES} queries, ≤ {MAX_SECONDS * 1000:.0f} ms"


def bench_handover_page(clients: int = CLIENTS) -> list[dict]:
    h = _handover(clients)
    # The joint-visit stage: every client still needs its visit, so the departing person's page
    # carries the whole checklist, a visit form per client and the plan of each; the timeline
    # holds the plan edits of every client.
    h = advance_to(h, State.VISITS)
    browser = Browser()
    browser.force_login(h.departing)
    url = reverse("handover:detail", args=[h.pk])

    def get():
        response = browser.get(url)
        if response.status_code != 200:
            raise AssertionError(f"{url} answered {response.status_code}")

    seconds = _median_seconds(get)
    with CaptureQueriesContext(connection) as queries:
        get()
    return [
        {
            "name": f"handover page, {clients} clients",
            "seconds": seconds,
            "queries": len(queries),
            "target": TARGET,
            "ok": len(queries) <= MAX_QUERIES and seconds <= MAX_SECONDS,
        }
    ]


def _median_seconds(action, *, repeat: int = 5) -> float:
    action()  # warm up: first-request costs (templates, translations) are not the page's
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _user(username: str, name: str, department: Department | None, roles: list[str], **extra) -> User:
    user = User.objects.create_user(username=username, full_name=name, department=department, **extra)
    user.groups.add(*Group.objects.filter(name__in=roles))
    return user


def _handover(n: int):
    today = timezone.localdate()
    dept = Department.objects.create(code="BENCH-HO", name="压测交接部")
    supervisor = _user("bench-ho-supervisor", "压测主管", dept, [Role.SUPERVISOR])
    departing = _user("bench-ho-departing", "压测离职", dept, [Role.SALES], supervisor=supervisor)
    receiver = _user("bench-ho-receiver", "压测接收", dept, [Role.SALES], supervisor=supervisor)
    witness = _user("bench-ho-witness", "压测监交", dept, [Role.WITNESS])
    manager = _user("bench-ho-manager", "压测经理", dept, [Role.MANAGER])
    hr = _user("bench-ho-hr", "压测人事", None, [Role.HR])

    def code(i: int) -> str:
        body = f"91440300{i:09d}"
        return body + credit_code_check_char(body)

    clients = Client.objects.bulk_create(
        Client(
            name=f"压测客户{i:04d}有限公司",
            credit_code=code(700000 + i),
            grade="A" if i % 10 == 0 else ("B" if i % 3 else "C"),
            industry="制造业",
            region="华南",
            owner=departing,
        )
        for i in range(n)
    )
    Contact.objects.bulk_create(
        Contact(client=c, name=f"联系人{i}", position="采购经理", phone=f"139{i:08d}") for i, c in enumerate(clients)
    )
    contracts = Contract.objects.bulk_create(
        Contract(
            client=c,
            number=f"BENCH-HO-{i:05d}",
            name=f"年度采购合同{i}",
            signed_on=datetime.date(2026, 1, 10),
            start_date=datetime.date(2026, 1, 15),
            end_date=datetime.date(2026, 12, 31),
            amount=Decimal("120000.00"),
            amount_paid=Decimal("40000.00"),
            original_location="档案室A柜",
        )
        for i, c in enumerate(clients)
    )
    Receivable.objects.bulk_create(
        Receivable(contract=c, amount_due=Decimal("30000.00"), due_date=today - datetime.timedelta(days=i % 90))
        for i, c in enumerate(contracts)
    )
    Opportunity.objects.bulk_create(
        Opportunity(client=c, name=f"扩容项目{i}", stage="proposal", expected_amount=Decimal("50000.00"))
        for i, c in enumerate(clients)
    )
    return services.handover_start(
        started_by=hr,
        departing=departing,
        receiver=receiver,
        witness=witness,
        manager=manager,
        reason="resignation",
        notice_date=today,
        last_working_day=today + datetime.timedelta(days=30),
    )
