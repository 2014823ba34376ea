"""Outbound mail: build the RFC 5322 message, then relay it (aiosmtplib) or write an .eml.

The outbox's idempotency key *is* the Message-ID (our signed id), so a retry after a crash
is the same message.  Both senders report the Message-ID as ``provider_id``: delivery-failure
reports name it, and ``ctx.state.delivery(provider_id=...)`` finds the row by it.
"""

from __future__ import annotations

import asyncio
import base64
import html
import ssl
from email import encoders
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, localtime
from pathlib import Path

import aiosmtplib

from gateway.core.config import EmailOutbound, EmailSection
from gateway.core.messages import OutboundMessage, SendResult
from gateway.core.private import private_dir, write_private

# aiosmtplib exception -> retry?; response errors go by code.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    ConnectionError,
    TimeoutError,
)
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    aiosmtplib.SMTPNotSupported,
    UnicodeEncodeError,
    ssl.SSLError,
    ValueError,
)


def build_message(out: OutboundMessage, cfg: EmailSection, from_address: str | None = None) -> Message:
    """The mail for one outbox row: UTF-8 headers, plain text plus an RTL HTML alternative.

    Built with the ``email.mime`` (compat32) classes: 0.4 ms of CPU a mail, built and
    flattened, against 1.7 ms with the ``EmailMessage`` API, whose header registry parses
    every header it is given; under a mail flood that was over a quarter of the gateway's
    time (bench/README.md "Scale-out").  compat32 cannot write a UTF-8 address (SMTPUTF8), so a
    mail to or from one is built with ``EmailMessage``; tests/test_email_sender.py checks
    that both make the same mail."""
    address = from_address or cfg.from_address
    if not (address.isascii() and _clean(out.recipient).isascii()):
        return build_utf8_message(out, cfg, address)
    body: Message = MIMEMultipart("alternative")
    for subtype, text in (("plain", out.text), ("html", out.html or text_to_html(out.text, out.language))):
        part = MIMEText(text, subtype, "utf-8")
        del part["MIME-Version"]  # once, on the whole mail
        body.attach(part)
    files = _attachments(out)
    if files:
        mixed = MIMEMultipart("mixed")
        del body["MIME-Version"]
        mixed.attach(body)
        for data, (maintype, subtype), filename in files:
            part = MIMEBase(maintype, subtype)
            part.set_payload(data)
            encoders.encode_base64(part)
            del part["MIME-Version"]
            name: str | tuple[str, str, str] = filename if filename.isascii() else ("utf-8", "", filename)
            part.add_header("Content-Disposition", "attachment", filename=name)
            mixed.attach(part)
        body = mixed
    body["From"] = formataddr((cfg.from_name, address), "utf-8")
    for name, value in _headers(out):
        body[name] = value  # a str: flattening encodes what is not ASCII (RFC 2047, UTF-8)
    return body


def build_utf8_message(out: OutboundMessage, cfg: EmailSection, address: str) -> EmailMessage:
    """:func:`build_message` for a UTF-8 address: the ``EmailMessage`` API, which aiosmtplib
    sends with SMTPUTF8."""
    msg = EmailMessage()
    msg.set_content(out.text, charset="utf-8")
    msg.add_alternative(out.html or text_to_html(out.text, out.language), subtype="html", charset="utf-8")
    for data, (maintype, subtype), filename in _attachments(out):
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    # the headers after the content: set_content drops (and the multipart steps move) the
    # Content-* headers already there, and Content-Language belongs to the whole mail
    msg["From"] = Address(cfg.from_name, addr_spec=address) if cfg.from_name else address
    for name, value in _headers(out):
        if name == "To" or value.isascii():
            msg[name] = value
        else:  # encoded here: folding a long UTF-8 subject itself, EmailMessage drops spaces
            msg.set_raw(name, Header(value, "utf-8", header_name=name).encode())
    return msg


def _headers(out: OutboundMessage) -> list[tuple[str, str]]:
    """Every header but From, in order, each value on one line."""
    headers = [
        ("To", _clean(out.recipient)),
        ("Subject", subject_with_code(_clean(out.subject), out.case_code)),
        ("Date", format_datetime(localtime())),
        ("Message-ID", out.idempotency_key),
    ]
    payload = out.payload
    if payload.get("in_reply_to"):
        headers.append(("In-Reply-To", _clean(str(payload["in_reply_to"]))))
    refs = [str(r) for r in payload.get("references") or [] if r]
    if refs:
        headers.append(("References", _clean(" ".join(refs[-20:]))))
    if payload.get("auto_submitted"):  # RFC 3834: acknowledgements; staff answers are not
        headers.append(("Auto-Submitted", _clean(str(payload["auto_submitted"]))))
    # Ask Exchange/Outlook not to answer us with out-of-office replies (MS-OXCMAIL 2.2.3.2.14).
    headers.append(("X-Auto-Response-Suppress", "All"))
    headers.append(("Content-Language", out.language))
    taken = {name.lower() for name, _ in headers} | {"from"}
    for name, value in out.headers.items():
        if name.lower().startswith("x-") and name.lower() not in taken:
            headers.append((name, _clean(value)))
            taken.add(name.lower())
    return headers


