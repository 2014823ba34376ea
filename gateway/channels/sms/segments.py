"""SMS segment budget: how many parts a text costs, and fitting a long text into a budget.

GSM 03.38 texts cost 160 septets single / 153 per concatenated part; one character outside
the GSM alphabet (any Persian letter) makes the whole message UCS-2: 70 units single, 67
per part (a 6-byte concatenation UDH, 3GPP TS 23.040 section 9.2.3.24.1).  Characters
outside the Basic Multilingual Plane (emoji) cost two UCS-2 units.
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic table (3GPP TS 23.038 section 6.2.1) and its extension table (cost 2).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")
# (single, per part) for each alphabet
LIMITS = {"gsm": (160, 153), "ucs2": (70, 67)}
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Budget:
    """The cost of one text."""

    alphabet: str  # gsm | ucs2
    units: int
    parts: int


def is_gsm(text: str) -> bool:
    """True if every character is in the GSM 03.38 alphabet (basic or extension)."""
    return all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)


def units(text: str, alphabet: str | None = None) -> int:
    """Septets (GSM) or UTF-16 code units (UCS-2) the text costs."""
    alphabet = alphabet or ("gsm" if is_gsm(text) else "ucs2")
    if alphabet == "gsm":
        return sum(2 if c in GSM_EXTENDED else 1 for c in text)
    return len(text.encode("utf-16-be")) // 2


def measure(text: str) -> Budget:
    """Alphabet, units and number of parts for a text."""
    alphabet = "gsm" if is_gsm(text) else "ucs2"
    n = units(text, alphabet)
    single, per_part = LIMITS[alphabet]
    parts = 1 if n <= single else -(-n // per_part)
    return Budget(alphabet, n, parts)


def capacity(alphabet: str, max_parts: int) -> int:
    """How many units fit in ``max_parts`` parts."""
    single, per_part = LIMITS[alphabet]
    return single if max_parts == 1 else per_part * max_parts


def fit(text: str, max_parts: int, tail: str = "") -> str:
    """Return ``text`` if it fits in ``max_parts``; else whole words of it, an ellipsis and
    ``tail`` (the web link), so a citizen can read the rest online.  Never cuts a word."""
    if measure(text).parts <= max_parts:
        return text
    suffix = f"{ELLIPSIS}\n{tail}" if tail else ELLIPSIS
    alphabet = "gsm" if is_gsm(text + suffix) else "ucs2"
    room = capacity(alphabet, max_parts) - units(suffix, alphabet)
    kept = _whole_words(text, room, alphabet)
    return f"{kept}{suffix}" if kept else (tail or ELLIPSIS)


def _whole_words(text: str, room: int, alphabet: str) -> str:
    """The longest prefix of ``text`` ending at a word boundary that costs at most ``room``."""
    if room <= 0:
        return ""
    used, end, best = 0, 0, 0
    for i, ch in enumerate(text):
        used += units(ch, alphabet)
        if used > room:
            break
        end = i + 1
        if ch.isspace():
            best = i  # cut before this space
    if end == len(text):
        return text
    if end < len(text) and text[end].isspace():
        best = end
    return text[:best].rstrip()


def split_parts(text: str, per_part: int) -> list[str]:
    """Split at word boundaries into chunks of at most ``per_part`` units (for providers
    that do not concatenate); a single word longer than a part is split hard."""
    alphabet = "gsm" if is_gsm(text) else "ucs2"
    parts: list[str] = []
    rest = text
    while rest:
        chunk = _whole_words(rest, per_part, alphabet)
        if not chunk:  # one huge word: cut by units
            n, used = 0, 0
            while n < len(rest) and used + units(rest[n], alphabet) <= per_part:
                used += units(rest[n], alphabet)
                n += 1
            chunk = rest[: max(n, 1)]
        parts.append(chunk)
        rest = rest[len(chunk) :].lstrip()
    return parts
