"""``core.spool_drain``: turns a channel's pending spool rows (``core.spool``) into cases.

:class:`SpoolDrainer` parses each row, submits the messages concurrently to ``ctx.intake``
(so they share its group commits) and marks rows ``processed`` only after intake answered.
A crash in between leaves rows ``pending``; they are replayed on the next pass and intake's
dedupe on (channel, provider, external id) makes the replay harmless.  A row whose parse
raises becomes ``failed`` with the error (raw kept); a parse that returns None (dropped on
purpose, e.g. a rate limit) marks it ``skipped``; a parse that finds the database away
leaves it pending.

Every process drains: a pass **claims** up to a batch of pending rows (``claimed_by`` is
the instance's name, ``claimed_at`` renewed by the instance's heartbeat, ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL so two processes never claim the same row; SQLite's one writer
serialises the claim).  A claim whose holder stopped beating for ``gateway.lease_seconds``
(3 s) is stale and taken by the next pass of any process; the same instance restarted
takes its own claims back at once; a clean stop hands them back.  Two texts of one number
drained by two processes still make one case: intake serialises writers per contact.  A
stall longer than the claim could let two processes submit the same rows: intake's dedupe
absorbs that."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable, is_unavailable
from gateway.core.leases import Now, db_now
from gateway.core.messages import InboundMessage, IntakeResult
from gateway.core.models import InboundSpool, utcnow
from gateway.core.spool import wake_key

log = logging.getLogger(__name__)
Parsed = InboundMessage | None
Parse = Callable[[bytes, dict[str, Any]], Parsed | Awaitable[Parsed]]
OnResult = Callable[[int, InboundMessage, IntakeResult], Awaitable[None] | None]
OnFailed = Callable[[int, bytes, dict[str, Any]], Awaitable[None] | None]  # (spool id, raw, envelope)
Row = tuple[int, bytes, dict[str, Any]]  # (spool id, raw, envelope)
_OFF = {"synchronize_session": False}


def _claim(s: Session, channel: str, limit: int, me: str, stale: float) -> list[Row]:
    """Claim up to ``limit`` pending rows for ``me``: unclaimed ones, stale claims (not
    renewed for ``stale`` seconds) and our own (left pending by a pass, or by our previous
    life); return them in id order."""
    now = db_now(s)
    spool = InboundSpool
    free = or_(spool.claimed_by.is_(None), spool.claimed_by == me, spool.claimed_at < now - timedelta(seconds=stale))
    pick = (
        select(spool.id)
        .where(spool.channel == channel, spool.status == "pending", free)
        .order_by(spool.id)
        .limit(limit)
    )
    if s.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(s.execute(pick).scalars())
    if not ids:
        return []
    s.execute(update(spool).where(spool.id.in_(ids)).values(claimed_by=me, claimed_at=now).execution_options(**_OFF))
    rows = s.execute(select(spool.id, spool.raw, spool.envelope).where(spool.id.in_(ids)).order_by(spool.id))
    return [(sid, raw, dict(envelope or {})) for sid, raw, envelope in rows]


def _renew(s: Session, now: Now, channel: str, me: str, after: float) -> None:
    """Heartbeat hook: our claimed rows still pending are still ours.  Only claims older
    than ``after`` seconds are renewed: most rows are settled within a beat or two, and
    renewing every claimed row at every beat wrote each spool row once more (25,000 updates
    for 24,000 texts in bench/throughput_scale.py)."""
    s.execute(
        update(InboundSpool)
        .where(
            InboundSpool.channel == channel,
            InboundSpool.claimed_by == me,
            InboundSpool.status == "pending",
            InboundSpool.claimed_at < now - timedelta(seconds=after),
        )
        .values(claimed_at=now)
        .execution_options(**_OFF)
    )


def _unclaim(s: Session, channel: str, me: str) -> None:
    s.execute(
        update(InboundSpool)
        .where(InboundSpool.channel == channel, InboundSpool.claimed_by == me, InboundSpool.status == "pending")
        .values(claimed_by=None, claimed_at=None)
        .execution_options(**_OFF)
    )


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
        self.me = ctx.leases.name  # claims are the instance's: a restart takes them back
        self._event = ctx.doorbells.event(wake_key(channel))
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._renewing = False
        self._stopping = False
        self.passes = 0  # drain passes that claimed rows or found none (tests, metrics)

    def wake(self) -> None:
        self._event.set()

    def start(self) -> None:
        """Drain what is pending now (rows left by a crash too), then on every wake-up."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name=f"spool-drainer-{self.channel}")

    async def stop(self) -> None:
        """Stop (a pass cut short is replayed later) and hand our claims back."""
        if self._task is not None:
            # the flag as well as the cancel: Python 3.11's wait_for drops a cancellation
            # that arrives as the doorbell rings (the wait's result wins), and the loop ran on
            self._stopping = True
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self.ctx.db.write(partial(_unclaim, channel=self.channel, me=self.me))
        except Exception:  # noqa: BLE001 - they go stale on their own
            log.warning("could not hand back the %s spool claims", self.channel)

    async def _loop(self) -> None:
        while not self._stopping:
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
            # another process may be the one woken: look again soon, so that the rows of a
            # process that dies mid-pass move within seconds
            try:
                await asyncio.wait_for(self._event.wait(), min(self.poll_seconds, self.ctx.leases.ttl / 4))
            except TimeoutError:
                pass

    async def run_once(self, limit: int | None = None) -> int:
        """One pass over up to ``limit`` (default ``batch``) pending rows; return how many rows
        it settled.  Raises DatabaseUnavailable (after marking the rest) when intake could not
        commit."""
        async with self._lock:
            if not self._renewing:
                # a claim goes stale after ttl; beats come every ttl/4: renewed from ttl/4 on,
                # a claim is at most ttl/2 old after any beat
                renew = partial(_renew, channel=self.channel, me=self.me, after=self.ctx.leases.ttl / 4)
                self.ctx.leases.on_beat(renew)
                self._renewing = True
            leases = self.ctx.leases
            if not await self._anything_pending():
                self.passes += 1
                return 0  # no write transaction (SQLite's one write lock) for an idle poll
            rows = await self.ctx.db.write(
                partial(
                    _claim,
                    channel=self.channel,
                    limit=limit or self.batch,
                    me=self.me,
                    stale=leases.ttl,
                )
            )
            self.passes += 1
            if rows:
                leases.start()  # the heartbeat renews the claims while the pass runs
            jobs: list[tuple[int, InboundMessage]] = []
            skipped: list[int] = []
            failed: list[tuple[int, str]] = []
            unavailable = 0
            parsed = await self.parse_all(rows)
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

    async def _anything_pending(self) -> bool:
        """Is any row of the channel pending (claimed or not)?  A read, beside the writers."""
        async with self.ctx.db.read_session() as s:
            found = await s.execute(
                select(InboundSpool.id)
                .where(InboundSpool.channel == self.channel, InboundSpool.status == "pending")
                .limit(1)
            )
            return found.first() is not None

    async def parse_all(self, rows: list[Row]) -> list[Parsed | BaseException]:
        """Each row's message, or the error its parse raised.  Parsed together, so that the
        parsers' awaits (shared limits) share transactions; a channel whose parse awaits
        something slow before its limits stages it (``email.spool.MailDrainer``)."""
        return await asyncio.gather(*(self._parse(raw, envelope) for _, raw, envelope in rows), return_exceptions=True)

    async def _parse(self, raw: bytes, envelope: dict[str, Any]) -> Parsed:
        parsed = self.parse(raw, envelope)
        return await parsed if inspect.isawaitable(parsed) else parsed

    async def _tell_failed(self, failed: set[int], rows: list[Row]) -> None:
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
