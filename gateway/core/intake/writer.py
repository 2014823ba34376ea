"""The intake writer: the one way in, run as a group-commit writer.

Callers ``await writer.submit(message)``.  One writer task takes every submission waiting
in its queue as one batch, writes it in one transaction (``batch.write_batch``: plain new
cases in bulk, the rest one savepoint each, so one bad item cannot sink the batch), commits
once, and only then resolves each caller's future.  Nobody is answered before the commit
that holds their message; if the commit fails, every caller of that batch gets
:class:`~gateway.core.errors.DatabaseUnavailable` and the channel answers "try later".
After each commit the writer calls ``wake_outbox`` so acknowledgements leave at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial

from gateway.core.batching import serve_batches
from gateway.core.db import Database, DatabaseUnavailable
from gateway.core.intake.batch import FastPathFailed, write_batch
from gateway.core.intake.contract import InboundMessage, IntakeResult
from gateway.core.ports import IntakeServices, WakeOutbox

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Job:
    message: InboundMessage
    future: asyncio.Future[IntakeResult]


class IntakeWriter:
    """The single writer task that turns inbound messages into committed cases."""

    def __init__(
        self,
        db: Database,
        services: IntakeServices,
        wake_outbox: WakeOutbox | None = None,
        batch_max: int | None = None,
    ) -> None:
        """``wake_outbox`` is called after each commit (acknowledgements go out within
        moments, not at the dispatcher's next poll)."""
        self.db, self.services, self.wake_outbox = db, services, wake_outbox
        self.batch_max = batch_max or services.config.intake.batch_max
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.batches = 0  # for metrics and benchmarks

    async def submit(self, message: InboundMessage) -> IntakeResult:
        """Hand one message to the writer; return once its transaction has committed."""
        if not any(not t.done() for t in self._tasks):
            raise DatabaseUnavailable("intake writer is not running")
        # Files first (content-addressed, fsynced): a committed row never points at nothing.
        message.attachment_digests = [await self.services.store.put(a.data) for a in message.attachments]
        future: asyncio.Future[IntakeResult] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(message, future))
        # shield: a caller that gives up must not cancel the write others share
        return await asyncio.shield(future)

    def start(self) -> None:
        """Start the one writer task.  (Several concurrent writers were tried on PostgreSQL:
        no gain with a closed loop of clients, and two texts from one number could then
        open two cases, since neither transaction sees the other's uncommitted case.)"""
        if not any(not t.done() for t in self._tasks):
            self._tasks = [asyncio.create_task(self._run(), name="intake-writer")]

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if not self._tasks:
            return
        await self._queue.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _run(self) -> None:
        await serve_batches(self._queue, self.batch_max, self._write)

    async def _write(self, batch: list[_Job]) -> None:
        messages = [job.message for job in batch]
        outcomes: list[IntakeResult | BaseException]
        try:
            try:
                outcomes = await self.db.write(partial(write_batch, svc=self.services, messages=messages, fast=True))
            except FastPathFailed:  # rolled back: the batch again, one savepoint per message
                outcomes = await self.db.write(partial(write_batch, svc=self.services, messages=messages, fast=False))
        except Exception as e:  # noqa: BLE001 - the commit failed: nobody is acknowledged
            log.error("intake batch of %d failed to commit: %s", len(batch), type(e).__name__)
            error = DatabaseUnavailable(str(e)[:200])
            error.__cause__ = e
            outcomes = [error] * len(batch)
        self.batches += 1
        for job, outcome in zip(batch, outcomes):
            if job.future.done():
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)
        if self.wake_outbox is not None:
            self.wake_outbox()
