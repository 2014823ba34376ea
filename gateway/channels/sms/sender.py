"""The SMS sender the dispatcher calls: budget, abuse limit, then the provider's transport.

Every outbox row becomes one :class:`SmsOut` whose ``local_id`` is the row's idempotency
key (a provider that dedupes on it never sends twice) and whose text fits
``sms.max_parts``: a too-long text (a staff answer) keeps whole words and ends with the
web link (``payload["link"]``, else the case's tracking page).  Automatic replies (ack,
status, help…) are limited per number; staff answers and surveys never are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from gateway.channels.sms import segments
from gateway.channels.sms.limits import FloodReporter, NumberBudget
from gateway.core.context import GatewayContext
from gateway.core.messages import OutboundMessage, SendResult

log = logging.getLogger(__name__)
# Purposes written by people (or asked for by them); never rate limited.
UNLIMITED_PURPOSES = frozenset({"answer", "survey", "notice"})
# Automatic replies whose template must fit the budget (checked at start).
BUDGETED_TEMPLATES = ("ack", "status", "unknown_code", "check_code", "help", "survey_thanks", "survey")


@dataclass(frozen=True, slots=True)
class SmsOut:
    """One SMS ready for a provider."""

    outbox_id: int
    local_id: str
    to: str  # E.164
    text: str
    ucs2: bool
    parts: int


class Transport(Protocol):
    """A provider's outbound side."""

    async def send(self, sms: SmsOut) -> SendResult: ...


class SmsSender:
    """Turns outbox rows into provider sends."""

    def __init__(self, ctx: GatewayContext, transport: Transport) -> None:
        self.ctx, self.transport = ctx, transport
        # a provider that cannot drop a repeat by our key (Kannel) makes the dispatcher wait
        # for a delivery report before resending a row that may have gone out
        self.idempotent = bool(getattr(transport, "idempotent", True))
        self.max_parts = ctx.config.sms.max_parts
        self.replies = NumberBudget(ctx, "auto_replies", ctx.config.sms.replies_per_hour)
        self.flood = FloodReporter(ctx)

    def compose(self, message: OutboundMessage) -> str:
        """The text to send, within the segment budget."""
        text = message.text.strip()
        survey = str(message.payload.get("survey_link") or "")
        if survey and survey not in text:
            text = f"{text}\n{survey}"
        if segments.measure(text).parts <= self.max_parts:
            return text
        link = str(message.payload.get("link") or "")
        if not link and message.case_code:
            link = self.ctx.track_link(message.case_code, message.language)
        body = text
        for url in (link, survey):
            body = body.replace(url, "") if url else body
        tail = "\n".join(url for url in (link, survey) if url)
        return segments.fit(body.strip(), self.max_parts, tail)

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send one row; the same row sent again carries the same local id."""
        if not message.recipient:
            return SendResult.permanent("no_recipient", "no phone number")
        automatic = message.purpose not in UNLIMITED_PURPOSES
        if automatic and message.attempt <= 1:
            if not await self.replies.take(message.recipient):
                await self.flood.report(message.recipient, "auto_replies")
                return SendResult.permanent("rate_limited", "too many automatic replies to this number")
        text = self.compose(message)
        cost = segments.measure(text)
        sms = SmsOut(
            outbox_id=message.outbox_id,
            local_id=message.idempotency_key,
            to=message.recipient,
            text=text,
            ucs2=cost.alphabet == "ucs2",
            parts=cost.parts,
        )
        return await self.transport.send(sms)


def check_templates(ctx: GatewayContext) -> list[str]:
    """Automatic SMS templates that do not fit ``sms.max_parts`` with long sample values."""
    max_parts = ctx.config.sms.max_parts
    base = ctx.config.gateway.public_base_url
    sample = {
        "code": "۱۴۰۳۰۹۰۰۱۲",
        "code_ascii": "1403090012",
        "kind": "گزارش تخلف",
        "status": "پاسخ داده شده",
        "unit": max((u.code for u in ctx.config.units), key=len),
        "received": "۱۴۰۳/۰۹/۳۰",
        "due": "۱۴۰۳/۱۰/۱۵",
        "answered": "۱۴۰۳/۱۰/۰۱",
        "answer": "",
        "link": f"{base}/s/{'x' * 40}",
        "track_link": f"{base}/track?code=1403090012",
    }
    problems = []
    for lang in ("fa", "en"):
        for name in BUDGETED_TEMPLATES:
            cost = segments.measure(ctx.templates.render(name, lang, **sample))
            if cost.parts > max_parts:
                problems.append(
                    f"templates.{lang}.{name}: {cost.units} {cost.alphabet} units need "
                    f"{cost.parts} SMS parts, more than sms.max_parts = {max_parts}"
                )
    return problems
