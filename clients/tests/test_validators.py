import pytest
from django.core.exceptions import ValidationError

from clients.validators import validate_credit_code

# Published codes of real companies.
REAL_CODES = [
    "914403001922038216",  # 华为技术有限公司
    "9144030071526726XG",  # 深圳市腾讯计算机系统有限公司
    "91330100799655058B",  # 阿里巴巴（中国）有限公司
    "91110000802100433B",  # 中国石油天然气股份有限公司
    "91350100M000100Y43",  # the standard's own example
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_it_accepts_real_codes(code):
    validate_credit_code(code)


def test_it_accepts_lowercase_and_spaces_around():
    validate_credit_code(" 9144030071526726xg ")


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        ("914403001922038217", "credit_code_check"),  # last character changed
        ("924403001922038216", "credit_code_check"),  # one digit changed
        ("91440300192203821", "credit_code_length"),
        ("9144030019220382160", "credit_code_length"),
        ("91440300192203821I", "credit_code_chars"),  # I is not in the character set
        ("9144030O71526726XG", "credit_code_chars"),  # letter O, not zero
        ("Z14403001922038216", "credit_code_chars"),
        ("B14403001922038216", "credit_code_authority"),
        ("", "credit_code_length"),
    ],
)
def test_it_rejects_invalid_codes(code, error_code):
    with pytest.raises(ValidationError) as excinfo:
        validate_credit_code(code)
    assert excinfo.value.code == error_code
