"""Outbox and dispatcher: retries with backoff, permanent failures, crash recovery with the
same idempotency key, and no row claimed by two dispatchers."""

import asyncio
import random
from datetime import timedelta

from sqlalchemy import select, update

from gateway.core.config import OutboxSection
from gateway.core.dispatcher import Dispatcher, backoff_seconds
from gateway.core.messages import Channel, InboundMessage, SendResult
from gateway.core.models import AuditEvent, Outbox, utcnow
from gateway.core.outbox import queue_outbound, record_delivery
from gateway.core.senders import SenderRegistry


class ScriptedSender:
    """Answers each send with the next scripted result and records what it was given."""

    def __init__(self, *results):
        self.results = list(results)
        self.calls = []

    async def send(self, message):
        self.calls.append(message)
        return self.results.pop(0) if self.results else SendResult.sent("p-1")


async def queue_rows(ctx, n=1, channel="sms"):
    async with ctx.db.session() as s:
        rows = [
            await queue_outbound(
                s,
                channel=channel,
                purpose="notice",
                recipient=f"+98912000000{i}",
                text=f"t{i}",
                key=ctx.new_key(channel),
            )
            for i in range(n)
        ]
    return [r.id for r in rows]


async def row(ctx, rid):
    async with ctx.db.session() as s:
        return await s.get(Outbox, rid)


