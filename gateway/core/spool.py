"""``core.spool``: store first, process after (DESIGN.md section 2, the edge spool).

:class:`SpoolWriter` group-commits raw inbound requests into ``InboundSpool``: concurrent
``put`` calls share one transaction (one multi-row ``INSERT … ON CONFLICT DO NOTHING``), and
each caller is answered only after that commit, so "acknowledged" still means "durable".
A failed commit raises :class:`DatabaseUnavailable` to every caller of the batch.

:class:`SpoolDrainer` turns pending rows into cases afterwards: it parses each row, submits
the messages concurrently to ``ctx.intake`` (so they share its group commits) and marks rows
``processed`` only after intake answered.  A crash in between leaves rows ``pending``; they
are replayed on the next pass and intake's dedupe on (channel, provider, external id) makes
the replay harmless.  A row whose parse raises becomes ``failed`` with the error (raw kept);
a parse that returns None (dropped on purpose, e.g. a rate limit) marks it ``skipped``.

One process drains a channel at a time: the drainer holds the lease ``spool:<channel>``
(``ctx.state.acquire``, renewed every third of its life) rather than ``SKIP LOCKED``
claims, which would need a claim column or a transaction held across intake.  Other
processes only put rows; the holder finds them at its next poll.  A stall longer than the
lease could let two processes submit the same rows: intake's dedupe absorbs that too.

Both classes write through ``Database.write``: on SQLite that is the one writer thread and
plain sqlite3 connection shared with the intake writer (aiosqlite costs ~0.65 ms per
statement here against ~0.09 ms, and separate connections queued for the write lock in
SQLite's sleeping busy handler); on PostgreSQL the async session.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from gateway.core.batching import serve_batches
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.messages import InboundMessage, IntakeResult
from gateway.core.models import InboundSpool, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")
Parsed = InboundMessage | None
Parse = Callable[[bytes, dict[str, Any]], Parsed | Awaitable[Parsed]]
OnResult = Callable[[int, InboundMessage, IntakeResult], Awaitable[None] | None]
LEASE_SECONDS = 30.0
_OFF = {"synchronize_session": False}


def wake_key(channel: str) -> str:
    """The ``ctx.extras`` slot where a channel's drainer leaves its wake-up event."""
    return f"spool-wake:{channel}"


class _Runner:
    """Runs ``fn(session)`` in one committed transaction of the batch writers
    (:meth:`Database.write`: on SQLite the one shared writer thread and connection)."""

    def __init__(self, ctx: GatewayContext, name: str) -> None:
        self.ctx, self.name = ctx, name

    async def run(self, fn: Callable[[Session], T]) -> T:
        return await self.ctx.db.write(fn)

    def close(self) -> None:
        """Nothing to release: the writer thread belongs to the Database."""


@dataclass(slots=True)
class _Put:
    row: dict[str, Any]
    future: asyncio.Future[bool]


_SQLITE_INSERT = ("INSERT INTO inbound_spool (channel, source, external_id, raw, envelope, status, attempts,"
                  " created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?) ON CONFLICT DO NOTHING")


def _insert(s: Session, rows: list[dict[str, Any]]) -> list[bool]:
    """Insert a batch; for each row, True if its key (channel, source, external id) was
    already stored, or came earlier in the same batch.  Rows without an external id are
    always kept."""
    conn = s.connection()
    table = InboundSpool.__table__
    if conn.dialect.name == "sqlite":
        created = table.c.created_at.type.bind_processor(conn.dialect)  # the stored forms
        envelope = table.c.envelope.type.bind_processor(conn.dialect)
        now = created(utcnow()) if created else utcnow()
        # the plain sqlite3 cursor, one cached statement per row: ~10x less Python per row than
        # an SQLAlchemy executemany with RETURNING, and rowcount tells a duplicate apart
        cursor = conn.connection.driver_connection.cursor()
        dups = []
        for r in rows:
            cursor.execute(_SQLITE_INSERT, (r["channel"], r["source"], r["external_id"], r["raw"],
                                            envelope(r["envelope"]) if envelope else r["envelope"], now))
            dups.append(cursor.rowcount == 0)
        return dups
    values = [{**r, "status": "pending", "attempts": 0, "created_at": utcnow()} for r in rows]
    first: set[tuple[str, str]] = set()
    keyed, dups = [], [False] * len(rows)
    for i, r in enumerate(rows):
        key = (r["source"], r["external_id"])
        if r["external_id"] is None:
            continue
        if key in first:
            dups[i] = True  # a twin later in the same batch
        else:
            first.add(key)
            keyed.append(i)
    free = [values[i] for i, r in enumerate(rows) if r["external_id"] is None]
    if keyed:
        stmt = pg_insert(table).on_conflict_do_nothing().returning(table.c.source, table.c.external_id)
        stored = {(src, ext) for src, ext in conn.execute(stmt, [values[i] for i in keyed])}
        for i in keyed:
            dups[i] = (rows[i]["source"], rows[i]["external_id"]) not in stored
    if free:
        conn.execute(insert(table), free)
    return dups


