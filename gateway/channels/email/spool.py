"""Store first, parse after (GNU Mailman's design): the SMTP edge's durable queue, on the
core's spool (``gateway.core.spool``).

The SMTP edge puts each raw mail and its envelope into the ``email`` spool; concurrent DATA
share one commit, and each client gets its 250 only after it.  :class:`MailDrainer` parses
pending rows, applies delivery reports, and submits the messages to ``core.intake``; a row is
marked processed only after the intake commit, so a crash replays it and the Message-ID
dedupe makes the replay harmless.  While mail is pouring in, the drainer yields the event loop
to the SMTP edge (20 mails per second at least), then drains at full speed.  A mail that
cannot be parsed stays in the spool as ``failed`` (raw kept for replay) and its sender gets a
bounce.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.channels.email.parse import ParsedMail
from gateway.core.context import GatewayContext
from gateway.core.messages import InboundMessage
from gateway.core.outbox import queue_once
from gateway.core.spool import SpoolWriter
from gateway.core.spool_drain import Parsed, Row, SpoolDrainer

log = logging.getLogger(__name__)
CHANNEL = "email"
SOURCE = "smtp"
BOUNCE_TEXT = (
    "Your message could not be read by the feedback gateway. It has been kept for "
    "an operator, but it has not been registered. Please send it again as plain "
    "text.\n\nپیام شما خوانده نشد و ثبت نشد. لطفاً آن را دوباره به صورت متن ساده بفرستید."
)


def mail_spool(ctx: GatewayContext) -> SpoolWriter:
    """The SMTP edge's group-commit writer (rows without an external id: no dedupe here;
    the Message-ID dedupe happens in intake)."""
    return SpoolWriter(ctx, CHANNEL, batch_max=200)


def envelope_of(env: dict[str, Any]) -> Envelope:
    return Envelope("smtp", env.get("mail_from"), list(env.get("rcpt_tos", [])))


class MailDrainer(SpoolDrainer):
    """Parse and submit pending mails (every process drains, each its own claimed rows)."""

    BUSY_BATCH, BUSY_PAUSE = 20, 1.0  # while SMTP is busy: 20 mails per second, at least

    def __init__(self, ctx: GatewayContext, intake: MailIntake, spool: SpoolWriter, batch: int = 200) -> None:
        super().__init__(
            ctx,
            CHANNEL,
            self.parse_row,
            on_failed=self.bounce_row,
            batch=batch,
            poll_seconds=1.0,
            busy=spool.busy,
            busy_batch=self.BUSY_BATCH,
            busy_pause=self.BUSY_PAUSE,
        )
        self.intake = intake

    async def parse_row(self, raw: bytes, env: dict[str, Any]) -> InboundMessage:
        """A spooled mail -> its message; a delivery report is applied on the way."""
        message, mail = await self.intake.prepare(raw, envelope_of(env))
        await self.intake.apply_report(mail)
        return message

    async def parse_all(self, rows: list[Row]) -> list[Parsed | BaseException]:
        """:meth:`parse_row` for a pass, staged: every mail is parsed (in the parser
        process) before any is capped, so the caps reach the shared limiter together, one
        transaction for the pass.  Capped as each parse came back, they made one transaction
        every few mails: a 200-mail pass spent ~150 ms parsing, ~90 ms of it in the
        limiter (bench/README.md "Scale-out")."""

        async def parse(raw: bytes, env: dict[str, Any]) -> tuple[InboundMessage, ParsedMail]:
            envelope = envelope_of(env)
            return self.intake.decide(raw, await self.intake.parse(raw, envelope), envelope)

        async def finish(parsed: tuple[InboundMessage, ParsedMail] | BaseException) -> InboundMessage:
            if isinstance(parsed, BaseException):
                raise parsed
            message, mail = parsed
            message = await self.intake.cap(message)
            await self.intake.apply_report(mail)
            return message

        first = await asyncio.gather(*(parse(raw, env) for _, raw, env in rows), return_exceptions=True)
        return await asyncio.gather(*(finish(p) for p in first), return_exceptions=True)

    async def bounce_row(self, spool_id: int, raw: bytes, env: dict[str, Any]) -> None:
        await self.bounce(envelope_of(env).mail_from, spool_id)

    async def bounce(self, to: str | None, spool_id: int) -> None:
        """Queue a note to the sender that their mail was kept but not read (never for a
        null sender), through the outbox like every other message: retried, recorded, and
        queued once per spool row (its key is derived from the row)."""
        if not to or to == "<>":
            return
        queued = await queue_once(
            self.ctx.db,
            channel=CHANNEL,
            purpose="bounce",
            recipient=to,
            subject="Undeliverable: your message could not be read / پیام شما خوانده نشد",
            text=BOUNCE_TEXT + f"\n\n(ref spool-{spool_id})",
            language="en",
            key=self.ctx.addresses.new_key(CHANNEL, f"bounce-spool-{spool_id}"),
            payload={"auto_submitted": "auto-replied"},
        )
        if queued:
            self.ctx.dispatcher.wake()
        log.info("bounce for spooled mail %d %s", spool_id, "queued" if queued else "was already queued")
