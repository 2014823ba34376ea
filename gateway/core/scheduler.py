"""The ``scheduler`` process role: the office's timed work, done by one process at a time.

Only the holder of the lease ``scheduler`` (``gateway.core.leases``: renewed by the
process's heartbeat, a dead holder's lease free ``gateway.lease_seconds`` after its last
beat) runs the jobs (the daily SLA digest, new-case notices, reminders and escalation,
the daily purge), every ``scheduler.tick_seconds``.  Several processes may run the role:
the others stand by, asking for the lease every second or two, and the first to get it
runs the jobs at once.  Each job is idempotent by itself too (unique notice keys, outbox
idempotency keys, a day marker in the state table), so even two holders racing across a
lease hand-over act once.

A job is ``async def job(ctx, now) -> None``; ``now`` is passed in so tests can run the
jobs at simulated times.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import datetime

from gateway.core.context import GatewayContext
from gateway.core.leases import Leases
from gateway.core.models import utcnow

log = logging.getLogger(__name__)
LEASE = "scheduler"
Job = Callable[[GatewayContext, datetime], Awaitable[object]]


async def digest_job(ctx: GatewayContext, now: datetime) -> None:
    """The daily overdue digest to each unit, once the digest hour has passed."""
    from gateway.core.sla import digest_due, queue_daily_digests

    if digest_due(ctx, now):
        await queue_daily_digests(ctx, now)


def default_jobs() -> list[tuple[str, Job]]:
    """The jobs of the role, in the order they run each tick."""
    from gateway.core.escalation import run_escalation
    from gateway.core.notices import announce_new_cases, send_staff_digests
    from gateway.core.retention import daily_purge

    return [
        ("new-cases", announce_new_cases),
        ("staff-digests", send_staff_digests),
        ("escalation", run_escalation),
        ("unit-digest", digest_job),
        ("purge", daily_purge),
    ]


class Scheduler:
    """Runs the jobs while this instance holds the ``scheduler`` lease.

    ``holder`` (tests: two schedulers in one process) gives the scheduler leases of its own
    under that name; by default it uses the instance's (``ctx.leases``)."""

    def __init__(
        self, ctx: GatewayContext, jobs: Sequence[tuple[str, Job]] | None = None, holder: str | None = None
    ) -> None:
        self.ctx = ctx
        self.jobs = list(jobs if jobs is not None else default_jobs())
        self._own_leases = holder is not None
        self.leases = Leases(ctx.db, holder, ctx.config.gateway.lease_seconds) if holder else ctx.leases
        self.acted = 0  # ticks that held the lease and ran the jobs (tests, metrics)
        self._task: asyncio.Task[None] | None = None

    async def tick(self, now: datetime | None = None) -> bool:
        """One pass: hold the lease, then run every job; False if another process holds it."""
        if not await self.leases.hold(LEASE):
            return False
        when = now or utcnow()
        for name, job in self.jobs:
            try:
                await job(self.ctx, when)
            except Exception:
                log.exception("scheduler job %s failed", name)
        self.acted += 1
        return True

    async def run(self) -> None:
        """Until cancelled: the holder runs the jobs every ``tick_seconds`` (at once when it
        takes the lease over); a standby asks for the lease every half lease time."""
        loop = asyncio.get_running_loop()
        tick = self.ctx.config.scheduler.tick_seconds
        standby = max(0.5, self.leases.ttl / 2)
        next_run = 0.0
        while True:
            try:
                if not await self.leases.hold(LEASE):
                    next_run = 0.0  # whoever takes over runs at once
                elif loop.time() >= next_run:
                    next_run = loop.time() + tick
                    await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            await asyncio.sleep(min(tick, standby))

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="scheduler")

    async def stop(self) -> None:
        """Stop ticking and hand the lease back, so a standby takes over at once."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            if self._own_leases:
                await self.leases.stop()
            else:
                await self.leases.release(LEASE)
        except Exception:  # noqa: BLE001 - the lease runs out by itself
            log.warning("could not release the scheduler lease")
