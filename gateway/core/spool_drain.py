"""``core.spool_drain``: turns a channel's pending spool rows (``core.spool``) into cases.

:class:`SpoolDrainer` parses each row, submits the messages concurrently to ``ctx.intake``
(so they share its group commits) and marks rows ``processed`` only after intake answered.
A crash in between leaves rows ``pending``; they are replayed on the next pass and intake's
dedupe on (channel, provider, external id) makes the replay harmless.  A row whose parse
raises becomes ``failed`` with the error (raw kept); a parse that returns None (dropped on
purpose, e.g. a rate limit) marks it ``skipped``; a parse that finds the database away
leaves it pending.

One process drains a channel at a time: the drainer holds the lease ``spool:<channel>``
(``ctx.leases``: renewed by the instance's heartbeat, taken over within seconds of its
holder's death, and at once by the same instance restarted) rather than ``SKIP LOCKED``
claims, which would need a claim column or a transaction held across intake.  Other
processes only put rows; the holder finds them at its next poll.  A stall longer than the
lease could let two processes submit the same rows: intake's dedupe absorbs that too.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable, is_unavailable
from gateway.core.messages import InboundMessage, IntakeResult
from gateway.core.models import InboundSpool, utcnow
from gateway.core.spool import wake_key

log = logging.getLogger(__name__)
Parsed = InboundMessage | None
Parse = Callable[[bytes, dict[str, Any]], Parsed | Awaitable[Parsed]]
OnResult = Callable[[int, InboundMessage, IntakeResult], Awaitable[None] | None]
OnFailed = Callable[[int, bytes, dict[str, Any]], Awaitable[None] | None]  # (spool id, raw, envelope)
_OFF = {"synchronize_session": False}


def _pending(s: Session, channel: str, limit: int) -> list[tuple[int, bytes, dict[str, Any]]]:
    rows = s.execute(
        select(InboundSpool.id, InboundSpool.raw, InboundSpool.envelope)
        .where(InboundSpool.channel == channel, InboundSpool.status == "pending")
        .order_by(InboundSpool.id)
        .limit(limit)
    )
    return [(sid, raw, dict(envelope or {})) for sid, raw, envelope in rows]


def _mark(s: Session, done: list[int], skipped: list[int], failed: list[tuple[int, str]]) -> None:
    now, attempts = utcnow(), InboundSpool.attempts + 1
    for ids, status in ((done, "processed"), (skipped, "skipped")):
        if ids:
            s.execute(
                update(InboundSpool)
                .where(InboundSpool.id.in_(ids))
                .execution_options(**_OFF)
                .values(status=status, processed_at=now, attempts=attempts)
            )
    for sid, error in failed:
        s.execute(
            update(InboundSpool)
            .where(InboundSpool.id == sid)
            .execution_options(**_OFF)
            .values(status="failed", error=error, processed_at=now, attempts=attempts)
        )


class SpoolDrainer:
    """Turns one channel's pending spool rows into intake submissions (see module doc)."""

    def __init__(
        self,
        ctx: GatewayContext,
        channel: str,
        parse: Parse,
        on_result: OnResult | None = None,
        *,
        on_failed: OnFailed | None = None,
        batch: int = 500,
        poll_seconds: float = 2.0,
        busy: Callable[[], bool] | None = None,
        busy_batch: int = 50,
        busy_pause: float = 0.5,
    ) -> None:
        """While ``busy()`` (the edge is taking a flood in: :meth:`SpoolWriter.busy`), a pass
        takes at most ``busy_batch`` rows and rests ``busy_pause`` seconds after it: the edge
        keeps the event loop and answers fast, cases follow at that pace, and at full speed
        as soon as the flood stops (bench/README.md "## SMS")."""
        self.ctx, self.channel, self.parse, self.on_result = ctx, channel, parse, on_result
        self.on_failed = on_failed  # told of each row about to be marked failed (idempotent hook)
        self.batch, self.poll_seconds = batch, poll_seconds
        self.busy, self.busy_batch, self.busy_pause = busy, busy_batch, busy_pause
        self.lease = f"spool:{channel}"
        self._event = ctx.doorbells.event(wake_key(channel))
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
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
        if self.ctx.leases.holds(self.lease):
            try:
                await self.ctx.leases.release(self.lease)
            except Exception:  # noqa: BLE001 - it expires on its own
                log.warning("could not release the %s spool lease", self.channel)

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
            # not the holder: ask again soon, so a dead holder's rows move within seconds
            idle = self.poll_seconds if self.ctx.leases.holds(self.lease) else self.ctx.leases.retry
            try:
                await asyncio.wait_for(self._event.wait(), idle)
            except TimeoutError:
                pass

    async def run_once(self, limit: int | None = None) -> int:
        """One pass over up to ``limit`` (default ``batch``) pending rows; return how many rows
        it settled.  Raises DatabaseUnavailable (after marking the rest) when intake could not
        commit."""
        async with self._lock:
            if not await self.ctx.leases.hold(self.lease):
                return 0
            rows = await self.ctx.db.write(partial(_pending, channel=self.channel, limit=limit or self.batch))
            self.passes += 1
            jobs: list[tuple[int, InboundMessage]] = []
            skipped: list[int] = []
            failed: list[tuple[int, str]] = []
            unavailable = 0
            # parsed together, so the parsers' awaits (shared limits) share transactions
            parsed = await asyncio.gather(
                *(self._parse(raw, envelope) for _, raw, envelope in rows), return_exceptions=True
            )
            for (sid, _, _), msg in zip(rows, parsed):
                if isinstance(msg, BaseException):
                    e = msg
                    if not isinstance(e, Exception):
                        raise e
                    if isinstance(e, DatabaseUnavailable) or is_unavailable(e):
                        unavailable += 1  # the parser needed the database: stays pending
                        continue
                    log.warning("%s spool row %d does not parse: %s", self.channel, sid, type(e).__name__)
                    failed.append((sid, f"{type(e).__name__}: {e}"[:500]))
                    continue
                (skipped.append(sid) if msg is None else jobs.append((sid, msg)))
            results = await asyncio.gather(*(self.ctx.intake.submit(m) for _, m in jobs), return_exceptions=True)
            done = []
            for (sid, msg), result in zip(jobs, results):
                if isinstance(result, DatabaseUnavailable):
                    unavailable += 1  # stays pending
                elif isinstance(result, BaseException):
                    failed.append((sid, f"intake: {type(result).__name__}: {result}"[:500]))
                else:
                    done.append(sid)
                    await self._report(sid, msg, result)
            # told before the mark: a crash in between replays the row, and the hook (which
            # must be idempotent) runs again, rather than never
            await self._tell_failed({sid for sid, _ in failed}, rows)
            await self.ctx.db.write(partial(_mark, done=done, skipped=skipped, failed=failed))
            if unavailable:
                raise DatabaseUnavailable(f"{unavailable} {self.channel} spool rows left pending")
            return len(rows)

    async def _parse(self, raw: bytes, envelope: dict[str, Any]) -> Parsed:
        parsed = self.parse(raw, envelope)
        return await parsed if inspect.isawaitable(parsed) else parsed

    async def _tell_failed(self, failed: set[int], rows: list[tuple[int, bytes, dict[str, Any]]]) -> None:
        if self.on_failed is None or not failed:
            return
        for sid, raw, envelope in rows:
            if sid in failed:
                try:
                    out = self.on_failed(sid, raw, envelope)
                    if inspect.isawaitable(out):
                        await out
                except Exception:
                    log.exception("%s spool on_failed hook failed for row %d", self.channel, sid)

    async def _report(self, sid: int, msg: InboundMessage, result: IntakeResult) -> None:
        if self.on_result is None:
            return
        try:
            out = self.on_result(sid, msg, result)
            if inspect.isawaitable(out):
                await out
        except Exception:
            log.exception("%s spool on_result hook failed", self.channel)
