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
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, localtime
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


def build_message(out: OutboundMessage, cfg: EmailSection, from_address: str | None = None) -> EmailMessage:
    """The mail for one outbox row: UTF-8 headers, plain text plus an RTL HTML alternative."""
    msg = EmailMessage()
    address = from_address or cfg.from_address
    msg["From"] = Address(cfg.from_name, addr_spec=address) if cfg.from_name else address
    msg["To"] = _clean(out.recipient)
    msg["Subject"] = subject_with_code(_clean(out.subject), out.case_code)
    msg["Date"] = format_datetime(localtime())
    msg["Message-ID"] = out.idempotency_key
    payload = out.payload
    if payload.get("in_reply_to"):
        msg["In-Reply-To"] = _clean(str(payload["in_reply_to"]))
    refs = [str(r) for r in payload.get("references") or [] if r]
    if refs:
        msg["References"] = _clean(" ".join(refs[-20:]))
    if payload.get("auto_submitted"):  # RFC 3834: acknowledgements; staff answers are not
        msg["Auto-Submitted"] = _clean(str(payload["auto_submitted"]))
    # Ask Exchange/Outlook not to answer us with out-of-office replies (MS-OXCMAIL 2.2.3.2.14).
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Content-Language"] = out.language
    for name, value in out.headers.items():
        if name.lower().startswith("x-") and name not in msg:
            msg[name] = _clean(value)
    msg.set_content(out.text, charset="utf-8")
    msg.add_alternative(out.html or text_to_html(out.text, out.language), subtype="html", charset="utf-8")
    for att in payload.get("attachments") or []:  # files we send (monthly report, a forward)
        ctype = str(att.get("content_type") or "application/octet-stream").split(";")[0].strip()
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(
            base64.b64decode(str(att.get("data_b64", ""))),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=_clean(str(att.get("filename") or "attachment")),
        )
    return msg


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
