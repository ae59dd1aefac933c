"""Dated payments (issue 14): a Payment each time a receivable's amount received changes, so money
collected after a handover can be counted by date."""

import datetime
from decimal import Decimal

from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.models import Payment, Receivable
from clients.tests.factories import ContractFactory, ReceivableFactory
from clients.tests.test_import import good_book, run


def _amounts(r) -> list[tuple]:
    return list(r.payments.order_by("id").values_list("date", "amount"))


def test_saving_a_receivable_records_each_change_of_the_amount_received(people):
    today = timezone.localdate()
    day = today - datetime.timedelta(days=10)
    r = ReceivableFactory(contract=ContractFactory(), amount_due=Decimal("500.00"), amount_received=Decimal("100.00"))
    assert _amounts(r) == [(today, Decimal("100.00"))]
    r.amount_received = Decimal("400.00")
    r.save(received_on=day)
    # A correction that lowers it is a negative payment.
    r.amount_received = Decimal("350.00")
    r.save()
    assert _amounts(r)[1:] == [(day, Decimal("300.00")), (today, Decimal("-50.00"))]
    assert sum(p.amount for p in r.payments.all()) == r.amount_received


def test_a_save_that_leaves_the_amount_received_records_nothing(people):
    r = ReceivableFactory(contract=ContractFactory(), amount_received=Decimal("0.00"))
    r.description = "尾款"
    r.save()
    r.amount_received = Decimal("10.00")
    r.save(update_fields=["description"])  # the amount is not written: nothing received
    assert not Payment.objects.exists()


def test_the_import_records_the_amounts_it_adds_or_changes_dated_the_import_day(people):
    sheets = good_book(people)
    run(people, sheets)
    today = timezone.localdate()
    first = Receivable.objects.get(contract__number="HT-001", description="二期款")
    assert _amounts(first) == [(today, first.amount_received)]
    # The row left without an amount received has no payment.
    assert not Payment.objects.filter(receivable__amount_received=0).exists()
    before = first.amount_received
    sheets["应收款"][0]["已收金额"] = 30000
    run(people, sheets)
    assert _amounts(first)[1:] == [(today, Decimal("30000.00") - before)]
    # Importing the same file again changes nothing and records nothing.
    count = Payment.objects.count()
    run(people, sheets)
    assert Payment.objects.count() == count


def test_the_admin_shows_a_receivables_payments_without_editing_them(people, login):
    r = ReceivableFactory(contract=ContractFactory(), amount_due=Decimal("500.00"), amount_received=Decimal("120.00"))
    admin = UserFactory(username="root", is_staff=True, is_superuser=True, roles=[Role.ADMIN])
    page = login(admin).get(f"/admin/clients/receivable/{r.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "payments-TOTAL_FORMS" in html and "120.00" in html
    assert 'name="payments-0-amount"' not in html  # read only
