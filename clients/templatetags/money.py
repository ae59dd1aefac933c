from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def money(value) -> str:
    """1234567.5 -> "1,234,567.50".

    Not localized on purpose: Django's zh_Hans format groups by four digits with no
    separator, while Chinese finance documents write amounts grouped by three with commas.
    """
    if value is None or value == "":
        return ""
    try:
        return f"{Decimal(value):,.2f}"
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
