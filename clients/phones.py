"""Phone numbers as links a phone can dial."""


def tel_href(phone: str) -> str:
    """A phone number as a tel: link: digits and a leading + only; "" when there is no digit."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"tel:{'+' if (phone or '').strip().startswith('+') else ''}{digits}" if digits else ""
