"""End to end with real peers: smtplib -> our SMTP server -> case -> acknowledgement relayed
to a real SMTP sink -> the citizen's reply threads onto the same case.  Also the SMTP
edge's answers: unknown recipient 550, size 552, SMTPUTF8, database away 451.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from gateway.channels.email import EmailPlugin, create
from gateway.core import spool as core_spool
from gateway.core import tracking
from gateway.core.config import Config
from gateway.core.models import Case, InboundSpool, Message, Outbox
from gateway.core.runtime import running_context
from tests.peers.smtp_sink import SmtpSink


def mail(
    subject: str, body: str, sender: str = "citizen@example.org", to: str = "feedback@example.ir", **headers: str
) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = f"شهروند <{sender}>", to, subject
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content(body)
    return m


def send(
    port: int,
    msg: EmailMessage | bytes,
    sender: str = "citizen@example.org",
    rcpts: tuple[str, ...] = ("feedback@example.ir",),
) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        if isinstance(msg, EmailMessage):
            return c.send_message(msg)
        return c.sendmail(sender, list(rcpts), msg)


@pytest_asyncio.fixture
async def gateway(make_config: Callable[..., Config], sink: SmtpSink) -> AsyncIterator[EmailPlugin]:
    config = make_config(
        email={"smtp": {"port": 0, "max_message_bytes": 200_000}, "outbound": {"host": "127.0.0.1", "port": sink.port}}
    )
    async with running_context(config, migrate=False, dispatch=True) as ctx:
        plugin = create(ctx)
        await plugin.start()
        yield plugin
        await plugin.stop()


async def settle(plugin: EmailPlugin) -> None:
    """Drain the spool now (the background drainer would, within a second)."""
    await plugin.drainer.run_once()


async def cases(plugin: EmailPlugin) -> list[Case]:
    async with plugin.ctx.db.session() as s:
        return list((await s.execute(select(Case).order_by(Case.id))).scalars())


async def test_mail_to_case_to_ack_and_reply_threads(gateway: EmailPlugin, sink: SmtpSink) -> None:
    port = gateway.smtp.port
    await asyncio.to_thread(send, port, mail("شکایت از تأخیر", "سلام، درخواست من دو ماه است بی‌پاسخ مانده."))
    await settle(gateway)
    [case] = await cases(gateway)
    [ack] = await sink.wait_for(1)
    code = ack["Subject"].split("[#")[1].split("]")[0]
    assert code == case.code and tracking.is_valid(code)
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["To"] == "citizen@example.org" and ack["In-Reply-To"]
    assert tracking.display(code) in ack.get_body(("plain",)).get_content()
    reply = mail(
        f"Re: {ack['Subject']}",
        "مدارک را پیوست کردم.\n\n> پیام شما ثبت شد",
        In_Reply_To=ack["Message-ID"],
        References=ack["Message-ID"],
    )
    await asyncio.to_thread(send, port, reply)
    await settle(gateway)
    assert len(await cases(gateway)) == 1
    async with gateway.ctx.db.session() as s:
        texts = list(
            (
                await s.execute(
                    select(Message.text)
                    .where(Message.case_id == case.id, Message.direction == "in")
                    .order_by(Message.id)
                )
            ).scalars()
        )
    assert texts[-1] == "مدارک را پیوست کردم."  # quote trimmed from the follow-up


async def test_unknown_recipient_is_550(gateway: EmailPlugin) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        await asyncio.to_thread(send, gateway.smtp.port, mail("x", "y", to="nobody@example.ir"))
    assert e.value.recipients["nobody@example.ir"][0] == 550


async def test_oversize_is_552(gateway: EmailPlugin) -> None:
    big = mail("big", "x" * 300_000)
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as e:
        await asyncio.to_thread(send, gateway.smtp.port, big)
    assert e.value.smtp_code == 552


async def test_smtputf8_address_and_8bit_body(gateway: EmailPlugin) -> None:
    raw = (
        "From: علی <ali@مثال.ایران>\r\nTo: feedback@example.ir\r\nSubject: سلام\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "متن ۸ بیتی بدون کدگذاری\r\n"
    ).encode()

    def go() -> None:
        with smtplib.SMTP("127.0.0.1", gateway.smtp.port, timeout=10) as c:
            c.ehlo()
            assert c.has_extn("smtputf8") and c.has_extn("8bitmime")
            c.sendmail("ali@مثال.ایران", ["feedback@example.ir"], raw, mail_options=["SMTPUTF8", "BODY=8BITMIME"])

    await asyncio.to_thread(go)
    await settle(gateway)
    [case] = await cases(gateway)
    assert case.contact == "ali@مثال.ایران" and case.subject == "سلام"


async def test_alias_implies_kind(gateway: EmailPlugin) -> None:
    await asyncio.to_thread(
        send,
        gateway.smtp.port,
        mail("موضوع", "متن پیام", to="complaints@example.ir"),
    )
    await settle(gateway)
    [case] = await cases(gateway)
    assert case.kind == "complaint"


async def test_database_away_is_451_and_nothing_acknowledged_is_lost(gateway: EmailPlugin) -> None:
    real = core_spool._insert

    def broken(*a: Any, **k: Any) -> list[bool]:
        raise OSError("database is away")

    core_spool._insert = broken  # type: ignore[assignment]
    try:
        with pytest.raises(smtplib.SMTPDataError) as e:
            await asyncio.to_thread(send, gateway.smtp.port, mail("a", "b"))
    finally:
        core_spool._insert = real
    assert e.value.smtp_code == 451
    await asyncio.to_thread(send, gateway.smtp.port, mail("a", "متن"))
    await settle(gateway)
    assert len(await cases(gateway)) == 1


async def test_spooled_mail_survives_a_restart(make_config: Callable[..., Config]) -> None:
    """Accepted (250) but not yet parsed when the process stops: the next process parses it."""
    config = make_config(email={"smtp": {"port": 0}})
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        plugin.drainer.run_once = lambda *a: asyncio.sleep(0, 0)  # type: ignore[assignment,method-assign]
        await plugin.start()
        await asyncio.to_thread(send, plugin.smtp.port, mail("پیش از خاموشی", "متن"))
        await plugin.stop()
        async with ctx.db.session() as s:
            assert await s.scalar(select(func.count()).select_from(Case)) == 0
            assert (
                await s.scalar(select(func.count()).select_from(InboundSpool).where(InboundSpool.status == "pending"))
                == 1
            )
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        assert await plugin.drainer.run_once() == 1
        assert await plugin.drainer.run_once() == 0
        async with ctx.db.session() as s:
            assert await s.scalar(select(func.count()).select_from(Case)) == 1
            assert await s.scalar(select(func.count()).select_from(Outbox)) == 1


async def test_direct_mode_commits_before_250(make_config: Callable[..., Config]) -> None:
    config = make_config(email={"smtp": {"port": 0, "mode": "direct"}})
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        await plugin.start()
        try:
            await asyncio.to_thread(send, plugin.smtp.port, mail("مستقیم", "متن"))
            async with ctx.db.session() as s:  # no drain: the case is there at 250 already
                assert await s.scalar(select(func.count()).select_from(Case)) == 1
        finally:
            await plugin.stop()
