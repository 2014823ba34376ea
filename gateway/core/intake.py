"""``core.intake``: the one way in, run as a group-commit writer (DESIGN.md section 2).

Callers ``await writer.submit(message)``.  One writer task takes every submission waiting
in its queue, runs each in its own savepoint of one transaction (so one bad item cannot sink
the batch), commits once, and only then resolves each caller's future.  Nobody is answered
before the commit that holds their message; if the commit fails, every caller of that batch
gets :class:`~gateway.core.db.DatabaseUnavailable` and the channel answers "try later".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core.batching import serve_batches
from gateway.core import fastpath
from gateway.core.cases import process
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable, is_unavailable, is_unique_violation
from gateway.core.messages import InboundMessage, IntakeResult, Outcome
from gateway.core.models import Case

log = logging.getLogger(__name__)


class _FastPathFailed(Exception):
    """The batch insert failed; the transaction is rolled back and the batch redone."""


def _duplicate(s: Session, seen: Any) -> IntakeResult:  # an InboundKey row
    code = s.get(Case, seen.case_id).code if seen.case_id else None
    return IntakeResult(Outcome.DUPLICATE, code, seen.case_id, seen.message_id,
                        reason=f"already {seen.outcome}")


@dataclass(slots=True)
class _Job:
    message: InboundMessage
    future: asyncio.Future[IntakeResult]


class IntakeWriter:
    """The single writer task that turns inbound messages into committed cases."""

    def __init__(self, ctx: GatewayContext, batch_max: int | None = None) -> None:
        self.ctx = ctx
        self.batch_max = batch_max or ctx.config.intake.batch_max
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.batches = 0  # for metrics and benchmarks

    async def submit(self, message: InboundMessage) -> IntakeResult:
        """Hand one message to the writer; return once its transaction has committed."""
        if not any(not t.done() for t in self._tasks):
            raise DatabaseUnavailable("intake writer is not running")
        # Files first (content-addressed, fsynced): a committed row never points at nothing.
        message.attachment_digests = [await self.ctx.store.put(a.data) for a in message.attachments]
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
                outcomes = await self.ctx.db.write(partial(self._process_all, messages=messages, fast=True))
            except _FastPathFailed:  # rolled back: the batch again, one savepoint per message
                outcomes = await self.ctx.db.write(partial(self._process_all, messages=messages, fast=False))
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
        dispatcher = getattr(self.ctx, "dispatcher", None)
        if dispatcher is not None:
            dispatcher.wake()  # acknowledgements go out within moments, not at the next poll

    def _process_all(self, s: Session, messages: list[InboundMessage],
                     fast: bool) -> list[IntakeResult | BaseException]:
        """Dedupe the batch, insert its plain new cases in bulk, the rest one by one.

        The bulk insert runs first and without a savepoint (two round trips fewer per
        batch); if it fails it raises :class:`_FastPathFailed`, the caller rolls the
        transaction back and calls again with ``fast=False``."""
        results: list[IntakeResult | BaseException | None] = [None] * len(messages)
        ledger = fastpath.existing_keys(s, messages)
        first_of: dict[tuple[str, str, str], int] = {}
        twins: dict[int, int] = {}
        for i, m in enumerate(messages):
            if not m.external_id:
                continue
            key = (m.channel.value, m.provider, m.external_id)
            if key in ledger:
                results[i] = _duplicate(s, ledger[key])
            elif key in first_of:
                twins[i] = first_of[key]
            else:
                first_of[key] = i
        recent = fastpath.contacts_with_recent_cases(s, messages)
        limit, plain, slow, senders = self.ctx.config.intake.max_text_chars, [], [], set()
        for i, m in enumerate(messages):
            if results[i] is not None or i in twins:
                continue
            contact = (m.channel.value, m.sender)
            if fastpath.is_plain(m, limit) and contact not in recent and contact not in senders:
                plain.append(i)
                if m.meta.get("thread_by_contact"):
                    senders.add(contact)  # a second text from this number threads: slow path
            else:
                slow.append(i)
        if plain and fast:
            try:
                for i, r in zip(plain, fastpath.insert_plain(s, self.ctx, [messages[i] for i in plain])):
                    results[i] = r
            except Exception as e:  # noqa: BLE001 - redo the batch one savepoint per message
                if is_unavailable(e):
                    raise
                log.warning("intake fast path failed (%s); the batch is redone per message", type(e).__name__)
                raise _FastPathFailed from e
        elif plain:
            slow = sorted(slow + plain)
        for i in slow:
            results[i] = self._one(s, messages[i])
        for i, j in twins.items():
            first = results[j]
            results[i] = (IntakeResult(Outcome.DUPLICATE, first.case_code, first.case_id, first.message_id,
                                       reason=f"already {first.outcome.value}")
                          if isinstance(first, IntakeResult) else first)
        return [r if r is not None else RuntimeError("not processed") for r in results]

    def _one(self, s: Session, message: InboundMessage) -> IntakeResult | BaseException:
        """Process one message in its own savepoint; retry once after a unique clash."""
        for attempt in (1, 2):
            try:
                with s.begin_nested():
                    return process(s, self.ctx, message)
            except IntegrityError as e:
                # A twin committed by another process in the meantime: the retry finds it.
                if attempt == 2 or not is_unique_violation(e):
                    log.exception("intake integrity error")
                    return e
            except Exception as e:  # noqa: BLE001 - one bad item must not sink the batch
                if is_unavailable(e):
                    raise  # the database is gone: the whole batch fails, nobody is acked
                log.exception("intake failed for one %s message", message.channel.value)
                return e
        raise AssertionError("unreachable")
