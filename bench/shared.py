"""What several benchmarks share: the password of their people, a timer, and a large handover."""

import datetime
import functools
import statistics
import time
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Department, User
from accounts.roles import Role
from clients.models import Client, Contact, Contract, Opportunity, Receivable
from clients.validators import credit_code_check_char
from handover import services
from handover.models import Handover

# The benchmarks' people sign through the walk (demo/walk.py) with this password, checked by the
# services with the real hasher as on the page.
BENCH_PASSWORD = "Bench@2026"  # noqa: S105 - throwaway users in a database dropped after the run


def median_seconds(action, *, repeat: int = 5) -> float:
    action()  # warm up: first-request costs (templates, translations) are not the page's
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


@functools.cache
def _password_hash(hashers: tuple[str, ...]) -> str:
    # Hashed once per run (and hasher): the set-up makes the same people again and again, and
    # the hasher is slow on purpose; each signature still checks the password against it.
    return make_password(BENCH_PASSWORD)


def _user(username: str, name: str, department: Department | None, roles: list[str], **extra) -> User:
    user = User.objects.create(
        username=username,
        password=_password_hash(tuple(settings.PASSWORD_HASHERS)),
        full_name=name,
        department=department,
        **extra,
    )
    user.groups.add(*Group.objects.filter(name__in=roles))
    return user


def large_handover(n: int) -> Handover:
    """A handover just started for a departing salesperson with n clients, each with its records.

    Its people are bench-ho-supervisor, -departing, -receiver, -witness, -manager and -hr, all with
    BENCH_PASSWORD.
    """
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
