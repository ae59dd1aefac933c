"""One money format everywhere: ¥1,234,567.00, negative -¥1,234.00 (clients.money.format_money)."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse

from clients.money import format_money
from clients.tests.factories import ClientFactory, ContractFactory, ReceivableFactory


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1234567.5"), "¥1,234,567.50"),
        (Decimal("337000"), "¥337,000.00"),
        (Decimal("5520000.00"), "¥5,520,000.00"),
        (Decimal("0"), "¥0.00"),
        (Decimal("-0.00"), "¥0.00"),
        (Decimal("0.005"), "¥0.01"),
        (Decimal("999.995"), "¥1,000.00"),
        (Decimal("-1234"), "-¥1,234.00"),
        (Decimal("-0.5"), "-¥0.50"),
        ("337000.00", "¥337,000.00"),
        (12, "¥12.00"),
        (0.1, "¥0.10"),
        (None, ""),
        ("", ""),
        ("n/a", "n/a"),
    ],
)
def test_format_money(value, text):
    assert format_money(value) == text


def test_the_template_filter_is_the_same_function():
    rendered = Template("{% load money %}{{ a|money }} {{ b|money }}").render(
        Context({"a": Decimal("1234567"), "b": Decimal("-1234")})
    )
    assert rendered == "¥1,234,567.00 -¥1,234.00"


def test_the_client_page_shows_amounts_in_the_one_format(people, login):
    client = ClientFactory(owner=people.departing)
    contract = ContractFactory(client=client, amount=Decimal("5520000"), amount_paid=Decimal("1234.5"))
    ReceivableFactory(contract=contract, amount_due=Decimal("337000"), amount_received=Decimal("0"))
    page = login(people.departing).get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert "¥5,520,000.00" in page and "¥1,234.50" in page and "¥337,000.00" in page
    assert "5520000" not in page and "337000.00" not in page.replace("¥337,000.00", "")
