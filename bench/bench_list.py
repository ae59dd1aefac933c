"""How fast the client list is with a realistic book: 2,000 clients."""

import datetime
import random
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Department, User
from accounts.roles import Role
from clients.models import ZERO, Client, Contact, Contract, Receivable
from demo.company import CITIES, company_name, credit_code, mobile, money

from .shared import median_seconds

CLIENTS = 2000
OWN_CLIENTS = 500  # the salesperson's share; four colleagues hold the rest
MAX_QUERIES = 15
MAX_SECONDS = 0.300
TARGET = f"≤ {MAX_QUERIES} queries, ≤ {MAX_SECONDS * 1000:.0f} ms"


def bench_client_list() -> list[dict]:
    manager, salesperson = _book()
    url = reverse("clients:list")
    scenarios = [
        (f"client list: manager, {CLIENTS:,} clients", manager, {}),
        (f"client list: salesperson, own {OWN_CLIENTS}", salesperson, {}),
        ("client list: manager, search + sort by outstanding", manager, {"q": "科技", "sort": "-outstanding"}),
        ("client list: manager, overdue only, page 5", manager, {"overdue": "1", "page": "5"}),
    ]
    rows = []
    browser = Browser()
    for name, user, params in scenarios:
        browser.force_login(user)

        def get(params=params):
            response = browser.get(url, params)
            if response.status_code != 200:
                raise AssertionError(f"{url} answered {response.status_code}")

        seconds = median_seconds(get)
        with CaptureQueriesContext(connection) as queries:
            get()
        rows.append(
            {
                "name": name,
                "seconds": seconds,
                "queries": len(queries),
                "target": TARGET,
                "ok": len(queries) <= MAX_QUERIES and seconds <= MAX_SECONDS,
            }
        )
    return rows


def _book() -> tuple[User, User]:
    """A manager and a salesperson; 2,000 clients with contacts, contracts and receivables."""
    rng = random.Random(2000)
    today = timezone.localdate()
    groups = {g.name: g for g in Group.objects.all()}
    east = Department.objects.create(code="BENCH-E", name="压测华东部")
    north = Department.objects.create(code="BENCH-N", name="压测华北部")

    def person(username: str, full_name: str, department, role: str) -> User:
        user = User.objects.create(username=username, full_name=full_name, department=department)
        user.groups.add(groups[role])
        return user

    manager = person("bench_manager", "压测经理", None, Role.MANAGER)
    salesperson = person("bench_sales", "压测销售", east, Role.SALES)
    colleagues = [person(f"bench_sales_{n}", f"压测同事{n}", east if n < 2 else north, Role.SALES) for n in range(4)]

    cities = list(CITIES)
    clients = []
    for i in range(CLIENTS):
        city = rng.choice(cities)
        name, industry, _pinyin = company_name(rng, city)
        grade = rng.choices("ABC", weights=(2, 4, 4))[0]
        clients.append(
            Client(
                name=name,
                credit_code=credit_code(CITIES[city].districts[0][1], 20_000_000 + i),
                grade=grade,
                industry=industry,
                region="华东" if i % 2 else "华北",
                address=f"{city}市{CITIES[city].roads[0]}{i}号",
                owner=salesperson if i < OWN_CLIENTS else colleagues[i % len(colleagues)],
            )
        )
    Client.objects.bulk_create(clients, batch_size=500)

    contacts, contracts, receivables = [], [], []
    for i, client in enumerate(clients):
        for n in range(rng.randint(1, 2)):
            contacts.append(Contact(client=client, name=f"联系人{n}", position="采购经理", phone=mobile(rng)))
        for n in range(rng.randint(1, 2)):
            start = today - datetime.timedelta(days=rng.randint(30, 700))
            amount = money(rng, client.grade)
            contract = Contract(
                client=client,
                number=f"BENCH-{i:05d}-{n}",
                name="年度采购合同",
                signed_on=start,
                start_date=start,
                end_date=start + datetime.timedelta(days=364),
                amount=amount,
            )
            half = (amount / 2).quantize(Decimal("0.01"))
            for k, part in enumerate((half, amount - half)):
                due = start + datetime.timedelta(days=30 + 180 * k)
                # Seven in ten past instalments paid; the rest overdue.
                received = part if due <= today and rng.random() < 0.7 else ZERO
                contract.amount_paid += received
                receivables.append(
                    Receivable(contract=contract, amount_due=part, amount_received=received, due_date=due)
                )
            contracts.append(contract)
    Contact.objects.bulk_create(contacts, batch_size=1000)
    Contract.objects.bulk_create(contracts, batch_size=1000)
    Receivable.objects.bulk_create(receivables, batch_size=1000)
    return manager, salesperson
