"""Per-client rate limits for the citizen web, counted in the shared limiter.

A limit is a token bucket per client (``burst`` requests at once, then ``per_minute``)
counted in ``ctx.limiter`` (:mod:`gateway.core.limits`), so it holds across every gateway
process behind a balancer.  A refused request gets 429 and a ``Retry-After``.  The client is
``request.remote`` (the PROXY protocol's client address when ``http.proxy_protocol`` is
on), or the last hop of X-Forwarded-For when ``web.trust_forwarded_for`` is set (only
behind a proxy that appends it).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from aiohttp import web

from gateway.core.limits import Limiter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebLimit:
    """One citizen-web limit: a bucket of ``burst`` per client, refilled at ``per_minute``."""

    scope: str
    burst: int
    per_minute: float

    @classmethod
    def bucket(cls, scope: str, burst: int, per_minute: float) -> WebLimit:
        return cls(scope, burst, per_minute)

    async def take(self, limiter: Limiter, client: str, cost: int = 1) -> float:
        """Count ``cost`` requests of ``client``; 0 if allowed, else seconds to wait.

        If the counters cannot be reached the request goes on (the page itself then
        answers from the same database, or fails there)."""
        try:
            allowed, wait = await limiter.hit(
                f"{self.scope}:{client}", self.per_minute, 60.0, min(cost, self.burst), burst=self.burst
            )
        except Exception as e:  # noqa: BLE001 - a limit must not take the page down
            log.warning("%s limit not counted: %s", self.scope, type(e).__name__)
            return 0.0
        return 0.0 if allowed else max(wait, 0.001)


TRACK_LIMITER = web.AppKey("track_limiter", WebLimit)  # code lookups (/track, Open311 by id)
OPEN311_LIMITER = web.AppKey("open311_limiter", WebLimit)  # other Open311 calls


def client_key(request: web.Request, trust_forwarded_for: bool) -> str:
    """The client address a limit applies to."""
    if trust_forwarded_for:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"


def retry_after(wait: float) -> dict[str, str]:
    """The Retry-After header for a refused request."""
    return {"Retry-After": str(max(1, math.ceil(wait)))}
