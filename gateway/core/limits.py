"""Shared limits: sliding-window counters that hold across every gateway process.

One API for every limit and throttle (web rate limits, the staff login throttle, email
auto-reply caps, SMS flood limits, and whatever a new surface needs)::

    allowed, retry_after = await ctx.limiter.hit("track:203.0.113.9", limit=10, window=60)

``hit`` counts one event for ``key`` if it fits ``limit`` events per ``window`` seconds and
answers ``(True, 0.0)``; otherwise it counts nothing and answers ``(False, seconds until
one fits)``.  ``peek`` asks without counting, ``undo`` gives back one counted event (a
slot reserved for work that did not happen) and ``reset`` forgets a key.  Use one window
length (and one mode) per key.  The part of the key before the first ``:`` is its scope;
the rest is stored only as a hash, so counters hold no address or phone number.

Two modes:

- **Sliding window** (the default): the count is the current fixed window's hits plus the
  previous window's, weighted by how much of it still lies inside the last ``window``
  seconds (the "sliding window counter" of Cloudflare's and nginx's limiters; two
  integers per key).  For "at most N per hour".
- **Token bucket** (``burst=B``): up to ``B`` at once, refilled at ``limit`` per ``window``
  (GCRA: one "theoretical arrival time" per key, kept in ``expires_at``, so the row
  expires exactly when the bucket is full again).  For "a burst, then N per minute".

Counters live in the database (table ``rate_counters``) or, when ``limits.backend =
"redis"``, in Redis.  Database hits that arrive together share one transaction (a
group commit, like intake): the rows are inserted if missing, locked ``FOR UPDATE`` in
key order on PostgreSQL (``BEGIN IMMEDIATE`` serialises SQLite), decided in order and
written back, so concurrent processes never both take the last slot.  Expired windows are
swept once a minute.  Clocks: each process uses its own; keep them in NTP sync.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import math
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.core.db import Database
from gateway.core.shared_tables import RateCounter

SWEEP_SECONDS = 60.0


class Verdict(NamedTuple):
    """The answer to one hit: may it go on, and if not, in how many seconds it may."""

    allowed: bool
    retry_after: float


@dataclass(frozen=True, slots=True)
class Hit:
    """One request to a counter (``cost`` > 0 counts, 0 asks, < 0 gives back)."""

    key: str
    limit: float
    window_ms: int
    cost: int = 1
    reset: bool = False
    burst: int = 0  # > 0: token bucket of this size (see the module doc)


def stored_key(key: str) -> str:
    """``scope:<hash of the rest>``: what the counter tables keep."""
    scope, _, subject = key.partition(":")
    return f"{scope[:30]}:{hashlib.sha256(subject.encode('utf-8')).hexdigest()[:40]}"


def decide(prev: int, cur: int, elapsed: float, hit: Hit) -> tuple[bool, int]:
    """(allowed, new current count) for ``hit`` given both windows' counts and the part of
    the current window gone by (0..1)."""
    if hit.reset:
        return True, 0
    if hit.cost < 0:
        return True, max(0, cur + hit.cost)
    estimate = prev * (1.0 - elapsed) + cur
    if hit.cost == 0:
        return estimate < hit.limit, cur
    if estimate + hit.cost <= hit.limit:
        return True, cur + hit.cost
    return False, cur


def wait_seconds(prev: int, cur: int, elapsed: float, hit: Hit) -> float:
    """Seconds until ``hit`` would fit, assuming no other hits meanwhile (never 0: it was
    refused; never more than one window, the promise a caller gives: the estimate may still
    refuse then, for at most window / limit more)."""
    window, need = hit.window_ms / 1000.0, max(hit.cost, 1)
    room = hit.limit - need
    if room < 0:
        return window  # can never fit; ask again after a window
    if cur > room:  # wait for this window to become the previous one, then for it to fade
        return min(window, (1.0 - elapsed) * window + window * (1.0 - room / cur))
    if prev <= 0:
        return 0.001
    return max(0.001, window * (1.0 - (room - cur) / prev) - elapsed * window)


def bucket(tat: int, now_ms: int, hit: Hit) -> tuple[bool, int, float]:
    """Token bucket (GCRA): (allowed, new theoretical arrival time, seconds to wait)."""
    interval = hit.window_ms / hit.limit if hit.limit > 0 else float(hit.window_ms)
    tat = max(tat, now_ms)
    if hit.reset:
        return True, now_ms, 0.0
    if hit.cost < 0:
        return True, max(now_ms, int(tat + hit.cost * interval)), 0.0
    need = max(hit.cost, 1)
    allow_at = tat + need * interval - hit.burst * interval
    if allow_at > now_ms:
        return False, tat, (allow_at - now_ms) / 1000.0
    return True, int(tat + hit.cost * interval), 0.0


BUCKET = -1  # window_start of a token bucket's row


def window_of(now_ms: int, window_ms: int) -> tuple[int, float]:
    """(start of the current fixed window, part of it gone by)."""
    start = now_ms // window_ms * window_ms
    return start, (now_ms - start) / window_ms


def apply_hits(s: Session, hits: list[Hit], now_ms: int, sweep: bool) -> list[Verdict]:
    """Decide ``hits`` in order in one transaction on the ``rate_counters`` table."""
    dialect = s.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    current = sorted(
        {(h.key, BUCKET, 0) if h.burst else (h.key, window_of(now_ms, h.window_ms)[0], h.window_ms) for h in hits}
    )
    # one cached statement run for many rows (a multi-row VALUES is compiled anew for every
    # row count: measured, a tenth of a spool drain's time went to that)
    s.connection().execute(
        insert(RateCounter).on_conflict_do_nothing(),
        [
            {"key": k, "window_start": w, "count": 0, "expires_at": w + 2 * size if size else 0}
            for k, w, size in current
        ],
    )
    keys = sorted({h.key for h in hits})
    rows = s.execute(
        select(RateCounter.key, RateCounter.window_start, RateCounter.count, RateCounter.expires_at)
        .where(RateCounter.key.in_(keys))
        .order_by(RateCounter.key, RateCounter.window_start)
        .with_for_update()
    )
    counts: dict[tuple[str, int], int] = {}
    tats: dict[str, int] = {}
    for k, w, c, e in rows:
        counts[(k, w)], tats[k] = c, (e if w == BUCKET else tats.get(k, 0))
    changed: dict[tuple[str, int], int] = {}
    changed_tat: dict[str, int] = {}
    verdicts = []
    for h in hits:
        if h.burst:
            allowed, tats[h.key], wait = bucket(tats.get(h.key, 0), now_ms, h)
            changed_tat[h.key] = tats[h.key]
            verdicts.append(Verdict(allowed, wait))
            continue
        start, elapsed = window_of(now_ms, h.window_ms)
        prev, cur = counts.get((h.key, start - h.window_ms), 0), counts.get((h.key, start), 0)
        if h.reset and (h.key, start - h.window_ms) in counts:
            counts[(h.key, start - h.window_ms)] = changed[(h.key, start - h.window_ms)] = 0
        allowed, new = decide(prev, cur, elapsed, h)
        if new != cur or h.reset:
            counts[(h.key, start)] = changed[(h.key, start)] = new
        verdicts.append(Verdict(allowed, 0.0 if allowed else wait_seconds(prev, cur, elapsed, h)))
    if changed:
        s.execute(
            update(RateCounter), [{"key": k, "window_start": w, "count": c} for (k, w), c in sorted(changed.items())]
        )
    if changed_tat:
        s.execute(
            update(RateCounter),
            [{"key": k, "window_start": BUCKET, "expires_at": t} for k, t in sorted(changed_tat.items())],
        )
    if sweep:
        s.execute(
            delete(RateCounter).where(RateCounter.expires_at < now_ms).execution_options(synchronize_session=False)
        )
    return verdicts


class Counters(Protocol):
    """A place counters live in: decides a batch of hits atomically."""

    async def apply(self, hits: list[Hit]) -> list[Verdict]: ...

    async def close(self) -> None: ...


class DatabaseCounters:
    """Counters in the ``rate_counters`` table (see the module doc)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sweep_at = 0.0

    async def apply(self, hits: list[Hit]) -> list[Verdict]:
        now = time.time()
        sweep = now >= self._sweep_at
        if sweep:
            self._sweep_at = now + SWEEP_SECONDS
        return await self.db.write(partial(apply_hits, hits=hits, now_ms=int(now * 1000), sweep=sweep))

    async def close(self) -> None:
        return None


