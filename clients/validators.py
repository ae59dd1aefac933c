"""Unified social credit code (统一社会信用代码), GB 32100-2015."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# First character: the registering authority (登记管理部门代码).
CREDIT_CODE_AUTHORITIES = set("123456789ANY")


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_CHARS.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def normalize_credit_code(value: str) -> str:
    return (value or "").strip().upper()


def validate_credit_code(value: str) -> None:
    code = normalize_credit_code(value)
    if len(code) != 18:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(n)d."),
            code="credit_code_length",
            params={"n": len(code)},
        )
    bad = sorted({c for c in code if c not in CREDIT_CODE_CHARS})
    if bad:
        raise ValidationError(
            _("The unified social credit code contains characters that are not allowed: %(chars)s."),
            code="credit_code_chars",
            params={"chars": " ".join(bad)},
        )
    if code[0] not in CREDIT_CODE_AUTHORITIES:
        raise ValidationError(
            _("The unified social credit code starts with an unknown registering authority."),
            code="credit_code_authority",
        )
    if credit_code_check_char(code[:17]) != code[17]:
        raise ValidationError(
            _("The check character of the unified social credit code is wrong; please check the code."),
            code="credit_code_check",
        )


# ---------------------------------------------------------------------------------------
# Free text: one limit per field, read by the model, the forms, the API and the import.

# Long enough for any real plan, note or client description; short enough that pasted
# megabytes cannot stall the PDF print or a worker.
TEXT_MAX_LENGTH = 4000
# The handover report and its template: a summary of the whole book.
LONG_TEXT_MAX_LENGTH = 20000
