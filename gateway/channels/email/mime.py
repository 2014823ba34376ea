"""Walking one mail's MIME tree (a stdlib ``compat32`` Message): header values, the part a
person wrote and its text, and what is attached (pure; never raises on bad input).

:mod:`parse` sums the results up as a :class:`~gateway.channels.email.parse.ParsedMail`;
:mod:`attachments` collects the files.
Text parts are decoded by :mod:`charsets` (legacy Persian charsets, unlabelled 8-bit data).
"""

from __future__ import annotations

import re
from email.message import Message

from gateway.channels.email.body import html_to_text
from gateway.channels.email.charsets import decode_bytes, decode_raw_header
from gateway.channels.email.structure import MailLimits, TooComplex, read_message


def header(msg: Message, name: str) -> str | None:
    """A header's decoded value (RFC 2047, 8-bit bytes), or None; never raises."""
    lowered = name.lower()
    for key, raw in msg.raw_items():  # unparsed: 8-bit bytes are still surrogate escapes
        if key.lower() == lowered:
            return decode_raw_header(str(raw))
    return None


def payload(part: Message) -> str | list[Message]:
    """A part's undecoded payload.  ``get_payload()`` decodes 8-bit text by the charset
    parameter and raised ValueError for a label with a NUL in it (found by fuzzing)."""
    try:
        return part.get_payload()  # type: ignore[no-any-return]
    except (ValueError, LookupError, UnicodeError):
        return part._payload  # type: ignore[attr-defined,no-any-return]  # what get_payload reads


def leaves(part: Message) -> list[Message]:
    """Leaf parts in order; a message/* part is a leaf (a forward stays one attachment)."""
    if part.get_content_maintype() == "message" or not part.is_multipart():
        return [part]
    inner = payload(part)
    return [leaf for p in (inner if isinstance(inner, list) else []) for leaf in leaves(p)]


def body_part(msg: Message) -> Message | None:
    """The text a person wrote: the first inline text/plain leaf, else the first text/html.

    For multipart/alternative and multipart/related this is the plain (or HTML) root, as
    ``EmailMessage.get_body`` would choose; attachments and forwarded mails are skipped.
    """
    if not msg.is_multipart():
        return msg if msg.get_content_type() in ("text/plain", "text/html") else None
    inline = [p for p in leaves(msg) if (p.get_content_disposition() or "inline") == "inline" and not has_name(p)]
    for ctype in ("text/plain", "text/html"):
        for part in inline:
            if part.get_content_type() == ctype:
                return part
    return None


def body_text(msg: Message, body: Message) -> tuple[str, bool]:
    """The body's text; a blank text/plain gives way to an HTML alternative that has words."""
    text, from_html = part_text(body)
    if text or body.get_content_type() != "text/plain" or not msg.is_multipart():
        return text, from_html
    for part in leaves(msg):
        if (
            part is not body
            and part.get_content_type() == "text/html"
            and not has_name(part)
            and (part.get_content_disposition() or "inline") == "inline"
        ):
            text, from_html = part_text(part)
            if text:
                return text, from_html
    return "", False


def part_text(part: Message) -> tuple[str, bool]:
    """A text part's text, and whether it came from HTML."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = str(payload(part)).encode("utf-8", "surrogateescape")
    text = decode_bytes(data, part.get_content_charset())
    if part.get_content_type() == "text/html":
        return html_to_text(text), True
    return text.replace("\r\n", "\n").replace("\r", "\n").strip(), False


def fallback_text(msg: Message) -> str:
    """Text of a mail whose MIME structure is broken (no boundary found, ...)."""
    content = payload(msg)
    if isinstance(content, str):
        data = msg.get_payload(decode=True)
        data = data if isinstance(data, bytes) else content.encode("utf-8", "surrogateescape")
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
    try:
        inner = read_message(head + data, MailLimits())
    except TooComplex:
        return None
    body = body_part(inner) if inner.is_multipart() else None
    return part_text(body)[0] if body is not None else None


def has_name(part: Message) -> bool:
    """True if the part carries a file name (so it is an attachment, not an alternative)."""
    try:
        return bool(part.get_filename(None))
    except Exception:  # noqa: BLE001 - a broken filename parameter counts as no name
        return False


def as_bytes(part: Message) -> bytes:
    """A part back as bytes (a forwarded mail kept as .eml); never raises.

    The stdlib's generator re-encodes what it writes and raised on 8-bit text it could not
    encode (UnicodeEncodeError) and on headers with embedded line breaks and NULs
    (HeaderParseError), both found by fuzzing: then we write the parts out as they came.
    """
    try:
        return part.as_bytes()
    except Exception:  # noqa: BLE001 - see above
        return _written_out(part, 0)


def _written_out(part: Message, depth: int) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in part.raw_items())
    inner = payload(part)
    if isinstance(inner, list) and depth < 100:
        boundary = part.get_boundary() or "part"
        inner = b"".join(
            b"--" + _encode(boundary) + b"\r\n" + _written_out(p, depth + 1) + b"\r\n"
            for p in inner
            if isinstance(p, Message)
        )
        return _encode(head) + b"\r\n" + inner + b"--" + _encode(boundary) + b"--\r\n"
    return _encode(head) + b"\r\n" + _encode(str(inner))


def _encode(text: str) -> bytes:
    """Text from the compat32 parser back to its bytes (8-bit bytes are surrogate escapes)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate the parser did not make
        return text.encode("utf-8", "replace")
