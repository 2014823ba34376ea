"""The shared inbound edge: every provider parses its request into an :class:`IncomingSms`
or a delivery report and hands it here; this module decides the one HTTP status for each.

Store first, process after (``sms.spool_first``, the default): a valid request is written
to the SMS spool (``core.spool``, group-committed) and answered 200 once that commit is
done; the drainer then turns spool rows into :class:`InboundMessage` (``to_inbound``),
applies the abuse limits and submits them to ``core.intake``.  With ``spool_first = false``
the request goes through intake before the 200, as before.

Replies (STYLE.md rule 4): whatever the core made of a text -> 200 "stored" (or
"duplicate" for a provider id seen before), in both modes, so the reply never tells
whether a tracking code exists (a provider retries anything else, Kannel even a 404); a
request we cannot use -> 400; unauthenticated -> 401; database down -> 503 so the
provider retries later.  An unexpected intake error on the direct path keeps the request
in the spool for replay and answers 200.  Status queries by SMS pass the same per-client
limit as code lookups on the web (``web.track_burst``, then ``web.track_per_minute``, per number).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.channels.sms.limits import FloodReporter, NumberBudget
from gateway.channels.sms.parse import BadRequest, IncomingSms, checked_sender, to_inbound
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.messages import InboundMessage, IntakeResult, Intent, Outcome
from gateway.core.spool import SpoolWriter
from gateway.core.spool_drain import SpoolDrainer

log = logging.getLogger(__name__)
OUR_STATUSES = frozenset({"sent", "delivered", "failed"})
COUNTED = (Outcome.CREATED, Outcome.APPENDED)  # what uses up a number's new-case budget


def encode(sms: IncomingSms) -> bytes:
    """The spool form of an SMS: its parsed fields as JSON (receipt time filled in)."""
    received = sms.received_at or datetime.now(UTC)
    return json.dumps(
        {
            "provider": sms.provider,
            "id": sms.external_id,
            "from": sms.sender,
            "to": sms.recipient,
            "text": sms.text,
            "time": received.isoformat(),
        },
        ensure_ascii=False,
    ).encode()


def decode(raw: bytes) -> IncomingSms:
    """Back from :func:`encode` (KeyError or ValueError for a row that is not ours)."""
    d = json.loads(raw)
    return IncomingSms(
        provider=d["provider"],
        external_id=d["id"],
        sender=d["from"],
        recipient=d["to"],
        text=d["text"],
        received_at=datetime.fromisoformat(d["time"]) if d.get("time") else None,
    )


@dataclass(frozen=True, slots=True)
class Reply:
    """What a webhook answers: HTTP status and a short word for the body."""

    status: int
    result: str

    def as_json(self) -> dict[str, str]:
        return {"result": self.result}


class SmsInbound:
    """Spool, limits, intake and delivery reports for all SMS webhooks and pollers."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.sms
        self.new_cases = NumberBudget(ctx, "new_cases", self.cfg.new_cases_per_hour)
        self.flood = FloodReporter(ctx)
        self.spool = SpoolWriter(ctx, "sms")
        # under a flood the webhooks keep the event loop; cases follow at >= 100/s, then at
        # full speed when it stops (bench/README.md "## SMS")
        self.drainer = SpoolDrainer(ctx, "sms", self.from_spool, self.settled, busy=self.spool.busy)

    async def accept(self, sms: IncomingSms) -> Reply:
        """Check one SMS, then store it (spool or intake); answer only after the commit."""
        if self.cfg.spool_first:
            try:
                checked_sender(sms, self.ctx.config)  # what to_inbound refuses, refused now
            except BadRequest as e:
                return Reply(400, str(e))
            try:
                duplicate = await self.spool.put(encode(sms), sms.provider, sms.external_id, {})
            except DatabaseUnavailable:
                log.warning("sms from %s not spooled: database unavailable", sms.provider)
                return Reply(503, "unavailable")
            return Reply(200, "duplicate" if duplicate else "stored")
        try:
            msg = to_inbound(sms, self.ctx.config)
        except BadRequest as e:
            return Reply(400, str(e))
        if not await self.admit(msg):
            return Reply(200, "stored")  # dropped by a limit: the same word as any text
        try:
            result = await self.ctx.intake.submit(msg)
        except DatabaseUnavailable:
            await self.settled(0, msg, None)
            log.warning("sms from %s not stored: database unavailable", sms.provider)
            return Reply(503, "unavailable")
        except Exception:
            await self.settled(0, msg, None)
            log.exception("sms intake failed; keeping the raw message for replay")
            return await self._park(sms)
        await self.settled(0, msg, result)
        return Reply(200, "duplicate" if result.outcome is Outcome.DUPLICATE else "stored")

    async def admit(self, msg: InboundMessage) -> bool:
        """Reserve a slot of the sender's new-case (or code lookup) budget; False (reported)
        when it is spent."""
        if msg.intent is Intent.STATUS_QUERY and msg.sender is not None:
            if not await self.lookup_allowed(msg.sender):
                await self.flood.report(msg.sender, "status_queries")
                return False
            return True
        if msg.intent is not Intent.SUBMISSION or msg.sender is None:
            return True
        if not await self.new_cases.take(msg.sender):
            await self.flood.report(msg.sender, "new_cases")
            return False
        return True

    async def lookup_allowed(self, number: str) -> bool:
        """One code lookup of ``number`` under the /track limit (same scope and bucket:
        ``web.track_burst``, refilled at ``web.track_per_minute``), across processes."""
        web = self.ctx.config.web
        try:
            verdict = await self.ctx.limiter.hit(
                f"track:sms:{number}", web.track_per_minute, 60.0, burst=web.track_burst
            )
        except Exception as e:  # noqa: BLE001 - a limit must not lose the text
            log.warning("sms lookup limit not counted: %s", type(e).__name__)
            return True
        return verdict.allowed

    async def settled(self, spool_id: int, msg: InboundMessage, result: IntakeResult | None) -> None:
        """Give back a reserved slot when the message did not open or extend a case."""
        if msg.intent is Intent.SUBMISSION and msg.sender and (result is None or result.outcome not in COUNTED):
            try:
                await self.new_cases.give_back(msg.sender)
            except Exception as e:  # noqa: BLE001 - the slot comes back with the window anyway
                log.warning("sms budget slot not given back: %s", type(e).__name__)

    async def from_spool(self, raw: bytes, envelope: dict[str, Any]) -> InboundMessage | None:
        """The drainer's parser: a spool row -> message, or None when over the limit."""
        msg = to_inbound(decode(raw), self.ctx.config)
        return msg if await self.admit(msg) else None

    async def start(self) -> None:
        self.spool.start()
        self.drainer.start()

    async def stop(self) -> None:
        await self.spool.stop()
        await self.drainer.stop()

    async def _park(self, sms: IncomingSms) -> Reply:
        try:
            await self.spool.put(encode(sms), sms.provider, sms.external_id, {})
        except Exception:  # noqa: BLE001 - not even the spool: let the provider retry
            return Reply(503, "unavailable")
        return Reply(200, "stored")  # parked in the spool for replay

    async def delivery(
        self, status: str, *, outbox_id: int | None = None, provider_id: str | None = None, detail: str = ""
    ) -> Reply:
        """Apply one delivery report (monotonic in the core); unknown ids answer 200."""
        if status not in OUR_STATUSES:
            return Reply(200, "ignored")
        try:
            known = await self.ctx.state.delivery(
                status=status, outbox_id=outbox_id, provider_id=provider_id, detail=detail[:200], channel="sms"
            )
        except DatabaseUnavailable:
            return Reply(503, "unavailable")
        except Exception as e:  # noqa: BLE001 - the database is down or locked
            log.warning("delivery report not applied: %s", type(e).__name__)
            return Reply(503, "unavailable")
        return Reply(200, "ok" if known else "unknown")
