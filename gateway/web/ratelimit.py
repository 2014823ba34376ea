"""Per-client rate limits for the citizen web: an in-memory token bucket per client IP.

Each bucket holds up to ``burst`` tokens and refills at ``per_minute / 60`` tokens per
second; a request takes one token or is refused with 429 and a ``Retry-After``.  Buckets
live in this process only (several processes behind a balancer each keep their own, so
the effective limit is per process) and the least recently used are dropped beyond
``max_clients``.  The client is ``request.remote``, or the last hop of X-Forwarded-For
when ``web.trust_forwarded_for`` is set (only behind a proxy that appends it).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web


class TokenBucketLimiter:
    """Token buckets keyed by client; ``take(key)`` says whether the request may go on."""

    def __init__(self, burst: int, per_minute: float, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = float(burst)
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; return 0 if allowed, else the seconds until they are there."""
        now = self.clock()
        cost = min(cost, self.burst)
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


TRACK_LIMITER = web.AppKey("track_limiter", TokenBucketLimiter)  # code lookups (/track, Open311 by id)
OPEN311_LIMITER = web.AppKey("open311_limiter", TokenBucketLimiter)  # other Open311 calls


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
