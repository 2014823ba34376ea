"""Tracking codes: format, Damm check digit, parsing in every digit script."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core import tracking
from gateway.core.tracking import CodeError

codes = st.builds(lambda _: tracking.generate(), st.integers())


@given(codes)
def test_generated_codes_have_the_documented_shape(code):
    assert len(code) == 10 and code.isdigit() and code[0] != "0"
    assert tracking.is_valid(code)


@settings(max_examples=200)
@given(codes, st.integers(0, 9), st.integers(1, 9))
def test_every_single_digit_error_is_caught(code, pos, delta):
    wrong = code[:pos] + str((int(code[pos]) + delta) % 10) + code[pos + 1 :]
    with pytest.raises(CodeError) as e:
        tracking.parse(wrong)
    assert e.value.reason == "check_digit"


@settings(max_examples=200)
@given(codes, st.integers(0, 8))
def test_every_adjacent_transposition_is_caught(code, pos):
    if code[pos] == code[pos + 1]:
        return  # swapping equal digits changes nothing
    swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
    assert not tracking.is_valid(swapped)


def test_exhaustive_single_errors_on_one_code():
    code = tracking.generate()
    for pos in range(10):
        for d in "0123456789":
            if d != code[pos]:
                assert not tracking.is_valid(code[:pos] + d + code[pos + 1 :])


CODE = "5724" + "03918"
CODE += str(tracking.damm_digit(CODE))


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param(CODE, id="ascii"),
        pytest.param(CODE.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")), id="persian"),
        pytest.param(CODE.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")), id="arabic-indic"),
        pytest.param(f"{CODE[:3]} {CODE[3:6]} {CODE[6:]}", id="spaces"),
        pytest.param(f"{CODE[:5]}-{CODE[5:]}", id="dash"),
        pytest.param(f"{CODE[:5]}\u200c{CODE[5:]}", id="zwnj"),
        pytest.param(f"  {CODE}\n", id="surrounding-space"),
        pytest.param("۵۷۲" + CODE[3:], id="mixed-scripts"),
    ],
)
def test_parse_accepts_any_digit_script_and_separators(typed):
    assert tracking.parse(typed) == CODE


@pytest.mark.parametrize(
    "typed,reason",
    [
        ("", "format"),
        ("12345", "format"),
        ("12345678901", "format"),
        ("abcdefghij", "format"),
        (CODE[:-1] + str((int(CODE[-1]) + 1) % 10), "check_digit"),
    ],
)
def test_parse_rejects_with_a_reason(typed, reason):
    with pytest.raises(CodeError) as e:
        tracking.parse(typed)
    assert e.value.reason == reason


def test_find_codes_in_text_skips_typos_and_longer_numbers():
    typo = CODE[:-1] + str((int(CODE[-1]) + 1) % 10)
    text = f"پیرو کد {tracking.display(CODE)} و {typo} و شماره 0912{CODE}"
    assert tracking.find_codes(text) == [CODE]


def test_display_in_persian_digits():
    assert tracking.display("1234567890") == "۱۲۳۴۵۶۷۸۹۰"
    assert tracking.display("1234567890", "en") == "1234567890"
