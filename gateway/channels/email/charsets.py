"""Decoding text whose charset label is missing, wrong or exotic.

Persian mail still arrives in windows-1256 and iso-8859-6, labelled with names Python does
not know (``iso-8859-6-i``, ``iso-8859-8-i``: RFC 1556 "implicit" bidi variants, same bytes)
or not labelled at all (8-bit headers, RFC 6532 only allows UTF-8 there).
"""

from __future__ import annotations

import codecs
import re
from email.header import decode_header

from charset_normalizer import from_bytes

# Labels seen in the wild -> a codec Python has (WHATWG encoding labels, RFC 1556).
CHARSET_ALIASES: dict[str, str] = {
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "arabic": "iso-8859-6",
    "asmo-708": "iso-8859-6",
    "ecma-114": "iso-8859-6",
    "x-mac-arabic": "mac-arabic",
    "windows-1256": "cp1256",
    "win-1256": "cp1256",
    "cp-1256": "cp1256",
    "x-cp1256": "cp1256",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gbk",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "utf8": "utf-8",
    "x-user-defined": "",
}
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None if unknown or absent."""
    if not label:
        return None
    name = "".join(c for c in label if " " < c <= "~").strip("\"'").lower()  # no NULs, no controls
    name = CHARSET_ALIASES.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL inside the label (found by fuzzing)
        return None


def guess_decode(data: bytes) -> str:
    """Decode unlabelled bytes: UTF-8 if valid, else the best guess, else cp1256."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:65536], cp_isolation=["cp1256", "iso8859_6", "cp1252", "utf_16"]).best()
    codec = best.encoding if best is not None else "cp1256"
    return data.decode(codec, "replace")


def decode_bytes(data: bytes, label: str | None) -> str:
    """Decode a body part's bytes by its label, falling back to a guess (never raises)."""
    codec = codec_for(label)
    if codec is not None and codec != "ascii":
        try:
            return data.decode(codec)
        except (UnicodeError, LookupError, ValueError):
            pass
    if data.isascii():
        return data.decode("ascii")
    return guess_decode(data)


def decode_raw_header(raw: str) -> str:
    """Decode an unparsed header value: 8-bit bytes and RFC 2047 encoded words.

    Adjacent encoded words in one charset are joined before decoding, so a Persian letter
    split across two words (a common RFC 2047 violation) comes out whole.
    """
    data = raw.encode("utf-8", "surrogateescape")
    text = data.decode("utf-8") if _is_utf8(data) else guess_decode(data)
    if not _ENCODED_WORD.search(text):
        return _unfold(text)
    try:
        parts = decode_header(text)
    except Exception:  # noqa: BLE001 - HeaderParseError and friends: keep it readable
        return _unfold(text)
    out = []
    for chunk, label in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, label))
    return _unfold("".join(out))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _unfold(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()
