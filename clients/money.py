"""The one way an amount of money is written as text: ¥1,234,567.00, -¥1,234.00.

Pages (the `money` template filter), prints, exports' display formats and any message that
names an amount use format_money; API fields stay numbers (Decimal strings). Not localized on
purpose: Django's zh_Hans format groups by four digits with no separator, while Chinese finance
documents write amounts grouped by three with commas, with the yuan sign in front.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
SIGN = "¥"
# The same in a spreadsheet cell's number format (the cell keeps the number, so sums work).
EXCEL_FORMAT = '"¥"#,##0.00;-"¥"#,##0.00'


def format_money(value) -> str:
    """1234567.5 -> "¥1,234,567.50"; -1234 -> "-¥1,234.00"; None or "" -> ""; text that is no number stays as it is."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(value) if not isinstance(value, float) else Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if not amount.is_finite():
        return str(value)
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if amount == 0:
        amount = abs(amount)  # no "-¥0.00"
    sign = "-" if amount < 0 else ""
    return f"{sign}{SIGN}{abs(amount):,.2f}"
