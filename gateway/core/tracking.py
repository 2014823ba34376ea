"""Tracking codes (کد رهگیری): 10 digits, 9 from a CSPRNG plus a Damm check digit.

README "Tracking codes".  The Damm algorithm (H. M. Damm, 2004) catches every single-digit
error and every adjacent transposition, so a typo is rejected before any lookup.
"""

from __future__ import annotations

import re
import secrets

from gateway.core.errors import CodeError as CodeError  # re-exported: raised here
from gateway.core.text import to_ascii_digits, to_persian_digits

CODE_LENGTH = 10

# The weakly totally anti-symmetric quasigroup of order 10 from Damm's thesis.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Separators a citizen may put between digit groups: spaces, dashes, ZWNJ, dots.
_SEPARATORS = re.compile(r"[\s\-\u200c\u200f\u200e\u2010-\u2015_.]")
# A run of digits (any script) possibly broken by single separators, for finding codes in text.
_CANDIDATE = re.compile(r"(?<![0-9۰-۹٠-٩])[0-9۰-۹٠-٩](?:[ \-\u200c_.]?[0-9۰-۹٠-٩]){9}(?![0-9۰-۹٠-٩])")


def damm_digit(digits: str) -> int:
    """Return the Damm check digit for an ASCII digit string."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


def is_valid(code: str) -> bool:
    """True if ``code`` is 10 ASCII digits whose Damm checksum is zero."""
    return len(code) == CODE_LENGTH and code.isascii() and code.isdigit() and damm_digit(code) == 0


def generate() -> str:
    """Make a new random code: first digit 1-9, eight more digits, then the check digit."""
    body = str(10**8 + secrets.randbelow(9 * 10**8))  # 9 digits, uniform, first one 1-9
    return body + str(damm_digit(body))


def parse(text: str) -> str:
    """Parse a code typed by a citizen in any digit script; raise :class:`CodeError`."""
    compact = _SEPARATORS.sub("", to_ascii_digits(text.strip()))
    if len(compact) != CODE_LENGTH or not compact.isdigit() or not compact.isascii():
        raise CodeError("format")
    if damm_digit(compact) != 0:
        raise CodeError("check_digit")
    return compact


def looks_like_code(text: str) -> bool:
    """True if the whole text is a 10-digit code shape (valid or a typo)."""
    try:
        parse(text)
    except CodeError as e:
        return e.reason == "check_digit"
    return True


def find_codes(text: str) -> list[str]:
    """Return the valid codes written anywhere in ``text``, in order, without repeats."""
    found: list[str] = []
    for m in _CANDIDATE.finditer(text):
        try:
            code = parse(m.group(0))
        except CodeError:
            continue
        if code not in found:
            found.append(code)
    return found


def display(code: str, language: str = "fa") -> str:
    """Show a code for people: Persian digits in Persian text, ASCII otherwise."""
    return to_persian_digits(code) if language == "fa" else code


def spoken_digits(code: str) -> list[str]:
    """The digits one by one, for saying a code on the phone."""
    return list(code)
