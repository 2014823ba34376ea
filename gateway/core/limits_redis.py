"""Limit counters in Redis (``limits.backend = "redis"``), same algorithms as the database's.

Each hit runs one Lua script (sliding window or token bucket), so reading both windows, deciding and counting is atomic on
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


# Token bucket (GCRA).  KEYS: the bucket.  ARGV: now ms, interval ms, burst, cost, reset.
# Returns {allowed, ms to wait}.
BUCKET_SCRIPT = """
local now, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
local burst, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local function store(t)
  if t > now then
    redis.call('SET', KEYS[1], string.format('%d', math.floor(t)), 'PX', math.ceil(t - now))
  else
    redis.call('DEL', KEYS[1])
  end
end
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[1])
  return {1, 0}
end
if cost < 0 then
  store(math.max(now, tat + cost * interval))
  return {1, 0}
end
local allow_at = tat + math.max(cost, 1) * interval - burst * interval
if allow_at > now then return {0, math.ceil(allow_at - now)} end
if cost > 0 then store(tat + cost * interval) end
return {1, 0}
"""


class RedisCounters:
    """Counters in Redis; ``url`` as redis-py takes it (``redis://``, ``unix://``)."""

    def __init__(self, url: str, **options: Any) -> None:
        options.setdefault("socket_timeout", 5)
        self.redis = Redis.from_url(url, **options)
        self.script = self.redis.register_script(SCRIPT)
        self.bucket_script = self.redis.register_script(BUCKET_SCRIPT)

    async def apply(self, hits: list[Hit]) -> list[Verdict]:
        now_ms = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=False)
        places = []
        for h in hits:
            if h.burst:
                interval = h.window_ms / h.limit if h.limit > 0 else h.window_ms
                await self.bucket_script(
                    keys=[f"gw:limit:{h.key}:bucket"],
                    client=pipe,
                    args=[now_ms, repr(interval), h.burst, h.cost, int(h.reset)],
                )
                places.append(-1.0)
                continue
            start, elapsed = window_of(now_ms, h.window_ms)
            keys = [f"gw:limit:{h.key}:{start}", f"gw:limit:{h.key}:{start - h.window_ms}"]
            await self.script(
                keys=keys, args=[h.limit, h.cost, repr(elapsed), 2 * h.window_ms, int(h.reset)], client=pipe
            )
            places.append(elapsed)
        answers = await pipe.execute()
        verdicts = []
        for h, elapsed, answer in zip(hits, places, answers):
            if h.burst:
                verdicts.append(Verdict(bool(answer[0]), int(answer[1]) / 1000.0))
                continue
            allowed, cur, prev = answer
            ok = bool(allowed)
            verdicts.append(Verdict(ok, 0.0 if ok else wait_seconds(int(prev), int(cur), elapsed, h)))
        return verdicts

    async def close(self) -> None:
        await self.redis.aclose()
