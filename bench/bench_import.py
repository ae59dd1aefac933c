"""Speed of the client-book import: 5,000 rows, then the same file again (the no-op path)."""

import datetime
import io
import time
from decimal import Decimal

import openpyxl
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.roles import Role
from clients.importer import CLIENTS, CONTACTS, CONTRACTS, RECEIVABLES, client_book_import
from clients.models import Client
from clients.validators import credit_code_check_char

N_CLIENTS, N_CONTACTS, N_CONTRACTS, N_RECEIVABLES = 1000, 1000, 1500, 1500
TARGET_SECONDS = 10


def _credit_code(n: int) -> str:
    # 92 (individual business), region 440300: apart from the codes tests and demo data use.
    body = f"92440300{n:09d}"
    return body + credit_code_check_char(body)


def _users() -> tuple[User, list[User]]:
    manager, _ = User.objects.get_or_create(
        username="bench-manager", defaults={"employee_no": "BENCH-M01", "full_name": "压测经理"}
    )
    manager.groups.add(Group.objects.get(name=Role.MANAGER))
    sales = []
    for i in range(1, 11):
        user, _ = User.objects.get_or_create(
            username=f"bench-sales-{i:02d}", defaults={"employee_no": f"BENCH-S{i:02d}", "full_name": f"压测销售{i}"}
        )
        user.groups.add(Group.objects.get(name=Role.SALES))
        sales.append(user)
    return manager, sales


def _book(codes: list[str], sales: list[User]) -> bytes:
    workbook = openpyxl.Workbook(write_only=True)
    sheets = {spec.title: workbook.create_sheet(spec.title) for spec in (CLIENTS, CONTACTS, CONTRACTS, RECEIVABLES)}
    clients = sheets[CLIENTS.title]
    clients.append(["客户名称", "统一社会信用代码", "等级", "行业", "区域", "负责人工号", "状态", "偏好与禁忌"])
    for i, code in enumerate(codes):
        owner = sales[i % len(sales)].employee_no
        clients.append([f"压测客户{i:04d}有限公司", code, "ABC"[i % 3], "制造业", "华南", owner, "合作中", "微信沟通"])
    contacts = sheets[CONTACTS.title]
    contacts.append(["统一社会信用代码", "姓名", "职位", "电话", "关键决策人"])
    for i in range(N_CONTACTS):
        contacts.append([codes[i % len(codes)], f"联系人{i:04d}", "采购经理", f"139{i:08d}", "是" if i % 2 else "否"])
    contracts = sheets[CONTRACTS.title]
    contracts.append(
        ["合同编号", "统一社会信用代码", "合同名称", "签订日期", "开始日期", "结束日期", "合同金额", "已付金额"]
    )
    for i in range(N_CONTRACTS):
        contracts.append(
            [
                f"BENCH-HT-{i:05d}",
                codes[i % len(codes)],
                f"年度合同{i}",
                datetime.date(2026, 1, 10),
                datetime.date(2026, 1, 15),
                "2026-12-31",
                float(Decimal("120000.00") + i),
                "30000.00",
            ]
        )
    receivables = sheets[RECEIVABLES.title]
    receivables.append(["合同编号", "款项说明", "应收金额", "已收金额", "到期日"])
    for i in range(N_RECEIVABLES):
        receivables.append([f"BENCH-HT-{i:05d}", "进度款", 30000, 1000.5, datetime.date(2026, 6, 30)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _timed(name: str, data: bytes, user: User, expect_created: bool) -> dict:
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        result = client_book_import(data=data, filename="bench.xlsx", user=user)
        seconds = time.perf_counter() - start
    if result.errors:
        raise RuntimeError(f"bench import failed: {result.errors[:5]}")
    total = N_CLIENTS + N_CONTACTS + N_CONTRACTS + N_RECEIVABLES
    done = result.created if expect_created else result.unchanged
    if done != total:
        raise RuntimeError(f"bench import: expected {total} rows, got {result.counts}")
    return {
        "name": name,
        "seconds": round(seconds, 3),
        "queries": len(queries),
        "target": f"≤ {TARGET_SECONDS} s",
        "ok": seconds <= TARGET_SECONDS,
    }


def bench_import_5000() -> list[dict]:
    manager, sales = _users()
    codes = [_credit_code(n) for n in range(1, N_CLIENTS + 1)]
    Client.objects.filter(credit_code__in=codes).delete()  # a rerun starts from an empty book
    data = _book(codes, sales)
    return [
        _timed("import 5,000 rows (xlsx)", data, manager, expect_created=True),
        _timed("re-import the same 5,000 rows (no changes)", data, manager, expect_created=False),
    ]
