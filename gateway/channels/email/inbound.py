"""One mail, whichever way it came (SMTP, IMAP, import): parse, decide, hand to the core.

:class:`MailIntake` turns raw bytes plus envelope into an ``InboundMessage`` (threading
hints, alias kind/unit, loop verdict, per-address cap), applies delivery-failure reports to
the outbox, and submits to ``core.intake``.  Dedupe is by Message-ID across all email
sources (provider ``email``), so a mail that reaches us by SMTP and by IMAP is one case.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field, replace

from gateway.channels.email import worker
from gateway.channels.email.body import trim_reply
from gateway.channels.email.parse import MailLimits, ParsedMail, parse_mail
from gateway.core import tracking
from gateway.core.context import GatewayContext
from gateway.core.messages import Channel, InboundMessage, IntakeResult
from gateway.core.outbox import is_our_message_id

log = logging.getLogger(__name__)
PROVIDER = "email"  # one dedupe namespace for every email source; meta["source"] says which
SUBJECT_CODE = re.compile(r"\[#\s*([0-9۰-۹٠-٩](?:[\s\-\u200c]?[0-9۰-۹٠-٩]){9})\s*\]")
# one header field with its folded continuation lines; trace fields (RFC 5321 section 4.4)
_HEADER_LINE = re.compile(rb"[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*")
_TRACE = re.compile(rb"(received|return-path|delivered-to|x-original-to|x-envelope-[a-z-]+)\s*:", re.I)
REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fw|fwd|tr|wg|rv|پاسخ|جواب|ج)\s*(\[\d+\])?\s*[:：]\s*)+", re.I)


@dataclass(slots=True)
class Envelope:
    """How a mail reached us: SMTP envelope, or the mailbox it was fetched from."""

    source: str  # smtp | imap | import
    mail_from: str | None = None
    rcpt_tos: list[str] = field(default_factory=list)
    acknowledge: bool = True


def subject_code(subject: str) -> str | None:
    """The tracking code in ``[#...]`` in a decoded subject (any digit script), or None."""
    m = SUBJECT_CODE.search(subject)
    if not m:
        return None
    try:
        return tracking.parse(m.group(1))
    except tracking.CodeError:
        return None


def synthetic_id(raw: bytes) -> str:
    """A stable stand-in Message-ID for mail without one (so replays still dedupe).

    Trace headers are left out of the hash: our own ``Received:`` line has the time of each
    attempt, so an SMTP retry (or the same mail by SMTP and by IMAP) must hash the same.
    """
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    lines = _HEADER_LINE.findall(head + b"\n") if sep else []
    kept = b"".join(line for line in lines if not _TRACE.match(line)) if sep else raw
    digest = hashlib.sha256(kept.replace(b"\r\n", b"\n") + sep + body)
    return f"<{digest.hexdigest()[:40]}@no-message-id.invalid>"


def content_of(mail: ParsedMail, follow_up: bool) -> str:
    """What the citizen wrote: the (trimmed) text, or the subject when the body is empty."""
    text = trim_reply(mail.text) if follow_up else mail.text
    if text.strip() or mail.attachments:
        return text
    subject = SUBJECT_CODE.sub(" ", REPLY_PREFIX.sub("", mail.subject)).strip()
    return subject  # a mail with only a subject says what it has to say there


class MailIntake:
    """Builds inbound messages from raw mail and submits them."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        cfg = ctx.config.email
        self.aliases = {a.lower(): v for a, v in cfg.smtp.aliases.items()}
        self.limits = MailLimits(
            attachment_bytes=cfg.max_attachment_bytes,
            parts=cfg.max_parts,
            depth=cfg.max_depth,
            attachments=cfg.max_attachments,
            decoded_bytes=cfg.max_decoded_bytes,
        )

    def build(self, raw: bytes, envelope: Envelope) -> tuple[InboundMessage, ParsedMail]:
        """Parse and decide, here and now (pure; the edges use :meth:`prepare`)."""
        return self.decide(raw, parse_mail(raw, self.limits, envelope.mail_from), envelope)

    async def parse(self, raw: bytes, envelope: Envelope) -> ParsedMail:
        """Parse in the mail parser process (:mod:`worker`), so a heavy mail does not stall
        the event loop (/healthz, SMTP, webhooks)."""
        return await worker.parse_off_loop(raw, self.limits, envelope.mail_from)

    def decide(self, raw: bytes, mail: ParsedMail, envelope: Envelope) -> tuple[InboundMessage, ParsedMail]:
        """A parsed mail -> its message: threading hints, alias, loop verdict (pure)."""
        cfg = self.ctx.config.email
        ours = [
            r
            for r in [*mail.references, *mail.in_reply_to]
            if is_our_message_id(r, self.ctx.signer, cfg.message_id_domain)
        ]
        code = subject_code(mail.subject)
        follow_up = bool(ours or code or REPLY_PREFIX.match(mail.subject))
        text = content_of(mail, follow_up)
        for s in mail.skipped:
            text += f"\n[پیوست {s['filename']} ({int(s['size']) // 1024} KB) بزرگ‌تر از حد مجاز بود و نگه داشته نشد]"
        recipients = envelope.rcpt_tos or mail.recipients
        alias = next((self.aliases[r.lower()] for r in recipients if r.lower() in self.aliases), None)
        sender = mail.sender or (envelope.mail_from or None)
        meta: dict[str, object] = {"source": envelope.source, "headers": mail.headers}
        if mail.defects:
            meta["defects"] = mail.defects
        if mail.skipped:
            meta["skipped_attachments"] = mail.skipped
        if mail.automatic:
            meta["automatic"] = mail.automatic
        if mail.kept_whole:
            meta["kept_whole"] = mail.kept_whole
        if text != mail.text:
            meta["trimmed"] = True
        acknowledge = envelope.acknowledge and not mail.automatic
        message = InboundMessage(
            channel=Channel.EMAIL,
            provider=PROVIDER,
            text=text,
            external_id=mail.message_id or synthetic_id(raw),
            sender=sender,
            sender_name=mail.sender_name,
            recipient=recipients[0] if recipients else None,
            subject=mail.subject[:500],
            attachments=mail.attachments,
            tracking_code=code,
            body_codes=tracking.find_codes(mail.text)[:5],
            thread_refs=ours[-50:],
            kind_hint=alias.kind if alias else None,
            unit_hint=alias.unit if alias else None,
            automatic=mail.automatic is not None,
            acknowledge=acknowledge,
            meta=meta,
        )
        return message, mail

    async def prepare(self, raw: bytes, envelope: Envelope) -> tuple[InboundMessage, ParsedMail]:
        """:meth:`parse` (off the loop) and :meth:`decide`, then :meth:`cap`."""
        message, mail = self.decide(raw, await self.parse(raw, envelope), envelope)
        return await self.cap(message), mail

    async def cap(self, message: InboundMessage) -> InboundMessage:
        """The per-address cap on acknowledgements (in the spirit of Zammad's "10
        auto-replies in 10 minutes": a robot that escapes every header check still cannot
        make us write more).  Counted in the shared limiter, so it holds across processes."""
        if not (message.acknowledge and message.sender):
            return message
        cfg = self.ctx.config.email
        allowed, _ = await self.ctx.limiter.hit(
            f"email-ack:{message.sender.strip().casefold()}", cfg.auto_reply_cap, cfg.auto_reply_window_minutes * 60
        )
        if allowed:
            return message
        log.warning("acknowledgement cap reached for one sender; not answering")
        return replace(message, acknowledge=False, meta={**message.meta, "ack_suppressed": "auto_reply_cap"})

    async def apply_report(self, mail: ParsedMail) -> int:
        """Mark our messages named in a delivery-failure report as failed; return how many."""
        if mail.report is None or not mail.report.failed:
            return 0
        cfg, marked = self.ctx.config.email, 0
        detail = f"bounce {mail.report.status} {mail.report.diagnostic}".strip()[:500]
        for mid in mail.report.original_ids:
            if is_our_message_id(mid, self.ctx.signer, cfg.message_id_domain):
                marked += await self.ctx.state.delivery(
                    status="failed", provider_id=mid, detail=detail, channel="email"
                )
        return marked

    async def ingest(self, raw: bytes, envelope: Envelope) -> IntakeResult:
        """Parse, apply a bounce if it is one, and commit through ``core.intake``."""
        message, mail = await self.prepare(raw, envelope)
        await self.apply_report(mail)
        return await self.ctx.intake.submit(message)
