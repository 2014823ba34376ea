"""Persian text normalisation."""

import pytest

from gateway.core.text import first_word, fold, normalize, to_ascii_digits


@pytest.mark.parametrize("raw,expected", [
    pytest.param("علي", "علی", id="arabic-yeh"),
    pytest.param("كار", "کار", id="arabic-kaf"),
    pytest.param("می\u200cخواهم", "می\u200cخواهم", id="zwnj-kept"),
    pytest.param("می\u200c\u200cخواهم", "می\u200cخواهم", id="zwnj-run-collapsed"),
    pytest.param("سلام\u200f  دنيا", "سلام دنیا", id="rlm-dropped-spaces-collapsed"),
    pytest.param("كـــتاب", "کتاب", id="tatweel"),
    pytest.param("a\r\n\r\n\r\n\r\nb", "a\n\nb", id="blank-lines"),
    pytest.param("\ufeffhello", "hello", id="bom"),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_digits():
    assert to_ascii_digits("۱۲۳٤٥٦") == "123456"
    assert normalize("کد ۱۲۳", ascii_digits=True) == "کد 123"


def test_fold_and_first_word():
    assert fold("شكايت  دارم") == "شکایت دارم"
    assert first_word("«شكايت»: از اداره") == "شکایت"
    assert first_word("") == ""
