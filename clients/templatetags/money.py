from django import template

from clients.money import format_money

register = template.Library()


@register.filter
def money(value) -> str:
    """{{ amount|money }} -> "¥1,234,567.00" (clients.money.format_money, the one money format)."""
    return format_money(value)
