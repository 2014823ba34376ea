"""Store first, parse after (GNU Mailman's design): the SMTP edge's durable queue.

:class:`SpoolWriter` group-commits raw mails into the core's ``InboundSpool`` table: every
DATA waiting at that moment goes into one transaction, and each client gets its 250 only
after that commit.  :class:`SpoolDrainer` (one per deployment, by lease) parses pending rows
and submits them to ``core.intake``; a row is marked processed only after the intake commit,
so a crash replays it and the Message-ID dedupe makes the replay harmless.  While mail is
pouring in, the drainer yields the CPU to the SMTP edge (small batches, a pause between
them): a burst is taken in at full speed and parsed in the gaps, then at full speed after.  A mail that
cannot be parsed stays in the spool as ``failed`` (raw kept for replay) and its sender gets
a bounce.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.channels.email.sender import build_message
from gateway.core.batching import next_batch
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable, is_unavailable
from gateway.core.messages import Channel, OutboundMessage

log = logging.getLogger(__name__)
CHANNEL = "email"
BOUNCE_TEXT = ("Your message could not be read by the feedback gateway. It has been kept for "
               "an operator, but it has not been registered. Please send it again as plain "
               "text.\n\nپیام شما خوانده نشد و ثبت نشد. لطفاً آن را دوباره به صورت متن ساده بفرستید.")


@dataclass(slots=True)
class _Put:
    raw: bytes
    envelope: dict[str, Any]
    future: asyncio.Future[None]


class SpoolWriter:
    """Batch concurrent raw puts into one commit each (the SMTP edge's group commit)."""

    def __init__(self, ctx: GatewayContext, on_commit: Any = None, batch_max: int = 200) -> None:
        self.ctx, self.on_commit, self.batch_max = ctx, on_commit, batch_max
        self._queue: asyncio.Queue[_Put] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.last_put = 0.0  # loop time of the latest put (the drainer backs off while recent)

    def busy(self, within: float = 0.25) -> bool:
        """True while mail is arriving (a put in the last ``within`` seconds)."""
        return asyncio.get_running_loop().time() - self.last_put < within

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="email-spool-writer")

    async def stop(self) -> None:
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def put(self, raw: bytes, envelope: dict[str, Any]) -> None:
        """Return once the raw mail is committed; raise DatabaseUnavailable."""
        if self._task is None or self._task.done():
            raise DatabaseUnavailable("spool writer is not running")
        loop = asyncio.get_running_loop()
        self.last_put = loop.time()
        future: asyncio.Future[None] = loop.create_future()
        await self._queue.put(_Put(raw, envelope, future))
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            batch = await next_batch(self._queue, self.batch_max)
            try:
                await self.ctx.state.spool_put_many(CHANNEL, [(p.raw, p.envelope) for p in batch])
            except Exception as e:  # noqa: BLE001 - nobody in this batch is acknowledged
                log.error("spool commit of %d mails failed: %s", len(batch), type(e).__name__)
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(DatabaseUnavailable(type(e).__name__))
            else:
                for p in batch:
                    if not p.future.done():
                        p.future.set_result(None)
                if self.on_commit is not None:
                    self.on_commit()
            finally:
                for _ in batch:
                    self._queue.task_done()


class SpoolDrainer:
    """Parse and submit pending spool rows; one drainer at a time holds the lease."""

    LEASE = "email:spool-drain"
    BUSY_BATCH, BUSY_PAUSE = 20, 1.0  # while SMTP is busy: 20 mails per second, at least

    def __init__(self, ctx: GatewayContext, intake: MailIntake, holder: str,
                 batch: int = 200, idle_seconds: float = 1.0,
                 busy: Callable[[], bool] = lambda: False) -> None:
        self.ctx, self.intake, self.holder = ctx, intake, holder
        self.batch, self.idle_seconds, self.busy = batch, idle_seconds, busy
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.processed = 0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="email-spool-drainer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.ctx.state.release(self.LEASE, self.holder)

    async def _run(self) -> None:
        while True:
            busy = self.busy()
            try:
                handled = await self.drain_once(self.BUSY_BATCH if busy else self.batch)
            except Exception as e:  # noqa: BLE001 - database hiccup: try again shortly
                log.warning("spool drain pass failed: %s", type(e).__name__)
                handled = 0
            if busy:
                await asyncio.sleep(self.BUSY_PAUSE)
            elif not handled:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
                except asyncio.TimeoutError:
                    pass

    async def drain_once(self, limit: int | None = None) -> int:
        """Handle one batch of pending rows; return how many were finished."""
        if not await self.ctx.state.acquire(self.LEASE, self.holder, ttl_seconds=60):
            return 0
        rows = await self.ctx.state.spool_pending(CHANNEL, limit or self.batch)
        outcomes = await asyncio.gather(*(self._one(i, raw, env) for i, raw, env in rows))
        done = [i for (i, _, _), ok in zip(rows, outcomes) if ok]
        await self.ctx.state.spool_done_many(done)
        self.processed += len(done)
        return len(done)

    async def _one(self, spool_id: int, raw: bytes, env: dict[str, Any]) -> bool:
        envelope = Envelope("smtp", env.get("mail_from"), list(env.get("rcpt_tos", [])))
        try:
            await self.intake.ingest(raw, envelope)
            return True
        except DatabaseUnavailable:
            return False  # stays pending; the next pass retries
        except Exception as e:  # noqa: BLE001 - unreadable mail: keep raw, tell the sender
            if is_unavailable(e):
                return False
            log.exception("spooled mail %d could not be processed", spool_id)
            await self.ctx.state.spool_done(spool_id, "failed", f"{type(e).__name__}: {e}"[:500])
            await self.bounce(envelope.mail_from, spool_id)
            return False

    async def bounce(self, to: str | None, spool_id: int) -> None:
        """Tell the sender their mail was kept but not read (never for a null sender)."""
        if not to or to == "<>":
            return
        sender = self.ctx.senders.get(Channel.EMAIL.value)
        if sender is None:
            return
        out = OutboundMessage(outbox_id=0, channel=Channel.EMAIL, purpose="bounce", recipient=to,
                              subject="Undeliverable: your message could not be read / پیام شما خوانده نشد",
                              text=BOUNCE_TEXT + f"\n\n(ref spool-{spool_id})",
                              idempotency_key=self.ctx.new_key(CHANNEL), language="en",
                              payload={"auto_submitted": "auto-replied"})
        build_message(out, self.ctx.config.email)  # fail here, not half-way in the sender
        result = await sender.send(out)
        log.info("bounce for spooled mail %d: %s", spool_id, result.status.value)