class SpoolWriter:
    """The group-commit writer of one channel's spool; ``start()`` before ``put``."""

    def __init__(self, ctx: GatewayContext, channel: str, batch_max: int = 500) -> None:
        self.ctx, self.channel, self.batch_max = ctx, channel, batch_max
        self._queue: asyncio.Queue[_Put] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._runner = _Runner(ctx, f"spool-writer-{channel}")
        self.batches = 0  # commits so far (tests, metrics, benchmarks)
        self.last_put = 0.0  # event-loop time of the latest put

    def busy(self, within: float = 0.25) -> bool:
        """True while input is pouring in (a put in the last ``within`` seconds)."""
        return asyncio.get_running_loop().time() - self.last_put < within

    async def put(self, raw: bytes, source: str, external_id: str | None, envelope: dict[str, Any]) -> bool:
        """Keep one raw input; once it is committed, return whether it was a duplicate (same
        channel, source and external id stored before, or earlier in the same batch)."""
        if self._task is None or self._task.done():
            raise DatabaseUnavailable(f"{self.channel} spool writer is not running")
        row = {"channel": self.channel, "source": source, "external_id": external_id, "raw": raw,
               "envelope": envelope}
        loop = asyncio.get_running_loop()
        self.last_put = loop.time()
        future: asyncio.Future[bool] = loop.create_future()
        self._queue.put_nowait(_Put(row, future))
        return await asyncio.shield(future)  # a caller that gives up must not cancel the batch

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"spool-writer-{self.channel}")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        self._runner.close()

    async def _run(self) -> None:
        await serve_batches(self._queue, self.batch_max, self._write)

    async def _write(self, batch: list[_Put]) -> None:
        try:
            results = await self._runner.run(partial(_insert, rows=[p.row for p in batch]))
        except Exception as e:  # noqa: BLE001 - the commit failed: nobody is acknowledged
            log.error("%s spool batch of %d failed to commit: %s", self.channel, len(batch), type(e).__name__)
            error = DatabaseUnavailable(str(e)[:200])
            error.__cause__ = e
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(error)
            return
        self.batches += 1
        for p, result in zip(batch, results):
            if not p.future.done():
                p.future.set_result(result)
        wake = self.ctx.extras.get(wake_key(self.channel))
        if wake is not None:
            wake.set()  # the drainer starts now, not at its next poll


def _pending(s: Session, channel: str, limit: int) -> list[tuple[int, bytes, dict[str, Any]]]:
    rows = s.execute(select(InboundSpool.id, InboundSpool.raw, InboundSpool.envelope).where(
        InboundSpool.channel == channel, InboundSpool.status == "pending")
        .order_by(InboundSpool.id).limit(limit))
    return [(sid, raw, dict(envelope or {})) for sid, raw, envelope in rows]


def _mark(s: Session, done: list[int], skipped: list[int], failed: list[tuple[int, str]]) -> None:
    now, attempts = utcnow(), InboundSpool.attempts + 1
    for ids, status in ((done, "processed"), (skipped, "skipped")):
        if ids:
            s.execute(update(InboundSpool).where(InboundSpool.id.in_(ids)).execution_options(**_OFF)
                      .values(status=status, processed_at=now, attempts=attempts))
    for sid, error in failed:
        s.execute(update(InboundSpool).where(InboundSpool.id == sid).execution_options(**_OFF)
                  .values(status="failed", error=error, processed_at=now, attempts=attempts))


