"""Outlook's TNEF wrapper (``winmail.dat``, ``application/ms-tnef``), unpacked with tnefparse.

Outlook sends the body and the real attachments inside one binary blob that no other mail
client (and no member of staff) can open; [MS-OXTNEF] describes it.  We take out the plain
or HTML body and the files; if that fails, the blob stays attached as it came.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tnefparse import TNEF

from gateway.channels.email.body import html_to_text
from gateway.channels.email.charsets import decode_bytes
from gateway.core.messages import InboundAttachment
from gateway.core.store import safe_filename

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
logging.getLogger("tnefparse").setLevel(logging.ERROR)  # it logs every odd checksum


@dataclass(slots=True)
class Unpacked:
    """What came out of one TNEF blob."""

    text: str = ""
    files: list[InboundAttachment] = field(default_factory=list)


def is_tnef(content_type: str, filename: str | None) -> bool:
    """True for a TNEF part, by type or by Outlook's fixed file name."""
    return content_type in TNEF_TYPES or (filename or "").lower() == "winmail.dat"


def unpack(data: bytes) -> Unpacked | None:
    """The body text and files inside a TNEF blob, or None if it is not readable TNEF."""
    try:
        tnef = TNEF(data, do_checksum=False)
        out = Unpacked(text=_text(tnef))
        for n, item in enumerate(tnef.attachments):
            payload = item.data if isinstance(item.data, bytes) else b""
            name = _name(item.long_filename()) or f"tnef-{n}.bin"
            out.files.append(
                InboundAttachment(
                    safe_filename(name, default=f"tnef-{n}.bin"), "application/octet-stream", payload, False
                )
            )
    except Exception:  # noqa: BLE001 - a damaged blob: the caller keeps it as it came
        return None
    return out if (out.text or out.files) else None


def _text(tnef: TNEF) -> str:
    body = tnef.body
    if isinstance(body, bytes):
        body = decode_bytes(body.rstrip(b"\0"), None)
    if isinstance(body, str) and body.strip():
        return body.replace("\r\n", "\n").strip("\0").strip()
    html = tnef.htmlbody
    if isinstance(html, bytes):
        html = decode_bytes(html, None)
    return html_to_text(html) if isinstance(html, str) and html.strip() else ""


def _name(value: object) -> str:
    if isinstance(value, bytes):
        value = decode_bytes(value, None)
    return str(value or "").strip("\0").strip()
