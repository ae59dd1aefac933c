"""One cell of the file into one Python value: text, codes, dates, money, percentages, yes/no, choices.

A parser returns EMPTY for a blank cell (the row decides whether that is allowed) and raises
CellError with the user's message for a value it cannot read.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl.utils.datetime import from_excel

from ..validators import normalize_credit_code, normalize_text
from .spec import CHOICE_WORDS, FALSE_WORDS, TRUE_WORDS, Column


class CellError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


EMPTY = object()
TWO_PLACES = Decimal("0.01")
EXCEL_SERIAL_1950, EXCEL_SERIAL_MAX = 18264, 2958466  # 1950-01-01 and 9999-12-31
MONEY_LIMIT = Decimal(10) ** 12  # max_digits 14 with 2 decimal places
DATE_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Any) -> str:
    text = str(value).strip()
    return text if len(text) <= 40 else text[:40] + "…"


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # Excel keeps phone numbers and codes typed without a leading apostrophe as numbers.
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time(0) else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def _parse_text(value: Any, column: Column) -> Any:
    # Stored as the model stores it (PlainCharField), so a row and its stored twin compare equal.
    text = normalize_text(_as_text(value))
    return text if text else EMPTY


def _parse_credit_code(value: Any, column: Column) -> Any:
    text = normalize_credit_code(_as_text(value))
    return text if text else EMPTY


def _parse_money(value: Any, column: Column) -> Any:
    if is_blank(value):
        return EMPTY
    if isinstance(value, bool | datetime.date):
        raise CellError(_not_a_number(column, value))
    if isinstance(value, Decimal | int):
        amount = Decimal(value)
    elif isinstance(value, float):
        # repr gives the shortest decimal that round-trips: 1234.5 stays 1234.5, not 1234.4999...
        amount = Decimal(repr(value))
    else:
        text = str(value).strip()
        text = re.sub(r"^[¥￥]|元$|^RMB", "", text, flags=re.IGNORECASE).replace(",", "").replace("，", "").strip()
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise CellError(_not_a_number(column, value)) from exc
    if not amount.is_finite():
        raise CellError(_not_a_number(column, value))
    if amount < 0:
        raise CellError(
            _("%(column)s must not be negative; got %(value)s.") % {"column": column.header, "value": amount}
        )
    if amount >= MONEY_LIMIT:
        raise CellError(_("%(column)s is too large: %(value)s.") % {"column": column.header, "value": _shown(value)})
    if amount != amount.quantize(TWO_PLACES):
        raise CellError(
            _("%(column)s has more than two decimal places: %(value)s.")
            % {"column": column.header, "value": _shown(value)}
        )
    return amount.quantize(TWO_PLACES)


def _not_a_number(column: Column, value: Any) -> str:
    return _("%(column)s must be an amount such as 12500.00; got “%(value)s”.") % {
        "column": column.header,
        "value": _shown(value),
    }


def _parse_date(value: Any, column: Column) -> Any:
    if is_blank(value):
        return EMPTY
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if float(value).is_integer() and 19000101 <= value <= 29991231:
                text = str(int(value))  # 20260131 typed as a number
                return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
            if float(value).is_integer() and EXCEL_SERIAL_1950 <= value < EXCEL_SERIAL_MAX:
                return from_excel(value).date()  # an Excel serial day number in a cell not formatted as a date
        elif isinstance(value, str):
            text = value.strip()
            match = DATE_TEXT.match(text)
            if match:
                return datetime.date(*(int(g) for g in match.groups()))
            if re.fullmatch(r"\d{8}", text):
                return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except (ValueError, OverflowError, TypeError):
        pass
    raise CellError(
        _("%(column)s must be a date such as 2026-01-31 or 2026/01/31; got “%(value)s”.")
        % {"column": column.header, "value": _shown(value)}
    )


def _parse_percent(value: Any, column: Column) -> Any:
    if is_blank(value):
        return EMPTY
    number = None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip().rstrip("%％").strip())
        except InvalidOperation:
            number = None
    if number is not None and Decimal(number).is_finite() and Decimal(number) == int(number) and 0 <= number <= 100:
        return int(number)
    raise CellError(
        _("%(column)s must be a whole number from 0 to 100; got “%(value)s”.")
        % {"column": column.header, "value": _shown(value)}
    )


def _parse_bool(value: Any, column: Column) -> Any:
    if isinstance(value, bool):
        return value
    text = _as_text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise CellError(
        _("%(column)s must be 是 or 否 (yes or no); got “%(value)s”.")
        % {"column": column.header, "value": _shown(value)}
    )


PARSERS = {
    "text": _parse_text,
    "code": _parse_text,
    "credit_code": _parse_credit_code,
    "ref_client": _parse_credit_code,
    "ref_contract": _parse_text,
    "employee_no": _parse_text,
    "money": _parse_money,
    "date": _parse_date,
    "percent": _parse_percent,
    "bool": _parse_bool,
    "choice": _parse_text,
}
REF_KINDS = {"ref_client", "ref_contract", "employee_no"}


class Choices:
    """Accepts a choice as its code, its label (Chinese or English) or a common Chinese word."""

    def __init__(self, model: type[models.Model], field_name: str):
        model_field = model._meta.get_field(field_name)
        self.lookup: dict[str, str] = {}
        self.shown: list[str] = []
        words = CHOICE_WORDS.get((model, field_name), {})
        for code, label in model_field.choices:
            names = [code, *words.get(code, ())]
            for language in ("zh-hans", "en"):
                with translation.override(language):
                    names.append(str(label))
            for name in names:
                self.lookup.setdefault(name.strip().lower(), code)
            self.shown.append(f"{words[code][0]}（{code}）" if code in words else code)

    def parse(self, text: str, column: Column) -> str:
        code = self.lookup.get(text.strip().lower())
        if code is None:
            raise CellError(
                _("%(column)s: “%(value)s” is not an allowed value; use one of %(allowed)s.")
                % {"column": column.header, "value": _shown(text), "allowed": "、".join(self.shown)}
            )
        return code