async def due_now(ctx):
    async with ctx.db.session() as s:
        await s.execute(update(Outbox).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def dispatcher(ctx, sender, name="d1", **cfg):
    reg = SenderRegistry()
    reg.register("sms", sender)
    settings = ctx.config.outbox.model_copy(update=cfg)
    return Dispatcher(ctx.db, reg, settings, name=name)


async def test_temporary_failures_are_retried_then_sent(ctx):
    [rid] = await queue_rows(ctx)
    sender = ScriptedSender(
        SendResult.temporary("timeout"), SendResult.temporary("http_503"), SendResult.sent("prov-9")
    )
    d = dispatcher(ctx, sender)
    for _ in range(3):
        assert await d.run_once() == 1
        await due_now(ctx)
    r = await row(ctx, rid)
    assert (r.status, r.attempts, r.provider_id) == ("sent", 3, "prov-9")
    assert len({m.idempotency_key for m in sender.calls}) == 1


async def test_backoff_waits_before_the_next_attempt(ctx):
    [rid] = await queue_rows(ctx)
    d = dispatcher(ctx, ScriptedSender(SendResult.temporary("x")), base_delay_seconds=60, max_delay_seconds=600)
    await d.run_once()
    r = await row(ctx, rid)
    assert r.status == "pending" and r.next_attempt_at > utcnow() + timedelta(seconds=50)
    assert await d.run_once() == 0  # not due yet


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    cfg = OutboxSection(base_delay_seconds=1, max_delay_seconds=30)
    rng = random.Random(7)
    ceilings = [max(backoff_seconds(a, cfg, rng) for _ in range(200)) for a in range(1, 8)]
    assert ceilings[0] <= 1.0 and 3 < ceilings[2] <= 4 and all(c <= 30 for c in ceilings)
    assert min(backoff_seconds(5, cfg, rng) for _ in range(200)) >= 1


async def test_attempts_run_out_and_the_row_fails_with_an_audit_event(ctx):
    [rid] = await queue_rows(ctx)
    d = dispatcher(ctx, ScriptedSender(*[SendResult.temporary("down")] * 5), max_attempts=3)
    for _ in range(3):
        await d.run_once()
        await due_now(ctx)
    r = await row(ctx, rid)
    assert (r.status, r.attempts) == ("failed", 3) and "down" in r.last_error
    async with ctx.db.session() as s:
        assert (await s.execute(select(AuditEvent.action))).scalars().all() == ["outbound_failed"]


async def test_permanent_failure_is_not_retried(ctx):
    [rid] = await queue_rows(ctx)
    sender = ScriptedSender(SendResult.permanent("invalid_number"))
    d = dispatcher(ctx, sender)
    await d.run_once()
    await due_now(ctx)
    assert await d.run_once() == 0
    assert (await row(ctx, rid)).status == "failed" and len(sender.calls) == 1


async def test_a_raising_sender_counts_as_temporary(ctx):
    class Broken:
        async def send(self, message):
            raise RuntimeError("bug")

    [rid] = await queue_rows(ctx)
    await dispatcher(ctx, Broken()).run_once()
    r = await row(ctx, rid)
    assert r.status == "pending" and "sender_error" in r.last_error


async def test_crash_between_send_and_mark_resends_with_the_same_key(ctx):
    """Dispatcher A claims and sends, then dies before marking; B takes over after the lease."""
    [rid] = await queue_rows(ctx)
    a_sender, b_sender = ScriptedSender(), ScriptedSender()
    a = dispatcher(ctx, a_sender, name="A", lease_seconds=30)
    claimed = await a.claim()
    await a_sender.send(claimed[0][0])  # sent, then "killed": mark() never runs
    b = dispatcher(ctx, b_sender, name="B", lease_seconds=30)
    assert await b.run_once() == 0  # A's lease still holds
    async with ctx.db.session() as s:
        await s.execute(update(Outbox).values(claimed_at=utcnow() - timedelta(seconds=31)))
    assert await b.run_once() == 1
    assert a_sender.calls[0].idempotency_key == b_sender.calls[0].idempotency_key
    r = await row(ctx, rid)
    assert (r.status, r.attempts, r.claimed_by) == ("sent", 2, None)
    await a.mark(rid, SendResult.temporary("late"))  # the late mark of the dead claim is ignored
    assert (await row(ctx, rid)).status == "sent"


async def test_two_dispatchers_never_claim_the_same_row(ctx):
    ids = await queue_rows(ctx, 40)
    senders = [ScriptedSender() for _ in range(4)]
    ds = [dispatcher(ctx, s, name=f"d{i}", batch=5) for i, s in enumerate(senders)]

    async def drain(d):
        while await d.run_once():
            pass

    await asyncio.gather(*(drain(d) for d in ds))
    sent = [m.outbox_id for s in senders for m in s.calls]
    assert sorted(sent) == sorted(ids)  # every row exactly once
    assert sum(1 for s in senders if s.calls) >= 2


async def test_acknowledgement_reaches_the_file_sender(ctx):
    res = await ctx.intake.submit(InboundMessage(Channel.SMS, "سلام", external_id="f1", sender="+989121234567"))
    await ctx.dispatcher.run_once()
    files = list((ctx.config.data_dir / "outbox" / "sms").glob("*.json"))
    assert len(files) == 1 and res.case_code in files[0].read_text(encoding="utf-8").translate(
        str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")
    )


async def test_delivery_reports_are_monotonic(ctx):
    [rid] = await queue_rows(ctx)
    await dispatcher(ctx, ScriptedSender(SendResult.sent("prov-1"))).run_once()
    assert await ctx.state.delivery(status="delivered", provider_id="prov-1")
    assert await ctx.state.delivery(status="sent", outbox_id=rid)  # late, out-of-order report
    assert await ctx.state.delivery(status="failed", outbox_id=rid)  # final stays final
    r = await row(ctx, rid)
    assert r.status == "delivered" and r.delivered_at is not None
    assert not await ctx.state.delivery(status="delivered", outbox_id=999999)


async def test_a_delivery_report_racing_the_dispatchers_mark_is_kept(ctx):
    """Kannel can report "delivered" before the dispatcher has marked the row sent; the mark,
    held up behind the report's transaction, must not overwrite it with "sent"."""
    [rid] = await queue_rows(ctx)
    d = dispatcher(ctx, ScriptedSender())
    assert len(await d.claim()) == 1  # the row is "sending", claimed by d1
    async with ctx.db.session() as s:  # the report's transaction, still open ...
        await record_delivery(s, status="delivered", outbox_id=rid)
        await s.flush()
        mark = asyncio.create_task(d.mark(rid, SendResult.sent("p-1")))  # ... when the mark starts
        await asyncio.sleep(0.3)
    await mark
    assert (await row(ctx, rid)).status == "delivered"


async def test_a_pass_claims_a_batch_but_sends_only_concurrency_at_once(ctx):
    """``outbox.batch`` rows are claimed and marked in one transaction each; no more than
    ``outbox.concurrency`` of them are in the senders at any moment."""
    ids = await queue_rows(ctx, 9)

    class Counting:
        def __init__(self):
            self.now = self.most = 0

        async def send(self, message):
            self.now += 1
            self.most = max(self.most, self.now)
            await asyncio.sleep(0.01)
            self.now -= 1
            return SendResult.sent(f"p-{message.outbox_id}")

    sender = Counting()
    d = dispatcher(ctx, sender, batch=9, concurrency=3)
    assert await d.run_once() == 9
    assert sender.most == 3
    assert {(await row(ctx, rid)).status for rid in ids} == {"sent"}
