"""Walking one mail's MIME tree (a stdlib ``compat32`` Message): header values, the part a
person wrote and its text, and what is attached (pure; never raises on bad input).

:mod:`parse` sums the results up as a :class:`~gateway.channels.email.parse.ParsedMail`.
Text parts are decoded by :mod:`charsets` (legacy Persian charsets, unlabelled 8-bit data).
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email.message import Message

from gateway.channels.email.body import html_to_text
from gateway.channels.email.charsets import decode_bytes, decode_raw_header
from gateway.core.messages import InboundAttachment
from gateway.core.store import safe_filename

# Default file name extensions of unnamed attachments.
EXTENSIONS = {"message/rfc822": ".eml", "image/png": ".png", "image/jpeg": ".jpg",
              "image/gif": ".gif", "application/pdf": ".pdf", "text/plain": ".txt",
              "text/html": ".html"}
FORWARD_MARK = "---------- Forwarded message ----------\n"


@dataclass(slots=True)
class Attachments:
    """The attached parts: kept, skipped (over the size limit), and a bare forward's text."""

    kept: list[InboundAttachment] = field(default_factory=list)
    skipped: list[dict[str, object]] = field(default_factory=list)
    forwarded_text: str | None = None  # set only for a mail without text of its own


def header(msg: Message, name: str) -> str | None:
    """A header's decoded value (RFC 2047, 8-bit bytes), or None; never raises."""
    lowered = name.lower()
    for key, raw in msg.raw_items():  # unparsed: 8-bit bytes are still surrogate escapes
        if key.lower() == lowered:
            return decode_raw_header(str(raw))
    return None


def leaves(part: Message) -> list[Message]:
    """Leaf parts in order; a message/* part is a leaf (a forward stays one attachment)."""
    if part.get_content_maintype() == "message" or not part.is_multipart():
        return [part]
    payload = part.get_payload()
    return [leaf for p in (payload if isinstance(payload, list) else []) for leaf in leaves(p)]


def body_part(msg: Message) -> Message | None:
    """The text a person wrote: the first inline text/plain leaf, else the first text/html.

    For multipart/alternative and multipart/related this is the plain (or HTML) root, as
    ``EmailMessage.get_body`` would choose; attachments and forwarded mails are skipped.
    """
    if not msg.is_multipart():
        return msg if msg.get_content_type() in ("text/plain", "text/html") else None
    inline = [p for p in leaves(msg) if (p.get_content_disposition() or "inline") == "inline"
              and not _has_name(p)]
    for ctype in ("text/plain", "text/html"):
        for part in inline:
            if part.get_content_type() == ctype:
                return part
    return None


def part_text(part: Message) -> tuple[str, bool]:
    """A text part's text, and whether it came from HTML."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = str(part.get_payload()).encode("utf-8", "surrogateescape")
    text = decode_bytes(data, part.get_content_charset())
    if part.get_content_type() == "text/html":
        return html_to_text(text), True
    return text.replace("\r\n", "\n").strip(), False


def fallback_text(msg: Message) -> str:
    """Text of a mail whose MIME structure is broken (no boundary found, ...)."""
    payload = msg.get_payload()
    if isinstance(payload, str):
        data = msg.get_payload(decode=True)
        data = data if isinstance(data, bytes) else payload.encode("utf-8", "surrogateescape")
        repaired = _repair_boundary(data) if msg.get_content_maintype() == "multipart" else None
        if repaired is not None:
            return repaired
        text = decode_bytes(data, msg.get_content_charset())
        return html_to_text(text) if "<html" in text[:2000].lower() else text.strip()
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            text, _ = part_text(part)
            if text:
                return text
    return ""


def _repair_boundary(data: bytes) -> str | None:
    """A multipart body whose declared boundary never appears: use the one that does."""
    m = re.search(rb"^--([^\r\n]{1,70}?)\r?$", data, re.M)
    if m is None:
        return None
    head = b'Content-Type: multipart/mixed; boundary="' + m.group(1).replace(b'"', b"") + b'"\r\n\r\n'
    inner = email.message_from_bytes(head + data)
    body = body_part(inner) if inner.is_multipart() else None
    return part_text(body)[0] if body is not None else None


def collect_attachments(msg: Message, body: Message | None, has_text: bool, limit: int) -> Attachments:
    """Every leaf but the body, its alternatives and report parts; the first forwarded
    mail also gives the text when the mail has none (``has_text`` false)."""
    found = Attachments()
    for n, part in enumerate(leaves(msg) if msg.is_multipart() else []):
        ctype = part.get_content_type()
        if part is body or ctype in ("message/delivery-status", "text/rfc822-headers"):
            continue
        disposition = (part.get_content_disposition() or "").lower()
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not _has_name(part):
            continue  # an alternative of the body we already have
        inner = part.get_payload()
        if ctype == "message/rfc822" and isinstance(inner, list) and inner:
            data = _as_bytes(inner[0])
            if not has_text and found.forwarded_text is None:  # a bare forward: its text is the message
                found.forwarded_text = FORWARD_MARK + _forwarded_text(inner[0])
        else:
            decoded = part.get_payload(decode=True)
            data = decoded if isinstance(decoded, bytes) else str(inner).encode("utf-8", "surrogateescape")
        name = _filename(part, ctype, n)
        if len(data) > limit:
            found.skipped.append({"filename": name, "content_type": ctype, "size": len(data)})
            continue
        inline = disposition == "inline" or (disposition != "attachment" and part.get("Content-ID") is not None)
        found.kept.append(InboundAttachment(name, ctype, data, inline))
    return found


def _has_name(part: Message) -> bool:
    try:
        return bool(part.get_filename(None))
    except Exception:  # noqa: BLE001 - a broken filename parameter counts as no name
        return False


def _as_bytes(part: Message) -> bytes:
    try:
        return part.as_bytes()
    except Exception:  # noqa: BLE001 - as_bytes can raise on odd headers (STACK_NOTES 7)
        return str(part).encode("utf-8", "surrogateescape")


def _forwarded_text(inner: Message) -> str:
    lines = [f"{h}: {v}" for h in ("From", "Date", "Subject") if (v := header(inner, h))]
    body = body_part(inner)
    text = part_text(body)[0] if body is not None else fallback_text(inner)
    return "\n".join(lines) + "\n\n" + text


def _filename(part: Message, ctype: str, n: int) -> str:
    try:
        name = part.get_filename(None)
    except Exception:  # noqa: BLE001 - broken RFC 2231 parameters
        name = None
    if name:
        name = decode_raw_header(name)
    return safe_filename(name, default=f"attachment-{n}{EXTENSIONS.get(ctype, '.bin')}")