class SpoolDrainer:
    """Turns one channel's pending spool rows into intake submissions (see module doc)."""

    def __init__(self, ctx: GatewayContext, channel: str, parse: Parse, on_result: OnResult | None = None,
                 *, batch: int = 500, poll_seconds: float = 2.0, busy: Callable[[], bool] | None = None,
                 busy_batch: int = 50, busy_pause: float = 0.5) -> None:
        """While ``busy()`` (the edge is taking a flood in: :meth:`SpoolWriter.busy`), a pass
        takes at most ``busy_batch`` rows and rests ``busy_pause`` seconds after it: the edge
        keeps the event loop and answers fast, cases follow at that pace, and at full speed
        as soon as the flood stops (bench/README.md "## SMS")."""
        self.ctx, self.channel, self.parse, self.on_result = ctx, channel, parse, on_result
        self.batch, self.poll_seconds = batch, poll_seconds
        self.busy, self.busy_batch, self.busy_pause = busy, busy_batch, busy_pause
        self.lease, self.holder = f"spool:{channel}", f"{ctx.dispatcher.name}:spool:{channel}"
        self._event = ctx.extras.setdefault(wake_key(channel), asyncio.Event())
        self._lock = asyncio.Lock()
        self._runner = _Runner(ctx, f"spool-drainer-{channel}")
        self._task: asyncio.Task[None] | None = None
        self._renew_at = self._retry_at = 0.0
        self.passes = 0  # drain passes that held the lease (tests, metrics)

    def wake(self) -> None:
        self._event.set()

    def start(self) -> None:
        """Drain what is pending now (rows left by a crash too), then on every wake-up."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name=f"spool-drainer-{self.channel}")

    async def stop(self) -> None:
        """Stop (a pass cut short is replayed later) and give up the lease."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._renew_at:
            self._renew_at = 0.0
            try:
                await self.ctx.state.release(self.lease, self.holder)
            except Exception:  # noqa: BLE001 - it expires on its own
                log.warning("could not release the %s spool lease", self.channel)
        self._runner.close()

    async def _loop(self) -> None:
        while True:
            self._event.clear()
            busy = self.busy is not None and self.busy()
            try:
                settled = await self.run_once(self.busy_batch if busy else None)
                if busy:
                    await asyncio.sleep(self.busy_pause)
                    continue
                if settled >= self.batch:
                    continue  # more is waiting
            except Exception as e:  # noqa: BLE001 - database down: rows stay pending, try later
                log.warning("%s spool drain failed: %s", self.channel, type(e).__name__)
                await asyncio.sleep(self.poll_seconds)
                continue
            try:
                await asyncio.wait_for(self._event.wait(), self.poll_seconds)
            except TimeoutError:
                pass

    async def _hold(self) -> bool:
        now = time.monotonic()
        if now < self._renew_at:
            return True
        if now < self._retry_at:
            return False
        if await self.ctx.state.acquire(self.lease, self.holder, LEASE_SECONDS):
            self._renew_at = now + LEASE_SECONDS / 3
            return True
        self._renew_at, self._retry_at = 0.0, now + self.poll_seconds
        return False

    async def run_once(self, limit: int | None = None) -> int:
        """One pass over up to ``limit`` (default ``batch``) pending rows; return how many rows
        it settled.  Raises DatabaseUnavailable (after marking the rest) when intake could not
        commit."""
        async with self._lock:
            if not await self._hold():
                return 0
            rows = await self._runner.run(partial(_pending, channel=self.channel, limit=limit or self.batch))
            self.passes += 1
            jobs: list[tuple[int, InboundMessage]] = []
            skipped: list[int] = []
            failed: list[tuple[int, str]] = []
            for sid, raw, envelope in rows:
                try:
                    parsed = self.parse(raw, envelope)
                    msg = await parsed if inspect.isawaitable(parsed) else parsed
                except Exception as e:  # noqa: BLE001 - keep the raw input for a replay
                    log.warning("%s spool row %d does not parse: %s", self.channel, sid, type(e).__name__)
                    failed.append((sid, f"{type(e).__name__}: {e}"[:500]))
                    continue
                (skipped.append(sid) if msg is None else jobs.append((sid, msg)))
            results = await asyncio.gather(*(self.ctx.intake.submit(m) for _, m in jobs),
                                           return_exceptions=True)
            done, unavailable = [], 0
            for (sid, msg), result in zip(jobs, results):
                if isinstance(result, DatabaseUnavailable):
                    unavailable += 1  # stays pending
                elif isinstance(result, BaseException):
                    failed.append((sid, f"intake: {type(result).__name__}: {result}"[:500]))
                else:
                    done.append(sid)
                    await self._report(sid, msg, result)
            await self._runner.run(partial(_mark, done=done, skipped=skipped, failed=failed))
            if unavailable:
                raise DatabaseUnavailable(f"{unavailable} {self.channel} spool rows left pending")
            return len(rows)

    async def _report(self, sid: int, msg: InboundMessage, result: IntakeResult) -> None:
        if self.on_result is None:
            return
        try:
            out = self.on_result(sid, msg, result)
            if inspect.isawaitable(out):
                await out
        except Exception:  # noqa: BLE001 - a hook must not undo a committed case
            log.exception("%s spool on_result hook failed", self.channel)
