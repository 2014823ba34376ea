"""Leases that fail over in seconds (gateway.core.leases) and outbox claims kept alive by the
same heartbeat; providers without idempotency keys wait for a delivery report before a
resend (gateway.core.dispatcher)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.core.dispatcher import PARKED, Dispatcher
from gateway.core.leases import InstanceClash, Leases, instance_name, take_lease
from gateway.core.messages import SendResult
from gateway.core.models import Lease, Outbox, utcnow
from gateway.core.outbox import queue_outbound, record_delivery
from gateway.core.senders import SenderRegistry
from tests.peers import eventually

TTL = 1.0  # a short lease for the tests; the default is 3 s


def die(leases: Leases) -> None:
    """What kill -9 does to a holder: the heartbeat stops, nothing is released."""
    if leases._task is not None:
        leases._task.cancel()
        leases._task = None


async def test_a_dead_holders_lease_is_taken_over_within_seconds(ctx) -> None:
    a, b = Leases(ctx.db, "host-a:all", TTL, retry=0.1), Leases(ctx.db, "host-b:all", TTL, retry=0.1)
    try:
        assert await a.hold("spool:sms") and not await b.hold("spool:sms")
        await asyncio.sleep(2 * TTL)
        assert not await b.hold("spool:sms")  # the heartbeat keeps it with A
        assert a.holds("spool:sms")
        die(a)
        loop = asyncio.get_running_loop()
        dead_at = loop.time()
        await eventually(lambda: b.hold("spool:sms"), "B takes the dead holder's lease", limit=10)
        assert loop.time() - dead_at < TTL + 1.0
    finally:
        await a.stop()
        await b.stop()


async def test_a_restarted_instance_takes_its_lease_back_at_once(ctx) -> None:
    first = Leases(ctx.db, "host-a:all", 60.0)  # a long lease: waiting for it would show
    assert await first.hold("imap:feedback")
    die(first)
    again = Leases(ctx.db, "host-a:all", 60.0)
    try:
        assert await again.hold("imap:feedback")
        assert not await Leases(ctx.db, "host-b:all", 60.0).hold("imap:feedback")
    finally:
        await again.stop()


async def test_a_holder_that_stalled_notices_the_takeover(ctx) -> None:
    a = Leases(ctx.db, "host-a:all", TTL)
    try:
        assert await a.hold("voice:spool")
        await ctx.db.write(lambda s: take_lease(s, "voice:spool", "host-b:all", 30, force=True))
        await a.beat()
        assert not a.holds("voice:spool")
    finally:
        await a.stop()


def test_the_default_name_is_the_host_and_the_role_set(monkeypatch) -> None:
    monkeypatch.delenv("GATEWAY_INSTANCE_NAME", raising=False)
    host = socket.gethostname()
    assert instance_name("", set()) == f"{host}:all"
    assert instance_name("", {"smtp", "http"}) == f"{host}:http+smtp"
    assert instance_name("edge-1", {"http"}) == "edge-1"
    monkeypatch.setenv("GATEWAY_INSTANCE_NAME", "web-2")
    assert instance_name("edge-1", {"http"}) == "web-2"


async def _identity_holder(ctx, holder: str) -> None:
    await ctx.db.write(lambda s: take_lease(s, "instance:twin:all", holder, 60, force=True))


async def test_a_live_twin_with_the_same_name_is_refused(ctx) -> None:
    await _identity_holder(ctx, f"{socket.gethostname()}:1")  # PID 1 is alive
    with pytest.raises(InstanceClash, match="instance name"):
        await Leases(ctx.db, "twin:all", TTL).claim_identity()
    await _identity_holder(ctx, "another-host:4242")  # a fresh claim from another machine
    with pytest.raises(InstanceClash):
        await Leases(ctx.db, "twin:all", TTL).claim_identity()


async def test_a_dead_previous_life_on_this_host_is_taken_over_at_once(ctx) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    await _identity_holder(ctx, f"{socket.gethostname()}:{gone.stdout.strip()}")
    leases = Leases(ctx.db, "twin:all", TTL)
    try:
        await leases.claim_identity()
        async with ctx.db.read_session() as s:
            holder = (await s.execute(select(Lease.holder).where(Lease.name == "instance:twin:all"))).scalar()
        assert holder == f"{socket.gethostname()}:{os.getpid()}"
    finally:
        await leases.stop()


# -- outbox claims ------------------------------------------------------------------------


class Sender:
    """Records sends; ``hang`` keeps a send in flight until released."""

    def __init__(self, idempotent: bool = True, result: SendResult | None = None) -> None:
        self.idempotent, self.calls = idempotent, []
        self.result = result or SendResult.sent("p-1")
        self.hang = asyncio.Event()
        self.hang.set()

    async def send(self, message):
        self.calls.append(message.idempotency_key)
        await self.hang.wait()
        return self.result


def dispatcher(ctx, sender: Sender, name: str, leases: Leases | None = None, **cfg) -> Dispatcher:
    reg = SenderRegistry()
    reg.register("sms", sender)
    settings = ctx.config.outbox.model_copy(update=cfg)
    return Dispatcher(ctx.db, reg, settings, name=name, leases=leases)


async def queue_row(ctx) -> int:
    async with ctx.db.session() as s:
        row = await queue_outbound(
            s, channel="sms", purpose="ack", recipient="+989120000001", text="کد رهگیری", key=ctx.new_key("sms")
        )
    return row.id


async def outbox_row(ctx, rid: int) -> Outbox:
    async with ctx.db.read_session() as s:
        return await s.get(Outbox, rid)


async def test_a_claim_lives_while_its_sender_beats_and_returns_soon_after_it_dies(ctx) -> None:
    rid = await queue_row(ctx)
    la = Leases(ctx.db, "A", TTL)
    slow = Sender()
    slow.hang.clear()
    a = dispatcher(ctx, slow, "A", la, lease_seconds=1.0)
    b_sender = Sender()
    b = dispatcher(ctx, b_sender, "B", lease_seconds=1.0)
    la.start()
    sending = asyncio.create_task(a.run_once())
    try:
        await eventually(lambda: _true(slow.calls), "A is sending")
        await asyncio.sleep(2.5)  # well past the claim's 1 s: the heartbeat renews it
        assert await b.run_once() == 0
        sending.cancel()  # A dies mid-send (no mark), and its heartbeat with it
        die(la)
        await eventually(b.run_once, "B takes the row over", limit=10)
        assert b_sender.calls == slow.calls  # the same idempotency key
        assert (await outbox_row(ctx, rid)).status == "sent"
    finally:
        sending.cancel()
        await la.stop()


async def _true(x: object) -> bool:
    return bool(x)


async def test_a_restarted_sender_takes_its_own_rows_back_at_once(ctx) -> None:
    rid = await queue_row(ctx)
    first = dispatcher(ctx, Sender(), "web1:all", Leases(ctx.db, "web1:all", 60.0), lease_seconds=600)
    [(row, _)] = await first.claim()  # claimed, then the process died before sending
    await asyncio.sleep(0.01)
    sender = Sender()
    again = dispatcher(ctx, sender, "web1:all", Leases(ctx.db, "web1:all", 60.0), lease_seconds=600)
    assert await dispatcher(ctx, Sender(), "web2:all", lease_seconds=600).run_once() == 0  # not theirs
    assert await again.run_once() == 1
    assert sender.calls == [row.idempotency_key] and (await outbox_row(ctx, rid)).status == "sent"


async def _crash_while_sending(ctx, rid: int) -> None:
    """The row as a dead sender leaves it: 'sending', its claim lapsed."""
    async with ctx.db.session() as s:
        await s.execute(
            update(Outbox)
            .where(Outbox.id == rid)
            .values(status="sending", claimed_by="dead", claimed_at=utcnow() - timedelta(seconds=5), attempts=1)
        )


async def test_without_idempotency_keys_a_maybe_sent_row_waits_for_its_report(ctx) -> None:
    """Kannel-like: the row is not resent while its delivery report may still come; a
    report that comes settles it; without one it is sent again after the wait."""
    reported, silent = await queue_row(ctx), await queue_row(ctx)
    for rid in (reported, silent):
        await _crash_while_sending(ctx, rid)
    sender = Sender(idempotent=False)
    d = dispatcher(ctx, sender, "B", lease_seconds=1.0, report_wait_seconds=8)
    assert await d.run_once() == 0 and sender.calls == []  # both parked, none sent
    parked = await outbox_row(ctx, silent)
    assert parked.status == "pending" and parked.last_error.startswith(PARKED)
    assert parked.next_attempt_at > utcnow() + timedelta(seconds=1)
    async with ctx.db.session() as s:
        await record_delivery(s, status="delivered", outbox_id=reported, detail="kannel dlr 1")
        await s.execute(
            update(Outbox)
            .where(Outbox.id.in_([reported, silent]))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )  # the wait is over
    assert await d.run_once() == 1
    assert sender.calls == [parked.idempotency_key]
    assert (await outbox_row(ctx, reported)).status == "delivered"
    assert (await outbox_row(ctx, silent)).status == "sent"


async def test_with_idempotency_keys_a_maybe_sent_row_is_resent_at_once(ctx) -> None:
    rid = await queue_row(ctx)
    await _crash_while_sending(ctx, rid)
    sender = Sender(idempotent=True)
    assert await dispatcher(ctx, sender, "B", lease_seconds=1.0).run_once() == 1
    assert len(sender.calls) == 1 and (await outbox_row(ctx, rid)).status == "sent"


async def test_an_unconfirmed_send_is_not_retried_before_the_report_wait(ctx) -> None:
    rid = await queue_row(ctx)
    sender = Sender(idempotent=False, result=SendResult.temporary("unconfirmed", "kannel: ServerDisconnectedError"))
    d = dispatcher(ctx, sender, "B", report_wait_seconds=600, base_delay_seconds=0.01)
    assert await d.run_once() == 1
    row = await outbox_row(ctx, rid)
    assert row.status == "pending" and row.next_attempt_at > utcnow() + timedelta(seconds=500)
    assert "unconfirmed" in row.last_error


async def test_a_dispatcher_sends_only_its_channels(ctx) -> None:
    """outbox.channels: the voice machine's dispatcher leaves email and SMS to the others."""
    rid = await queue_row(ctx)  # an SMS row
    sender = Sender()
    assert await dispatcher(ctx, sender, "voice-box", channels=["voice"]).run_once() == 0
    assert await dispatcher(ctx, sender, "web-box", channels=["email", "sms"]).run_once() == 1
    assert (await outbox_row(ctx, rid)).status == "sent"