class Limiter:
    """Sliding-window limits shared by every process (see the module doc for the API)."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self._waiting: list[tuple[Hit, asyncio.Future[Verdict]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def hit(self, key: str, limit: float, window: float, cost: int = 1, burst: int = 0) -> Verdict:
        """Count ``cost`` events of ``key`` if they fit ``limit`` per ``window`` seconds
        (with ``burst``: a token bucket of that size refilled at that rate)."""
        return await self._submit(Hit(stored_key(key), limit, _ms(window), cost, burst=burst))

    async def peek(self, key: str, limit: float, window: float, burst: int = 0) -> Verdict:
        """Would one more event of ``key`` fit?  Counts nothing."""
        return await self._submit(Hit(stored_key(key), limit, _ms(window), 0, burst=burst))

    async def undo(self, key: str, window: float, limit: float = 0, burst: int = 0) -> None:
        """Give back one event (for a token bucket, give its ``limit`` and ``burst`` too)."""
        await self._submit(Hit(stored_key(key), limit, _ms(window), -1, burst=burst))

    async def reset(self, key: str, window: float, burst: int = 0) -> None:
        """Forget every event of ``key``."""
        await self._submit(Hit(stored_key(key), 1, _ms(window), 0, reset=True, burst=burst))

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.counters.close()

    async def _submit(self, hit: Hit) -> Verdict:
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._waiting.append((hit, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="limits-flush")
        return await future

    async def _flush(self) -> None:
        """Apply whatever hits are waiting, batch after batch, until none are left."""
        while self._waiting:
            batch, self._waiting = self._waiting[:500], self._waiting[500:]
            try:
                verdicts = await self.counters.apply([h for h, _ in batch])
            except Exception as e:  # noqa: BLE001 - each caller gets the error
                for _, f in batch:
                    if not f.done():
                        f.set_exception(e)
                continue
            for (_, f), v in zip(batch, verdicts):
                if not f.done():
                    f.set_result(v)


def _ms(window: float) -> int:
    if window <= 0:
        raise ValueError("a limit window must be positive")
    return max(1, math.ceil(window * 1000))


def make_limiter(
    db: Database, backend: str = "database", redis_url: str | None = None, **redis_options: Any
) -> Limiter:
    """The limiter for a process: database counters, or Redis ones when configured."""
    if backend == "redis":
        if not redis_url:
            raise ValueError("limits.backend is redis but no Redis URL is set")
        # loaded by name, only when configured: redis is optional, and limits_redis builds
        # on this module (a plugin, as channels are, not an import circle)
        redis_counters = importlib.import_module("gateway.core.limits_redis").RedisCounters
        return Limiter(redis_counters(redis_url, **redis_options))
    return Limiter(DatabaseCounters(db))
