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


# GB 32100: the check value is 31 - (weighted sum mod 31), and a check value of 31 is written "0".
# Worked by hand for the first: 9·1 + 1·3 + 4·9 + 4·27 + 3·26 + M(21)·20 + A(10)·29 + 5·25 + F(15)·13
# + 8·28 = 1488 = 48 × 31, so the check value is 31 and the check character "0".
CHECK_VALUE_EDGE_CODES = [
    "91440300MA5F000080",  # weighted sum ≡ 0 (mod 31): check value 31, written "0"
    "911100000000000250",  # the same edge with digits only
    "121000000000000150",  # and for an institution (1, not 9)
    "91440300MA5F00027Y",  # weighted sum ≡ 1 (mod 31): check value 30, the last character "Y"
]


@pytest.mark.parametrize("code", CHECK_VALUE_EDGE_CODES)
def test_it_accepts_codes_at_both_ends_of_the_check_value(code):
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
