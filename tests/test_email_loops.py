"""Mail loops are impossible: an auto-replying peer gets at most one acknowledgement (or, for a
robot that hides every mark, at most the per-address cap).  An unreadable mail is kept raw
and its sender gets a bounce, never silence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from gateway.channels.email import EmailPlugin, create
from gateway.core.config import Config
from gateway.core.models import Case, InboundSpool, Outbox
from gateway.core.runtime import running_context
from tests.peers.smtp_sink import SmtpSink, start_sink

ROBOT = "robot@example.org"


def robot_reply(kind: str, ack: EmailMessage, n: int) -> EmailMessage:
    """What each kind of autoresponder sends back when it gets our mail."""
    m = EmailMessage()
    m["From"], m["To"] = ROBOT, "feedback@example.ir"
    m["Message-ID"] = f"<robot-{kind}-{n}@example.org>"
    if kind == "rfc3834":  # a well-behaved vacation responder
        m["Subject"], m["Auto-Submitted"] = f"Auto: {ack['Subject']}", "auto-replied"
        m["In-Reply-To"] = ack["Message-ID"]
    elif kind == "naive_threading":  # no marks, but it quotes our Message-ID
        m["Subject"], m["In-Reply-To"] = f"Re: {ack['Subject']}", ack["Message-ID"]
    else:  # "disguised": no marks, no threading, a fresh subject every time
        m["Subject"] = f"message number {n}"
    m.set_content(f"automatic answer {n}")
    return m


@pytest_asyncio.fixture
async def loop_rig(make_config: Callable[..., Config]) -> AsyncIterator[Callable[..., Any]]:
    sink = SmtpSink()
    sink_server = await start_sink(sink)
    config = make_config(
        email={"smtp": {"port": 0}, "auto_reply_cap": 3, "outbound": {"host": "127.0.0.1", "port": sink.port}}
    )
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        plugin.spool.start()
        await plugin.smtp.start()
        yield lambda: (plugin, sink)
        await plugin.smtp.stop()
        await plugin.spool.stop()
    sink_server.close()
    await sink_server.wait_closed()


async def run_until_quiet(plugin: EmailPlugin, in_flight: list[int], rounds: int = 60) -> None:
    """Drive drain + dispatch until nothing moves and no robot reply is on its way."""
    quiet = 0
    for _ in range(rounds):
        moved = await plugin.drainer.run_once() + await plugin.ctx.dispatcher.run_once()
        await asyncio.sleep(0.05)
        quiet = quiet + 1 if not moved and not in_flight[0] else 0
        if quiet >= 3:
            return
    raise AssertionError("the conversation did not stop: a mail loop")


@pytest.mark.parametrize(
    "kind,max_acks",
    [("rfc3834", 1), ("naive_threading", 1), ("disguised", 3)],
    ids=["auto_submitted_robot", "robot_quoting_our_id", "disguised_robot_hits_cap"],
)
async def test_autoresponder_gets_bounded_acks(loop_rig: Callable[..., Any], kind: str, max_acks: int) -> None:
    plugin, sink = loop_rig()
    in_flight, count = [0], [0]

    async def respond(ack: EmailMessage) -> None:
        in_flight[0] += 1
        try:
            count[0] += 1
            await aiosmtplib.send(
                robot_reply(kind, ack, count[0]), hostname="127.0.0.1", port=plugin.smtp.port, timeout=10
            )
        finally:
            in_flight[0] -= 1

    sink.responder = respond
    first = EmailMessage()
    first["From"], first["To"], first["Subject"] = ROBOT, "feedback@example.ir", "hello"
    first.set_content("a first message that starts it all")
    await aiosmtplib.send(first, hostname="127.0.0.1", port=plugin.smtp.port, timeout=10)
    await run_until_quiet(plugin, in_flight)
    acks = [m for m in sink.messages if m["To"] == ROBOT]
    assert 1 <= len(acks) <= max_acks
    assert all(m["Auto-Submitted"] == "auto-replied" for m in acks)


async def test_a_drain_pass_caps_its_mails_in_one_limiter_transaction(loop_rig: Callable[..., Any]) -> None:
    """Six mails from one disguised robot drained in one pass: three acknowledged, three
    not, and the pass asked the shared limiter once (the caps wait for every parse of the
    pass; capped as each parse came back, a pass made one transaction every few mails)."""
    plugin, _ = loop_rig()
    for n in range(6):
        mail = robot_reply("disguised", EmailMessage(), n)
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=plugin.smtp.port, timeout=10)
    counters, calls = plugin.ctx.limiter.counters, []
    apply = counters.apply

    async def counted(hits: list[Any]) -> Any:
        calls.append(len(hits))
        return await apply(hits)

    counters.apply = counted
    assert await plugin.drainer.run_once() == 6
    assert calls == [6]
    async with plugin.ctx.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 6
        assert await s.scalar(select(func.count()).select_from(Outbox).where(Outbox.purpose == "ack")) == 3


async def test_unreadable_mail_is_kept_and_bounced(loop_rig: Callable[..., Any]) -> None:
    plugin, sink = loop_rig()

    def explode(*_: Any) -> Any:
        raise ValueError("parser bug")

    plugin.intake.decide = explode  # type: ignore[method-assign]
    raw = b"From: someone@example.org\r\nTo: feedback@example.ir\r\nSubject: x\r\n\r\nbody\r\n"
    await aiosmtplib.send(
        raw,
        sender="someone@example.org",
        recipients=["feedback@example.ir"],
        hostname="127.0.0.1",
        port=plugin.smtp.port,
        timeout=10,
    )
    assert await plugin.drainer.run_once() == 1  # settled: as failed
    await plugin.ctx.dispatcher.run_once()  # the bounce goes through the outbox
    [bounce] = await sink.wait_for(1)
    assert bounce["To"] == "someone@example.org" and bounce["Auto-Submitted"] == "auto-replied"
    async with plugin.ctx.db.session() as s:
        row = (await s.execute(select(InboundSpool))).scalar_one()
        assert (row.status, row.raw.endswith(raw)) == ("failed", True)
        assert await s.scalar(select(func.count()).select_from(Case)) == 0
    assert await plugin.drainer.run_once() == 0  # not retried, not bounced twice
    assert len(sink.messages) == 1
