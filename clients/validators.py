"""Checks on what people type into the book: the unified social credit code (统一社会信用代码,
GB 32100-2015), names and codes without hidden characters, and the limits of free text."""

import datetime
import unicodedata

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
    validate_plain_text(value)
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


# ---------------------------------------------------------------------------------------
# Names and codes: what a person sees must be what is stored.

# Characters a screen, an export or a PDF obeys but nobody sees: control and format
# characters (Cc, Cf: the bidi overrides and isolates U+202A..U+202E and U+2066..U+2069 that
# show a name reversed; the zero-width space, joiners and U+FEFF that make two names look
# alike), surrogates, private-use characters, and the line and paragraph separators.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def hidden_characters(value: str) -> list[str]:
    return [c for c in value if unicodedata.category(c) in HIDDEN_CATEGORIES]


def normalize_text(value: str) -> str:
    """NFC: an accent typed as a separate mark and a precomposed letter are stored alike.

    Not NFKC, which would turn full-width letters, digits and punctuation that people type
    on purpose in Chinese names (（）、Ａ１) into their narrow forms."""
    return unicodedata.normalize("NFC", value)


def validate_plain_text(value: str) -> None:
    """One line of visible text: a name or a code."""
    hidden = hidden_characters(str(value))
    if hidden:
        raise ValidationError(
            _(
                "This contains invisible or control characters (%(codes)s) that can make it show reversed "
                "or look like something else; please remove them."
            ),
            code="hidden_characters",
            params={"codes": ", ".join(dict.fromkeys(f"U+{ord(c):04X}" for c in hidden))},
        )


# ---------------------------------------------------------------------------------------
# Dates of the book (contracts, receivables, deals, follow-ups)

# Wide enough for any real contract or due date; a slip such as 9999-12-31 or 0202-01-01 is
# refused where it is typed instead of breaking the sums and deadlines that use it.
EARLIEST_BOOK_DATE = datetime.date(1990, 1, 1)
LATEST_BOOK_DATE = datetime.date(2100, 12, 31)


def validate_book_date(value: datetime.date) -> None:
    if not EARLIEST_BOOK_DATE <= value <= LATEST_BOOK_DATE:
        raise ValidationError(
            _("The date %(date)s is out of range; dates from %(earliest)s to %(latest)s are accepted."),
            code="date_range",
            params={"date": value.isoformat(), "earliest": EARLIEST_BOOK_DATE, "latest": LATEST_BOOK_DATE},
        )
