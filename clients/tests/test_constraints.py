"""The database refuses impossible book data even when code skips validation,
and full_clean() reports the same problems against the field at fault."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from clients.models import Client, Contract, Opportunity, Receivable
from clients.tests.factories import (
    ClientFactory,
    ContractFactory,
    OpportunityFactory,
    ReceivableFactory,
    make_credit_code,
)

pytestmark = pytest.mark.django_db

JAN_1 = datetime.date(2026, 1, 1)


def assert_db_refuses(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def field_errors(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def contract_kwargs(client, **overrides) -> dict:
    return {
        "client": client,
        "number": "HT-C-001",
        "name": "测试合同",
        "signed_on": JAN_1,
        "start_date": JAN_1,
        "end_date": datetime.date(2026, 12, 31),
        "amount": Decimal("1000.00"),
        "amount_paid": Decimal("0.00"),
        **overrides,
    }


def receivable_kwargs(contract, **overrides) -> dict:
    return {
        "contract": contract,
        "amount_due": Decimal("100.00"),
        "amount_received": Decimal("0.00"),
        "due_date": JAN_1,
        **overrides,
    }


CONTRACT_CASES = [
    pytest.param({"amount": Decimal("-0.01"), "amount_paid": Decimal("-0.01")}, "amount", id="negative-amount"),
    pytest.param({"amount_paid": Decimal("-1.00")}, "amount_paid", id="negative-paid"),
    pytest.param({"amount_paid": Decimal("1000.01")}, "amount_paid", id="paid-over-amount"),
    pytest.param({"end_date": datetime.date(2025, 12, 31)}, "end_date", id="end-before-start"),
    pytest.param({"performance_progress": 101}, "performance_progress", id="progress-over-100"),
]

RECEIVABLE_CASES = [
    pytest.param({"amount_due": Decimal("-5.00")}, "amount_due", id="negative-due"),
    pytest.param({"amount_received": Decimal("-5.00")}, "amount_received", id="negative-received"),
    pytest.param({"amount_received": Decimal("100.01")}, "amount_received", id="received-over-due"),
]


@pytest.mark.parametrize(("overrides", "field"), CONTRACT_CASES)
def test_the_database_refuses_an_impossible_contract(overrides, field):
    client = ClientFactory()
    assert_db_refuses(lambda: Contract.objects.create(**contract_kwargs(client, **overrides)))


@pytest.mark.parametrize(("overrides", "field"), CONTRACT_CASES)
def test_full_clean_names_the_contract_field_at_fault(overrides, field):
    errors = field_errors(Contract(**contract_kwargs(ClientFactory(), **overrides)))
    assert field in errors


@pytest.mark.parametrize(("overrides", "field"), RECEIVABLE_CASES)
def test_the_database_refuses_an_impossible_receivable(overrides, field):
    contract = ContractFactory()
    assert_db_refuses(lambda: Receivable.objects.create(**receivable_kwargs(contract, **overrides)))


@pytest.mark.parametrize(("overrides", "field"), RECEIVABLE_CASES)
def test_full_clean_names_the_receivable_field_at_fault(overrides, field):
    errors = field_errors(Receivable(**receivable_kwargs(ContractFactory(), **overrides)))
    assert field in errors


def test_the_database_refuses_a_bulk_update_that_overpays_a_contract():
    contract = ContractFactory()
    assert_db_refuses(lambda: Contract.objects.filter(pk=contract.pk).update(amount_paid=F("amount") + 1))


def test_the_database_refuses_a_bulk_update_that_overpays_a_receivable():
    receivable = ReceivableFactory()
    assert_db_refuses(lambda: Receivable.objects.filter(pk=receivable.pk).update(amount_received=F("amount_due") + 1))


def test_the_database_refuses_a_negative_deal_amount():
    client = ClientFactory()
    assert_db_refuses(lambda: Opportunity.objects.create(client=client, name="负数商机", expected_amount=-1))
    errors = field_errors(Opportunity(client=client, name="负数商机", expected_amount=Decimal("-1")))
    assert "expected_amount" in errors


def test_contract_numbers_are_unique():
    ContractFactory(number="HT-DUP-1")
    client = ClientFactory()
    assert_db_refuses(lambda: Contract.objects.create(**contract_kwargs(client, number="HT-DUP-1")))
    assert "number" in field_errors(Contract(**contract_kwargs(client, number="HT-DUP-1")))


def test_credit_codes_are_unique_even_in_lower_case():
    code = make_credit_code(424242)
    first = ClientFactory(credit_code=code)
    assert_db_refuses(lambda: ClientFactory(credit_code=code))
    # save() normalizes, so a lower-case copy is the same code.
    assert_db_refuses(lambda: ClientFactory(credit_code=code.lower()))
    duplicate = Client(name="重复客户", credit_code=code, owner=first.owner)
    assert "credit_code" in field_errors(duplicate)


def test_the_database_refuses_a_malformed_credit_code_and_grade():
    owner = ClientFactory().owner
    assert_db_refuses(lambda: Client.objects.create(name="坏代码", credit_code="123", owner=owner))
    assert_db_refuses(
        lambda: Client.objects.create(name="坏等级", credit_code=make_credit_code(7), grade="D", owner=owner)
    )
    errors = field_errors(Client(name="坏代码", credit_code="123", grade="D", owner=owner))
    assert {"credit_code", "grade"} <= set(errors)


def test_valid_rows_pass_full_clean():
    contract = Contract(**contract_kwargs(ClientFactory(), amount_paid=Decimal("1000.00")))
    contract.full_clean()
    contract.save()
    Receivable(**receivable_kwargs(contract, amount_received=Decimal("100.00"))).full_clean()
    OpportunityFactory.build(client=contract.client).full_clean()
