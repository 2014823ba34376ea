"""Per-number abuse limits: new submissions and automatic replies per hour.

Counted in the shared limiter (``ctx.limiter``, :mod:`gateway.core.limits`), so the
limits hold across every gateway process.  A number that goes over is reported once per
hour in ``ctx.state`` under :data:`FLOOD_KEY` (staff see it; logs never carry the number)
and counted in Prometheus.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from prometheus_client import Counter

from gateway.core.context import GatewayContext

log = logging.getLogger(__name__)
FLOOD_KEY = "sms:flooded"
HOUR = 3600.0
FLOOD_DROPPED = Counter("gateway_sms_flood_dropped_total", "SMS dropped by per-number limits", ["kind"])


class NumberBudget:
    """At most ``limit`` events of one kind per number per hour, across processes."""

    def __init__(self, ctx: GatewayContext, kind: str, limit: int) -> None:
        self.ctx, self.kind, self.limit = ctx, kind, limit

    async def take(self, number: str) -> bool:
        """Count one event for ``number``; False (nothing counted) when the budget is spent."""
        verdict = await self.ctx.limiter.hit(f"sms-{self.kind}:{number}", self.limit, HOUR)
        return verdict.allowed

    async def give_back(self, number: str) -> None:
        """Return a slot taken for work that did not happen."""
        await self.ctx.limiter.undo(f"sms-{self.kind}:{number}", HOUR)


class FloodReporter:
    """Keeps the list of flooded numbers in ``ctx.state`` (once per number per hour)."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx

    async def report(self, number: str, kind: str) -> None:
        """Count a dropped message and record the number for staff."""
        FLOOD_DROPPED.labels(kind).inc()
        try:
            first, _ = await self.ctx.limiter.hit(f"sms-flood-report:{kind}:{number}", 1, HOUR)
            if not first:
                return
            log.warning("sms %s limit reached for a number; further messages dropped", kind)
            current = await self.ctx.state.get(FLOOD_KEY) or {}
            entry = current.get(number, {"count": 0})
            entry.update(count=entry["count"] + 1, kind=kind, last=datetime.now(UTC).isoformat(timespec="seconds"))
            current[number] = entry
            await self.ctx.state.put(FLOOD_KEY, dict(list(current.items())[-1000:]))
        except Exception:
            log.exception("could not record a flooded number")
