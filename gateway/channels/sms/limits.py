"""Per-number abuse limits: new submissions and automatic replies per hour.

Counters live in memory, per process (a sliding window of timestamps per number), which
is enough for one gateway process; several processes each allow the limit.  A number
that goes over is reported once per window in ``ctx.state`` under :data:`FLOOD_KEY`
(staff see it; logs never carry the number) and counted in Prometheus.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone

from prometheus_client import Counter

from gateway.core.context import GatewayContext

log = logging.getLogger(__name__)
FLOOD_KEY = "sms:flooded"
FLOOD_DROPPED = Counter("gateway_sms_flood_dropped_total", "SMS dropped by per-number limits", ["kind"])


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[str, deque[float]] = {}

    def _trim(self, key: str) -> deque[float]:
        events = self._events.setdefault(key, deque())
        cutoff = self.clock() - self.window
        while events and events[0] <= cutoff:
            events.popleft()
        return events

    def allowed(self, key: str) -> bool:
        """True if one more event fits (does not record it)."""
        return len(self._trim(key)) < self.limit

    def release(self, key: str) -> None:
        """Take back the latest event of ``key`` (a reserved slot that was not used)."""
        events = self._events.get(key)
        if events:
            events.pop()

    def record(self, key: str) -> None:
        """Count one event."""
        self._trim(key).append(self.clock())
        if len(self._events) > 100_000:  # forget idle numbers so memory stays bounded
            for k in [k for k, v in self._events.items() if not v][:50_000]:
                del self._events[k]


class FloodReporter:
    """Keeps the list of flooded numbers in ``ctx.state`` (once per number per hour)."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self._reported = SlidingWindow(1)

    async def report(self, number: str, kind: str) -> None:
        """Count a dropped message and record the number for staff."""
        FLOOD_DROPPED.labels(kind).inc()
        if not self._reported.allowed(f"{kind}:{number}"):
            return
        self._reported.record(f"{kind}:{number}")
        log.warning("sms %s limit reached for a number; further messages dropped", kind)
        try:
            current = await self.ctx.state.get(FLOOD_KEY) or {}
            entry = current.get(number, {"count": 0})
            entry.update(count=entry["count"] + 1, kind=kind,
                         last=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            current[number] = entry
            await self.ctx.state.put(FLOOD_KEY, dict(list(current.items())[-1000:]))
        except Exception:  # noqa: BLE001 - reporting must not break intake
            log.exception("could not record a flooded number")
