"""Persian text normalisation."""

import pytest

from gateway.core.text import first_word, fold, normalize, to_ascii_digits, to_persian_digits


@pytest.mark.parametrize(
    "raw,expected",
    [
        pytest.param("علي", "علی", id="arabic-yeh"),
        pytest.param("كار", "کار", id="arabic-kaf"),
        pytest.param("می\u200cخواهم", "می\u200cخواهم", id="zwnj-kept"),
        pytest.param("می\u200c\u200cخواهم", "می\u200cخواهم", id="zwnj-run-collapsed"),
        pytest.param("سلام\u200f  دنيا", "سلام دنیا", id="rlm-dropped-spaces-collapsed"),
        pytest.param("كـــتاب", "کتاب", id="tatweel"),
        pytest.param("a\r\n\r\n\r\n\r\nb", "a\n\nb", id="blank-lines"),
        pytest.param("\ufeffhello", "hello", id="bom"),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_digits():
    assert to_ascii_digits("۱۲۳٤٥٦") == "123456"
    assert normalize("کد ۱۲۳", ascii_digits=True) == "کد 123"


def test_fold_and_first_word():
    assert fold("شكايت  دارم") == "شکایت دارم"
    assert first_word("«شكايت»: از اداره") == "شکایت"
    assert first_word("") == ""


def test_clean_text_shortcut_agrees_with_the_full_normalisation():
    """normalize() returns an already-clean text as it is; that shortcut must never differ
    from the full normalisation, whatever mix of letters, marks and whitespace comes in."""
    import random
    import unicodedata

    from gateway.core.text import _normalize

    alphabet = (
        "ab0 7سلام۱٤٣۹يىكةۃ\u0640\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2066\u2069\ufeff"
        " \n\r\t\u00a0\u2003\u202f\u205f\u3000\x0b\x0c\x85\u2028e\u0301\u00e9"
    )
    rng = random.Random(9)
    shortcut = 0
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.choice((rng.randint(0, 12), rng.randint(60, 90)))))
        assert to_ascii_digits(text) == text.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2))
        assert to_persian_digits(text) == text.translate(str.maketrans("0123456789٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹" * 2))
        for ascii_digits in (False, True):
            assert normalize(text, ascii_digits=ascii_digits) == _normalize(text, ascii_digits), repr(text)
        shortcut += _normalize(text, False) == text and unicodedata.is_normalized("NFC", text)
    assert shortcut > 100  # the clean case was exercised, not only the slow one
