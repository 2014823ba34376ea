"""Persian text normalisation, applied to inbound text before matching codes and keywords.

Arabic letter forms become Persian (ي→ی, ك→ک, ة→ه, ۀ kept), Persian and Arabic-Indic digits
can be turned to ASCII, ZWNJ (U+200C, needed in Persian words such as «می‌خواهم») is kept,
other invisible marks are dropped and whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
_TO_ASCII = str.maketrans(PERSIAN_DIGITS + ARABIC_DIGITS, "0123456789" * 2)
_TO_PERSIAN = str.maketrans("0123456789" + ARABIC_DIGITS, PERSIAN_DIGITS * 2)
_LETTERS = str.maketrans({
    "ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ۃ": "ه",
    "\u0640": None,  # tatweel (kashida) is decoration
})
# Bidi controls and zero-width marks other than ZWNJ carry no meaning in matching.
_INVISIBLE = re.compile("[\u200b\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZWNJ_RUNS = re.compile("\u200c{2,}")
_BLANK_LINES = re.compile(r"\n{3,}")


def to_ascii_digits(text: str) -> str:
    """Replace Persian and Arabic-Indic digits with ASCII digits."""
    return text.translate(_TO_ASCII)


def to_persian_digits(text: str) -> str:
    """Replace ASCII and Arabic-Indic digits with Persian digits."""
    return text.translate(_TO_PERSIAN)


# Anything _normalize would change, apart from NFC and digits: a letter to map, an invisible
# mark, whitespace other than a single space or newline, a space or ZWNJ run, a space at a line
# edge, a blank-line run, whitespace at either end.  Most texts have none of it.
_NEEDS_WORK = re.compile("[\u064a\u0649\u0643\u0629\u06c3\u0640\u200b\u200d\u200e\u200f"
                         "\u202a-\u202e\u2066-\u2069\ufeff]|[^\\S \n]|  | \n|\n |\n\n\n|"
                         "\u200c\u200c|^\\s|\\s$")


def normalize(text: str, *, ascii_digits: bool = False) -> str:
    """Normalise Persian text: letters, invisible marks, whitespace; ZWNJ kept."""
    if _NEEDS_WORK.search(text) is None and unicodedata.is_normalized("NFC", text):
        return to_ascii_digits(text) if ascii_digits else text  # already clean: most texts
    if len(text) <= 4096:
        return _normalize_cached(text, ascii_digits)  # intake normalises a text several times
    return _normalize(text, ascii_digits)


def _normalize(text: str, ascii_digits: bool) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text.translate(_LETTERS))
    text = _ZWNJ_RUNS.sub("\u200c", text)
    if ascii_digits:
        text = to_ascii_digits(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


_normalize_cached = lru_cache(maxsize=1024)(_normalize)


def fold(text: str) -> str:
    """A search key: normalised, ASCII digits, lower case, ZWNJ as a space."""
    if len(text) <= 4096:
        return _fold_cached(text)  # intake folds the same text for kind, unit and search
    return _fold(text)


def _fold(text: str) -> str:
    return normalize(text, ascii_digits=True).replace("\u200c", " ").casefold()


_fold_cached = lru_cache(maxsize=512)(_fold)


def first_word(text: str) -> str:
    """The first word of ``fold(text)``, without punctuation around it."""
    words = fold(text).split()
    return words[0].strip(".,:;!?،؛؟«»()[]-") if words else ""
