"""The limiter the open survey pages count responses with.

It is the gateway's shared, database-backed limiter (``ctx.limiter``, one count across
every process) when the context has one; otherwise a per-process sliding log with the same
``hit`` call, so the pages work the same either way.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Any, NamedTuple

from aiohttp import web

MAX_KEYS = 100_000


class Verdict(NamedTuple):
    allowed: bool
    retry_after: float


class LocalLimiter:
    """At most ``limit`` hits per ``window`` seconds per key, in this process."""

    def __init__(self) -> None:
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    async def hit(self, key: str, *, limit: int, window: float) -> Verdict:
        """Count one hit if it fits, else tell how long until one does."""
        now = time.monotonic()
        log = self._hits.pop(key, None) or deque()
        while log and log[0] <= now - window:
            log.popleft()
        self._hits[key] = log
        if len(self._hits) > MAX_KEYS:
            self._hits.popitem(last=False)
        if len(log) >= limit:
            return Verdict(False, log[0] + window - now)
        log.append(now)
        return Verdict(True, 0.0)


LOCAL = web.AppKey("survey_local_limiter", LocalLimiter)


def survey_limiter(app: web.Application) -> Any:
    """``ctx.limiter`` when the gateway has the shared one, else this app's local one."""
    from gateway.web.public import app_context
    shared = getattr(app_context(app), "limiter", None)
    if shared is not None:
        return shared
    if LOCAL not in app:
        raise RuntimeError("setup_survey_pages was not called")
    return app[LOCAL]
