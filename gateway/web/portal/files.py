"""Attachments from the portal: which files are accepted and under what name.

The type is decided by the file's first bytes (its signature) together with its
extension, never by the browser's Content-Type: a photo, a PDF, or an office document
(OOXML and OpenDocument are ZIP files, the old Word/Excel/PowerPoint formats OLE2).  The
name a citizen gives is only a label: bidi controls (a U+202E "right-to-left override"
can make ``gpj.exe`` read as ``exe.jpg``), control characters and path parts are removed
before it is shown or stored (``core.store.safe_filename`` does the rest).
"""

from __future__ import annotations

import re
import unicodedata

from gateway.core.store import safe_filename
from gateway.core.text import to_persian_digits

# extension -> (signature prefixes, the content type we record)
ACCEPTED: dict[str, tuple[tuple[bytes, ...], str]] = {
    "jpg": ((b"\xff\xd8\xff",), "image/jpeg"),
    "jpeg": ((b"\xff\xd8\xff",), "image/jpeg"),
    "png": ((b"\x89PNG\r\n\x1a\n",), "image/png"),
    "gif": ((b"GIF87a", b"GIF89a"), "image/gif"),
    "webp": ((b"RIFF",), "image/webp"),
    "pdf": ((b"%PDF-",), "application/pdf"),
    "docx": ((b"PK\x03\x04",), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": ((b"PK\x03\x04",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pptx": ((b"PK\x03\x04",), "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    "odt": ((b"PK\x03\x04",), "application/vnd.oasis.opendocument.text"),
    "ods": ((b"PK\x03\x04",), "application/vnd.oasis.opendocument.spreadsheet"),
    "doc": ((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",), "application/msword"),
    "xls": ((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",), "application/vnd.ms-excel"),
    "ppt": ((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",), "application/vnd.ms-powerpoint"),
}
# Format characters (Unicode category Cf) other than ZWNJ/ZWJ, which Persian words need:
# the bidi embeddings, overrides and isolates, LRM/RLM, the BOM, soft hyphen.
_KEEP = {"\u200c", "\u200d"}


def clean_name(name: str | None) -> str:
    """A display name without bidi controls, path parts or control characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = "".join(c for c in name if c in _KEEP or unicodedata.category(c) not in ("Cf", "Cc"))
    return safe_filename(re.sub(r"\s+", " ", name))


def sniff(name: str, head: bytes) -> str | None:
    """The content type to record for an accepted file, or None if it is not accepted."""
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    entry = ACCEPTED.get(ext)
    if entry is None:
        return None
    signatures, content_type = entry
    if not head.startswith(signatures):
        return None
    if ext == "webp" and head[8:12] != b"WEBP":
        return None
    return content_type


def human_size(n: int, lang: str) -> str:
    """A byte count as MB or KB for messages (Persian digits in Persian)."""
    value = f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"
    if lang == "fa":
        value = to_persian_digits(value.replace("MB", "مگابایت").replace("KB", "کیلوبایت"))
    return value
