"""What a mail carries besides its text: attached files, forwarded mails, Outlook's TNEF
(pure; never raises on bad input).

Bounds (:class:`~gateway.channels.email.structure.MailLimits`): one file over
``attachment_bytes`` is noted, not kept; past ``attachments`` files or ``decoded_bytes`` in
all, the rest are not stored one by one: :mod:`parse` then keeps the whole mail as
``original.eml``, so nothing is lost and a mail of 40,000 tiny parts is one file, not 40,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from gateway.channels.email import tnef
from gateway.channels.email.charsets import decode_raw_header
from gateway.channels.email.mime import as_bytes, body_part, fallback_text, has_name, header, leaves, part_text, payload
from gateway.channels.email.structure import MailLimits
from gateway.core.messages import InboundAttachment
from gateway.core.store import safe_filename

# Default file name extensions of unnamed attachments.
EXTENSIONS = {
    "message/rfc822": ".eml",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/html": ".html",
    "application/gzip": ".gz",
    "application/zip": ".zip",
}
FORWARD_MARK = "---------- Forwarded message ----------\n"
NOT_FILES = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "text/rfc822-headers",
        "message/feedback-report",
        "message/disposition-notification",
    }
)  # report data


@dataclass(slots=True)
class Attachments:
    """The attached parts: kept, skipped (over the size limit), and a bare forward's text."""

    kept: list[InboundAttachment] = field(default_factory=list)
    skipped: list[dict[str, object]] = field(default_factory=list)
    stand_in_text: str | None = None  # a bare forward's or TNEF's text, for a mail without its own
    over_cap: int = 0  # files past the count or total-size bound (original.eml holds them)
    decoded: int = 0  # bytes kept so far

    def add(self, item: InboundAttachment, limits: MailLimits) -> None:
        """Keep one file, unless it is over the size limit or past the caps."""
        size = len(item.data)
        if size > limits.attachment_bytes:
            self.skipped.append({"filename": item.filename, "content_type": item.content_type, "size": size})
        elif self.over_cap or len(self.kept) >= limits.attachments or self.decoded + size > limits.decoded_bytes:
            self.over_cap += 1
        else:
            self.kept.append(item)
            self.decoded += size


def file_parts(msg: Message, body: Message | None) -> list[tuple[int, Message]]:
    """The parts that are files, with their leaf number: every leaf but the body, its
    alternatives and report parts.  A mail that is a single non-text part (an image, a gzip,
    winmail.dat) is one file."""
    if not msg.is_multipart():
        return [(0, msg)] if msg.get_content_maintype() not in ("text", "multipart") else []
    out = []
    for n, part in enumerate(leaves(msg)):
        ctype = part.get_content_type()
        if part is body or ctype in NOT_FILES:
            continue
        disposition = (part.get_content_disposition() or "").lower()
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not has_name(part):
            continue  # an alternative of the body we already have
        out.append((n, part))
    return out


def collect_attachments(msg: Message, body: Message | None, has_text: bool, limits: MailLimits) -> Attachments:
    """The files of a mail; the first forwarded mail (or a TNEF body) also gives the text
    when the mail has none (``has_text`` false)."""
    found = Attachments()
    for n, part in file_parts(msg, body):
        if found.over_cap:  # past the caps: count the rest without decoding them
            found.over_cap += 1
            continue
        ctype, inner = part.get_content_type(), payload(part)
        if ctype == "message/rfc822" and isinstance(inner, list) and inner:
            data = as_bytes(inner[0])
            if not has_text and found.stand_in_text is None:  # a bare forward: its text is the message
                found.stand_in_text = FORWARD_MARK + _stand_in_text(inner[0])
        else:
            decoded = part.get_payload(decode=True)
            data = decoded if isinstance(decoded, bytes) else str(inner).encode("utf-8", "surrogateescape")
        name = _filename(part, ctype, n)
        if tnef.is_tnef(ctype, name) and (unpacked := tnef.unpack(data)) is not None:
            if unpacked.text and not has_text and found.stand_in_text is None:
                found.stand_in_text = unpacked.text
            for item in unpacked.files:
                found.add(item, limits)
            continue
        disposition = (part.get_content_disposition() or "").lower()
        inline = disposition == "inline" or (disposition != "attachment" and part.get("Content-ID") is not None)
        found.add(InboundAttachment(name, ctype, data, inline), limits)
    return found


def _stand_in_text(inner: Message) -> str:
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