def _attachments(out: OutboundMessage) -> list[tuple[bytes, tuple[str, str], str]]:
    """The files we send (monthly report, a forward): (data, (maintype, subtype), filename)."""
    files = []
    for att in out.payload.get("attachments") or []:
        ctype = str(att.get("content_type") or "application/octet-stream").split(";")[0].strip()
        maintype, _, subtype = ctype.partition("/")
        filename = _clean(str(att.get("filename") or "attachment"))
        data = base64.b64decode(str(att.get("data_b64", "")))
        files.append((data, (maintype or "application", subtype or "octet-stream"), filename))
    return files


def subject_with_code(subject: str, code: str | None) -> str:
    """Make sure the subject carries ``[#code]`` (the threading key, in ASCII digits)."""
    if not code or f"[#{code}]" in subject:
        return subject
    return f"{subject} [#{code}]".strip()


def text_to_html(text: str, language: str) -> str:
    """A minimal HTML alternative; right-to-left for Persian."""
    rtl = language in ("fa", "ar")
    body = "<br>\n".join(html.escape(line) for line in text.splitlines())
    direction = ' dir="rtl" style="text-align:right;font-family:Tahoma,sans-serif"' if rtl else ""
    return (
        f'<!DOCTYPE html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f"</head><body><div{direction}>{body}</div></body></html>"
    )


def _clean(value: str) -> str:
    """No CR/LF in a header value (header injection)."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


class SmtpRelaySender:
    """Send through the configured relay; 4xx and connection trouble retry, 5xx do not."""

    def __init__(
        self, email: EmailSection, relay: EmailOutbound, password: str | None, ca_file: Path | None = None
    ) -> None:
        self.email, self.relay, self.password = email, relay, password
        self.tls_context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None

    async def send(self, message: OutboundMessage) -> SendResult:
        msg = build_message(message, self.email, self.relay.from_address)
        r = self.relay
        try:
            errors, _ = await aiosmtplib.send(
                msg,
                hostname=r.host,
                port=r.port,
                start_tls=r.starttls or None,
                username=r.username or None,
                password=self.password if r.username else None,
                timeout=r.timeout_seconds,
                tls_context=self.tls_context,
                local_hostname=self.email.message_id_domain,
            )
        except aiosmtplib.SMTPRecipientsRefused as e:
            codes = [x.code for x in e.recipients]
            return _by_code(min(codes) if codes else 550, "recipient refused")
        except aiosmtplib.SMTPResponseException as e:
            return _by_code(e.code, e.message[:200])
        except TRANSIENT_ERRORS as e:
            return SendResult.temporary("smtp_unreachable", type(e).__name__)
        except PERMANENT_ERRORS as e:
            return SendResult.permanent("smtp_unsendable", type(e).__name__)
        if errors:
            code = min(resp.code for resp in errors.values())
            return _by_code(code, "recipient refused")
        return SendResult.sent(provider_id=message.idempotency_key)


def _by_code(code: int, detail: str) -> SendResult:
    if 400 <= code < 500:
        return SendResult.temporary(f"smtp_{code}", detail)
    return SendResult.permanent(f"smtp_{code}", detail)


class EmlFolderSender:
    """The out-of-the-box sender: one RFC 5322 file per message under ``outbox/email/``."""

    def __init__(self, email: EmailSection, folder: Path) -> None:
        self.email, self.folder = email, folder

    def _write(self, message: OutboundMessage) -> Path:
        private_dir(self.folder)
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in message.idempotency_key)
        path = self.folder / f"{name.strip('_')}.eml"
        write_private(path, bytes(build_message(message, self.email)))  # a resend overwrites it
        return path

    async def send(self, message: OutboundMessage) -> SendResult:
        try:
            await asyncio.to_thread(self._write, message)
        except OSError as e:
            return SendResult.temporary("file_error", e.strerror or type(e).__name__)
        return SendResult.sent(provider_id=message.idempotency_key)
