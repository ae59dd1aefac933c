import datetime
from decimal import Decimal

import factory

from accounts.tests.factories import UserFactory
from clients.models import Client, Contact, Contract, FollowUp, Opportunity, Receivable
from clients.validators import CREDIT_CODE_CHARS, credit_code_check_char


def make_credit_code(n: int) -> str:
    # 91 (enterprise, industrial & commercial) + region 110000 + nine digits of n.
    body = f"91110000{n:09d}"
    return body + credit_code_check_char(body)


assert all(c in CREDIT_CODE_CHARS for c in make_credit_code(1))


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"测试客户{n}有限公司")
    credit_code = factory.Sequence(make_credit_code)
    grade = "B"
    industry = "制造业"
    region = "华东"
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"联系人{n}")
    position = "采购经理"
    phone = factory.Sequence(lambda n: f"138{n:08d}")


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    client = factory.SubFactory(ClientFactory)
    number = factory.Sequence(lambda n: f"HT-2026-{n:05d}")
    name = factory.Sequence(lambda n: f"年度采购合同{n}")
    signed_on = datetime.date(2026, 1, 10)
    start_date = datetime.date(2026, 1, 15)
    end_date = datetime.date(2026, 12, 31)
    amount = Decimal("100000.00")
    amount_paid = Decimal("40000.00")


class ReceivableFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Receivable

    contract = factory.SubFactory(ContractFactory)
    amount_due = Decimal("30000.00")
    amount_received = Decimal("0.00")
    due_date = datetime.date(2026, 6, 30)


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"扩容项目{n}")
    stage = "proposal"
    expected_amount = Decimal("50000.00")


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    client = factory.SubFactory(ClientFactory)
    date = datetime.date(2026, 10, 1)
    kind = "visit"
    content = "上门拜访，沟通续约。"
