"""Limit counters in Redis (``limits.backend = "redis"``), same algorithm as the database's.

Each hit runs one Lua script, so reading both windows, deciding and counting is atomic on
the Redis server; hits that arrive together go in one pipeline.  Keys are
``gw:limit:<stored key>:<window start ms>`` and expire two windows after they start.
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from gateway.core.limits import Hit, Verdict, wait_seconds, window_of

# KEYS: current, previous.  ARGV: limit, cost, elapsed (0..1), ttl ms, reset (0/1).
# Returns {allowed, current count before, previous count}.
SCRIPT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit, cost, elapsed = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {1, cur, prev}
end
if cost < 0 then
  redis.call('SET', KEYS[1], math.max(0, cur + cost), 'PX', ARGV[4])
  return {1, cur, prev}
end
local estimate = prev * (1 - elapsed) + cur
if cost == 0 then
  if estimate < limit then return {1, cur, prev} end
  return {0, cur, prev}
end
if estimate + cost <= limit then
  redis.call('INCRBY', KEYS[1], cost)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {1, cur, prev}
end
return {0, cur, prev}
"""


class RedisCounters:
    """Counters in Redis; ``url`` as redis-py takes it (``redis://``, ``unix://``)."""

    def __init__(self, url: str, **options: Any) -> None:
        options.setdefault("socket_timeout", 5)
        self.redis = Redis.from_url(url, **options)
        self.script = self.redis.register_script(SCRIPT)

    async def apply(self, hits: list[Hit]) -> list[Verdict]:
        now_ms = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=False)
        places = []
        for h in hits:
            start, elapsed = window_of(now_ms, h.window_ms)
            keys = [f"gw:limit:{h.key}:{start}", f"gw:limit:{h.key}:{start - h.window_ms}"]
            await self.script(keys=keys, args=[h.limit, h.cost, repr(elapsed), 2 * h.window_ms,
                                               int(h.reset)], client=pipe)
            places.append(elapsed)
        answers = await pipe.execute()
        verdicts = []
        for h, elapsed, (allowed, cur, prev) in zip(hits, places, answers):
            ok = bool(allowed)
            verdicts.append(Verdict(ok, 0.0 if ok else wait_seconds(int(prev), int(cur), elapsed, h)))
        return verdicts

    async def close(self) -> None:
        await self.redis.aclose()
