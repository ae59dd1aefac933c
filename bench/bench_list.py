"""How fast the client list is with a realistic book: 2,000 clients, and a company-sized one."""

import datetime
import io
import os
import random
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


# The client list on a company-sized book (issue 12): a million clients on PostgreSQL, a
# hundred thousand on SQLite; BENCH_LIST_CLIENTS sets another size (the tests use a small one).
LARGE_BOOK = {"postgresql": 1_000_000, "sqlite": 100_000}
SALESPEOPLE = 2000
DEPARTMENTS = 40
LARGE_TARGET_SECONDS = 0.200
LARGE_REPEAT = 20


def bench_large_book_search(clients: int | None = None, repeat: int = LARGE_REPEAT) -> list[dict]:
    """p50 and p95 of the list for a manager and a supervisor, with no search and four searches."""
    size = clients or int(os.environ.get("BENCH_LIST_CLIENTS") or LARGE_BOOK.get(connection.vendor, 100_000))
    started = time.perf_counter()
    manager, supervisor, samples = _large_book(size)
    built = time.perf_counter() - started
    url = reverse("clients:list")
    searches = [
        ("no search", {}),
        ("2-character name fragment", {"q": "科技"}),
        ("4-character name fragment", {"q": samples["name4"]}),
        ("credit-code fragment", {"q": samples["code"]}),
        ("contact phone fragment", {"q": samples["phone"]}),
    ]
    how = "COPY" if connection.vendor == "postgresql" else "bulk_create"
    rows = [{"name": f"large book: {size:,} clients built ({how})", "seconds": built, "target": ""}]
    browser = Browser()
    for role, user in (("manager", manager), ("supervisor", supervisor)):
        browser.force_login(user)
        for label, params in searches:

            def get(params=params):
                response = browser.get(url, params)
                if response.status_code != 200:
                    raise AssertionError(f"{url} answered {response.status_code}")

            get()  # warm up
            timings = []
            for _ in range(repeat):
                t = time.perf_counter()
                get()
                timings.append(time.perf_counter() - t)
            with CaptureQueriesContext(connection) as queries:
                get()
            p50 = statistics.median(timings)
            p95 = statistics.quantiles(timings, n=20, method="inclusive")[-1]
            # The target is PostgreSQL's (issue 12): SQLite, the zero-configuration default with no
            # trigram or bigram index, runs the same rows at a tenth of the size for comparison only.
            on_postgres = connection.vendor == "postgresql"
            target = f"p95 ≤ {LARGE_TARGET_SECONDS * 1000:.0f} ms"
            rows.append(
                {
                    "name": f"list {size:,}: {role}, {label} (p50 {p50 * 1000:.0f} ms, p95)",
                    "seconds": p95,
                    "queries": len(queries),
                    "target": target if on_postgres else f"({target} on PostgreSQL)",
                    "ok": p95 <= LARGE_TARGET_SECONDS if on_postgres else None,
                }
            )
    return rows


def _large_book(size: int) -> tuple[User, User, dict]:
    """2,000 salespeople in 40 departments each with a supervisor, a manager, and size clients
    with a contact each, a contract every other client and two receivables per contract."""
    rng = random.Random(size)
    today = timezone.localdate()
    groups = {g.name: g for g in Group.objects.all()}
    departments = Department.objects.bulk_create(
        Department(code=f"BIG-{d:02d}", name=f"压测{d:02d}部") for d in range(DEPARTMENTS)
    )
    sales = User.objects.bulk_create(
        User(username=f"big_sales_{n}", full_name=f"销售{n:04d}", department=departments[n % DEPARTMENTS])
        for n in range(SALESPEOPLE)
    )
    User.groups.through.objects.bulk_create(
        User.groups.through(user_id=u.pk, group_id=groups[Role.SALES].pk) for u in sales
    )
    supervisor = User.objects.create(username="big_supervisor", full_name="压测主管", department=departments[0])
    supervisor.groups.add(groups[Role.SUPERVISOR])
    departments[0].head = supervisor
    departments[0].save(update_fields=["head"])
    manager = User.objects.create(username="big_manager", full_name="压测经理")
    manager.groups.add(groups[Role.MANAGER])

    cities = list(CITIES)
    now = timezone.now()
    client_rows, contact_rows, samples = [], [], {}
    for i in range(size):
        city = cities[i % len(cities)]
        name, industry, _pinyin = company_name(rng, city)
        code = credit_code(CITIES[city].districts[0][1], 30_000_000 + i)
        phone = mobile(rng)
        owner = sales[rng.randrange(SALESPEOPLE)]
        if i == size // 2:
            samples = {"name4": name[len(city) : len(city) + 4], "code": code[8:14], "phone": phone[-7:]}
        client_rows.append(
            {
                "name": name,
                "credit_code": code,
                "grade": rng.choice("ABBCC"),
                "industry": industry,
                "region": "华东",
                "address": f"{city}市{i}号",
                "owner_id": owner.pk,
            }
        )
        contact_rows.append({"name": "联系人", "position": "采购经理", "phone": phone})
    first_id = _insert(Client, client_rows, now=now)
    for n, row in enumerate(contact_rows):
        row["client_id"] = first_id + n
    _insert(Contact, contact_rows, now=now)
    contract_rows = []
    for n in range(0, size, 2):
        start = today - datetime.timedelta(days=rng.randint(30, 700))
        contract_rows.append(
            {
                "client_id": first_id + n,
                "number": f"BIG-{n:07d}",
                "name": "年度采购合同",
                "signed_on": start,
                "start_date": start,
                "end_date": start + datetime.timedelta(days=364),
                "amount": Decimal("100000.00"),
            }
        )
    first_contract = _insert(Contract, contract_rows, now=now)
    receivable_rows = []
    for n, contract in enumerate(contract_rows):
        for k in range(2):
            due = contract["start_date"] + datetime.timedelta(days=30 + 180 * k)
            receivable_rows.append(
                {
                    "contract_id": first_contract + n,
                    "amount_due": Decimal("50000.00"),
                    "due_date": due,
                    "amount_received": Decimal("50000.00") if rng.random() < 0.7 else ZERO,
                }
            )
    _insert(Receivable, receivable_rows, now=now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (Client, Contact, Contract, Receivable, User):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return manager, supervisor, samples


def _insert(model, rows: list[dict], *, now) -> int:
    """Insert rows (every other column at its default) and return the first new id: COPY on
    PostgreSQL, bulk_create elsewhere. The ids are consecutive: nothing else writes meanwhile."""
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create((model(**row) for row in rows), batch_size=2000)
        return objs[0].pk
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    template = model()
    defaults = {}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = now
        else:
            defaults[f.attname] = getattr(template, f.attname)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - a model's table
        before = cursor.fetchone()[0]
        buffer = io.StringIO()
        for row in rows:
            values = []
            for f in fields:
                value = row.get(f.attname, defaults[f.attname])
                values.append(
                    r"\N" if value is None else str(f.get_db_prep_save(value, connection)).replace("\\", "\\\\")
                )
            buffer.write("\t".join(values) + "\n")
        buffer.seek(0)
        cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
        cursor.execute(f"SELECT MIN(id) FROM {table} WHERE id > %s", [before])  # noqa: S608 - a model's table
        return cursor.fetchone()[0]
