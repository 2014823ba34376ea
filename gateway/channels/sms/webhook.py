"""The shared inbound edge: every provider parses its request into an :class:`IncomingSms`
or a delivery report and hands it here; this module applies the abuse limits, submits to
``core.intake`` and decides the one HTTP status for each outcome.

Replies (STYLE.md rule 4): stored, duplicate, ignored or rejected by the core -> 200 (a
provider retries anything else, Kannel even a 404); a request we cannot use -> 400; bad
signature -> 401; database down -> 503 so the provider retries later.  An unexpected
error keeps the raw request in the inbound spool for replay and still answers 200.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from gateway.channels.sms.limits import FloodReporter, SlidingWindow
from gateway.channels.sms.parse import BadRequest, IncomingSms, to_inbound
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.messages import Intent, Outcome

log = logging.getLogger(__name__)
OUR_STATUSES = frozenset({"sent", "delivered", "failed"})


@dataclass(frozen=True, slots=True)
class Reply:
    """What a webhook answers: HTTP status and a short word for the body."""

    status: int
    result: str

    def as_json(self) -> dict[str, str]:
        return {"result": self.result}


class SmsInbound:
    """Limits, intake and delivery reports for all SMS webhooks and pollers."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        cfg = ctx.config.sms
        self.new_cases = SlidingWindow(cfg.new_cases_per_hour)
        self.flood = FloodReporter(ctx)

    async def accept(self, sms: IncomingSms) -> Reply:
        """Submit one SMS to the core; answer only after it is committed."""
        try:
            msg = to_inbound(sms, self.ctx.config)
        except BadRequest as e:
            return Reply(400, str(e))
        limited = msg.intent is Intent.SUBMISSION and msg.sender is not None
        if limited and not self.new_cases.allowed(msg.sender or ""):
            await self.flood.report(msg.sender or "", "new_cases")
            return Reply(200, "rate_limited")
        try:
            result = await self.ctx.intake.submit(msg)
        except DatabaseUnavailable:
            log.warning("sms from %s not stored: database unavailable", sms.provider)
            return Reply(503, "unavailable")
        except Exception:  # noqa: BLE001 - never lose a citizen's message: park it
            log.exception("sms intake failed; keeping the raw message for replay")
            return await self._park(sms)
        if limited and result.outcome in (Outcome.CREATED, Outcome.APPENDED):
            self.new_cases.record(msg.sender or "")
        return Reply(200, result.outcome.value)

    async def _park(self, sms: IncomingSms) -> Reply:
        raw = json.dumps({"provider": sms.provider, "id": sms.external_id, "from": sms.sender,
                          "to": sms.recipient, "text": sms.text}, ensure_ascii=False).encode()
        try:
            await self.ctx.state.spool_put("sms", raw, source=sms.provider, external_id=sms.external_id)
        except Exception:  # noqa: BLE001 - not even the spool: let the provider retry
            return Reply(503, "unavailable")
        return Reply(200, "parked")

    async def delivery(self, status: str, *, outbox_id: int | None = None,
                       provider_id: str | None = None, detail: str = "") -> Reply:
        """Apply one delivery report (monotonic in the core); unknown ids answer 200."""
        if status not in OUR_STATUSES:
            return Reply(200, "ignored")
        try:
            known = await self.ctx.state.delivery(status=status, outbox_id=outbox_id,
                                                  provider_id=provider_id, detail=detail[:200],
                                                  channel="sms")
        except DatabaseUnavailable:
            return Reply(503, "unavailable")
        except Exception as e:  # noqa: BLE001 - the database is down or locked
            log.warning("delivery report not applied: %s", type(e).__name__)
            return Reply(503, "unavailable")
        return Reply(200, "ok" if known else "unknown")
