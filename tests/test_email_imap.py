"""IMAP poller against a real Dovecot started by the fixture (ephemeral port, throwaway
config): basic ingest and flagging, move to a processed folder, IDLE, UIDVALIDITY change,
a crash between fetch and commit (exactly once after restart), a 1,000-message mailbox.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import aioimaplib
import pytest
from sqlalchemy import func, select

from gateway.channels.email.imap_poller import ImapPoller
from gateway.channels.email.inbound import MailIntake
from gateway.channels.email.spool import MailDrainer, mail_spool
from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.models import Case, InboundSpool, Message
from gateway.core.runtime import running_context
from tests.peers import require_binary
from tests.peers.dovecot import Dovecot, dovecot

pytestmark = pytest.mark.peer("dovecot")
USERS = {
    "alice": "secret1",
    "bob": "secret2",
    "carol": "secret3",
    "dave": "secret4",
    "erin": "secret5",
    "frank": "secret6",
    "gina": "secret7",
}


@pytest.fixture(scope="module")
def imap_server() -> Iterator[Dovecot]:
    require_binary("dovecot", "dovecot-imapd")
    with dovecot(USERS) as server:
        yield server


def raw_mail(n: int, sender: str = "citizen@example.org", subject: str = "درخواست") -> bytes:
    return (
        f"From: {sender}\r\nTo: feedback@example.ir\r\nSubject: {subject} {n}\r\n"
        f"Message-ID: <imap-{n}-{sender}>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\nمتن پیام شماره {n}\r\n"
    ).encode()


def poller_for(ctx: GatewayContext, server: Dovecot, user: str, **box: Any) -> ImapPoller:
    os.environ[f"TEST_IMAP_{user.upper()}"] = USERS[user]
    return ImapPoller(ctx, MailIntake(ctx), ctx.config.email.imap[0], holder="test", spool=mail_spool(ctx))


def imap_config(make_config: Callable[..., Config], server: Dovecot, user: str, **box: Any) -> Config:
    os.environ[f"TEST_IMAP_{user.upper()}"] = USERS[user]
    mailbox = {
        "host": server.host,
        "port": server.port,
        "tls": False,
        "username": user,
        "password_env": f"TEST_IMAP_{user.upper()}",
        "poll_seconds": 0.5,
        **box,
    }
    return make_config(email={"imap": [mailbox]})


async def count(ctx: GatewayContext, model: Any = Case) -> int:
    async with ctx.db.session() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def flags(server: Dovecot, user: str, folder: str = "INBOX") -> list[str]:
    c = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=10)
    await c.wait_hello_from_server()
    await c.login(user, USERS[user])
    await c.select(folder)
    r = await c.fetch("1:*", "(FLAGS)")
    await c.logout()
    return [line.decode() for line in r.lines if isinstance(line, bytes) and re.match(rb"^\d+ FETCH", line)]


async def test_poll_ingests_and_flags_seen(imap_server: Dovecot, make_config: Callable[..., Config]) -> None:
    imap_server.deliver("alice", raw_mail(1))
    imap_server.deliver("alice", raw_mail(2))
    async with running_context(imap_config(make_config, imap_server, "alice"), migrate=False, dispatch=False) as ctx:
        poller = poller_for(ctx, imap_server, "alice")
        assert await poller.poll_once() == 2
        assert await poller.poll_once() == 0
        assert await count(ctx) == 2
        assert all("\\Seen" in f for f in await flags(imap_server, "alice"))
        state = await ctx.state.get(poller.key)
        assert state["last_uid"] == 2 and state["uidvalidity"] > 0


async def test_unreadable_mail_is_spooled_and_flagged(imap_server: Dovecot, make_config: Callable[..., Config]) -> None:
    """A mail the gateway cannot process is kept raw in the spool (and flagged read, so the
    mailbox does not serve it again); the drainer then keeps it as failed for an operator."""
    imap_server.deliver("gina", raw_mail(3))
    async with running_context(imap_config(make_config, imap_server, "gina"), migrate=False, dispatch=False) as ctx:
        poller = poller_for(ctx, imap_server, "gina")
        poller.spool.start()

        def explode(*_: Any) -> Any:
            raise ValueError("parser bug")

        poller.intake.decide = explode  # type: ignore[method-assign]
        try:
            assert await poller.poll_once() == 1
            assert all("\\Seen" in f for f in await flags(imap_server, "gina"))
            async with ctx.db.session() as s:
                [row] = (await s.execute(select(InboundSpool).where(InboundSpool.status == "pending"))).scalars()
            assert (row.channel, row.source, row.envelope) == ("email", poller.key[:100], {"source": "imap"})
            assert "متن پیام شماره 3".encode() in row.raw
            assert await MailDrainer(ctx, poller.intake, poller.spool).run_once() == 1
            async with ctx.db.session() as s:
                assert (await s.get(InboundSpool, row.id)).status == "failed"
            assert await count(ctx) == 0
        finally:
            await poller.spool.stop()


async def test_processed_folder_move(imap_server: Dovecot, make_config: Callable[..., Config]) -> None:
    imap_server.deliver("bob", raw_mail(1, "bob@example.org"))
    config = imap_config(make_config, imap_server, "bob", processed_folder="Processed")
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        assert await poller_for(ctx, imap_server, "bob").poll_once() == 1
    assert await flags(imap_server, "bob") == []
    assert len(await flags(imap_server, "bob", "Processed")) == 1


async def test_idle_picks_up_new_mail(imap_server: Dovecot, make_config: Callable[..., Config]) -> None:
    config = imap_config(make_config, imap_server, "carol", poll_seconds=30)
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        poller = poller_for(ctx, imap_server, "carol")
        task = asyncio.create_task(poller.run())
        try:
            while poller.ingested == 0 and not task.done():  # first pass: empty mailbox
                await asyncio.sleep(0.1)
                if (await ctx.state.get(poller.key)) is not None:
                    break
            await asyncio.to_thread(imap_server.deliver, "carol", raw_mail(7, "carol@example.org"))
            # poll_seconds is 30: only IDLE's push can bring it in before the cap below
            await asyncio.wait_for(_until(lambda: poller.ingested == 1), 20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert await count(ctx) == 1


async def _until(check: Callable[[], bool]) -> None:
    while not check():
        await asyncio.sleep(0.05)


async def test_uidvalidity_change_rescans_exactly_once(
    imap_server: Dovecot, make_config: Callable[..., Config]
) -> None:
    for n in (1, 2):
        imap_server.deliver("dave", raw_mail(n, "dave@example.org"))
    async with running_context(imap_config(make_config, imap_server, "dave"), migrate=False, dispatch=False) as ctx:
        poller = poller_for(ctx, imap_server, "dave")
        assert await poller.poll_once() == 2
        before = (await ctx.state.get(poller.key))["uidvalidity"]
        imap_server.doveadm("mailbox", "update", "-u", "dave", "--uid-validity", str(before + 1000), "INBOX")
        imap_server.deliver("dave", raw_mail(3, "dave@example.org"))
        assert await poller.poll_once() == 3  # all three seen again under the new UIDVALIDITY
        assert (await ctx.state.get(poller.key))["uidvalidity"] == before + 1000
        assert await count(ctx) == 3  # the first two were duplicates, not new cases


class Crash(Exception):
    """Stands in for the process dying."""


async def test_crash_between_fetch_and_commit_is_exactly_once(
    imap_server: Dovecot, make_config: Callable[..., Config]
) -> None:
    imap_server.deliver("erin", raw_mail(1, "erin@example.org"))
    config = imap_config(make_config, imap_server, "erin")
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        poller = poller_for(ctx, imap_server, "erin")

        fetched = asyncio.Event()

        async def hang(*_: Any) -> None:
            fetched.set()
            await asyncio.Event().wait()

        poller.intake.ingest = hang  # type: ignore[method-assign]
        task = asyncio.create_task(poller.poll_once())
        await asyncio.wait_for(fetched.wait(), 20)
        task.cancel()  # the process dies between fetch and commit
        await asyncio.gather(task, return_exceptions=True)
        assert await count(ctx) == 0
        assert not any("\\Seen" in f for f in await flags(imap_server, "erin"))
    async with running_context(config, migrate=False, dispatch=False) as ctx:  # "restart"
        poller = poller_for(ctx, imap_server, "erin")
        real_mark = poller._mark_processed

        async def die_after_commit(*_: Any) -> None:
            raise Crash()

        poller._mark_processed = die_after_commit  # type: ignore[method-assign]  # committed, not flagged
        with pytest.raises(Crash):
            await poller.poll_once()
        assert await count(ctx) == 1
        poller._mark_processed = real_mark  # type: ignore[method-assign]
        assert await poller.poll_once() == 1  # refetched: a duplicate, now flagged
        assert await poller.poll_once() == 0
        async with ctx.db.session() as s:
            inbound = await s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
        assert await count(ctx) == 1 and inbound == 1
        assert all("\\Seen" in f for f in await flags(imap_server, "erin"))


async def test_thousand_message_mailbox(imap_server: Dovecot, make_config: Callable[..., Config]) -> None:
    imap_server.drop_many("frank", (raw_mail(n, "frank@example.org") for n in range(1000)))
    config = imap_config(make_config, imap_server, "frank", fetch_batch=250)
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        poller = poller_for(ctx, imap_server, "frank")
        assert await poller.poll_once() == 1000
        assert await poller.poll_once() == 0
        assert await count(ctx) == 1000
        assert (await ctx.state.get(poller.key))["last_uid"] == 1000
