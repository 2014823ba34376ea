"""Issue 18 over the real SMTP server (aiosmtpd, smtplib as the client, acknowledgements relayed
to a real SMTP sink): robots get no acknowledgement (item 1), the help reply threads (item 5),
a retry of a mail without Message-ID is one case (item 6), long lines are taken (item 8),
and the event loop keeps answering /healthz and SMTP while a heavy mail is parsed (item 7).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import smtplib
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import select

from gateway.channels.email import EmailPlugin, create, worker
from gateway.core.config import Config
from gateway.core.models import Case, Message, Outbox
from gateway.core.runtime import running_context
from gateway.web.app import app_runner, create_app
from tests.peers import free_port
from tests.peers.smtp_sink import SmtpSink
from tests.test_email_hardening import CASES, HARDENING, make_hardening

ENVELOPE_FROM = "relay-user@example.net"  # not the null sender: the headers must tell


def send_raw(port: int, raw: bytes, helo: str = "client.example.net") -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=30) as c:
        return c.sendmail(ENVELOPE_FROM, ["feedback@example.ir"], raw)


@pytest_asyncio.fixture
async def gateway(make_config: Callable[..., Config], sink: SmtpSink) -> AsyncIterator[EmailPlugin]:
    config = make_config(
        email={"smtp": {"port": 0, "max_line_bytes": 20_000}, "outbound": {"host": "127.0.0.1", "port": sink.port}}
    )
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        await plugin.start()
        await plugin.drainer.stop()  # the tests drain themselves, at the moments they choose
        yield plugin
        await plugin.stop()


async def settle(plugin: EmailPlugin) -> None:
    """Parse what is spooled and send what is queued (the background tasks would, soon)."""
    while await plugin.drainer.run_once():
        pass
    while await plugin.ctx.dispatcher.run_once():
        pass


async def test_robots_get_no_acknowledgement_over_smtp(gateway: EmailPlugin, sink: SmtpSink) -> None:
    robots = sorted(n for n, e in CASES.items() if e.automatic)
    people = ["person_admin_address", "person_subject_mentions_auto_reply"]
    for name in robots + people:
        await asyncio.to_thread(send_raw, gateway.smtp.port, (HARDENING / f"{name}.eml").read_bytes())
    await settle(gateway)
    await sink.wait_for(len(people))
    await asyncio.sleep(0.2)  # anything more would have arrived by now
    answered = sorted(m["To"] for m in sink.messages)
    assert answered == ["admin@school.example.ir", "citizen@example.org"]
    async with gateway.ctx.db.session() as s:
        assert len(list((await s.execute(select(Case))).scalars())) == len(people)
        stored = list((await s.execute(select(Message).where(Message.direction == "in"))).scalars())
    assert len(stored) == len(people)  # the robots' mail opened no case (and threads to none)


async def test_help_reply_threads_and_has_a_subject(gateway: EmailPlugin, sink: SmtpSink) -> None:
    await asyncio.to_thread(send_raw, gateway.smtp.port, (HARDENING / "nothing_at_all.eml").read_bytes())
    await settle(gateway)
    [reply] = await sink.wait_for(1)
    assert reply["To"] == "citizen@example.org" and reply["Subject"] == "پاسخ سامانهٔ پیام‌های مردمی"
    assert reply["In-Reply-To"] == "<empty@example.org>" and reply["References"] == "<empty@example.org>"
    assert reply["Auto-Submitted"] == "auto-replied"


async def test_retry_without_message_id_is_one_case(gateway: EmailPlugin) -> None:
    """Item 6: the retry comes later (our Received: line differs) and from another relay host."""
    raw = b"From: citizen@example.org\r\nTo: feedback@example.ir\r\nSubject: x\r\n\r\nno message id here\r\n"
    await asyncio.to_thread(send_raw, gateway.smtp.port, raw, "mx1.example.net")
    await asyncio.to_thread(send_raw, gateway.smtp.port, raw, "mx2.example.net")
    await settle(gateway)
    async with gateway.ctx.db.session() as s:
        assert len(list((await s.execute(select(Case))).scalars())) == 1
        assert len(list((await s.execute(select(Outbox))).scalars())) == 1


async def test_long_lines_are_taken_up_to_the_limit(gateway: EmailPlugin) -> None:
    """Item 8: a 10,000-byte line is relayed mail like any other; past max_line_bytes, 500."""
    raw = (HARDENING / "long_line.eml").read_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) > 10_000
    await asyncio.to_thread(send_raw, gateway.smtp.port, raw)
    await settle(gateway)
    async with gateway.ctx.db.session() as s:
        [case] = list((await s.execute(select(Case))).scalars())
        text = (
            await s.execute(select(Message.text).where(Message.case_id == case.id, Message.direction == "in"))
        ).scalar_one()
    assert text.endswith("پایان")
    too_long = raw.replace(b"\xd9\xbe\xd8\xa7\xdb\x8c\xd8\xa7\xd9\x86", b"x" * 25_000)
    with pytest.raises(smtplib.SMTPDataError) as e:
        await asyncio.to_thread(send_raw, gateway.smtp.port, too_long)
    assert e.value.smtp_code == 500


def hold_parsing(flags: str) -> None:
    """Worker-process initializer: each parse, once done, says so and waits for "release"."""
    from gateway.channels.email import parse

    real = parse.parse_mail

    def held(*args: Any) -> Any:
        mail = real(*args)
        Path(flags, "started").write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while not Path(flags, "release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return mail

    parse.parse_mail = held


def wait_for_file(path: Path) -> bool:
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return path.exists()


async def test_loop_answers_while_a_heavy_mail_is_parsed(
    gateway: EmailPlugin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 7: the parse of a heavy mail is held (in the parser process) while /healthz and
    SMTP are asked; a parse on the event loop would block both until released, and this test
    would fail."""
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=hold_parsing,
        initargs=(str(tmp_path),),
    )
    monkeypatch.setattr(worker, "_pool", pool)
    port = free_port()
    runner = app_runner(create_app(gateway.ctx))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.to_thread(send_raw, gateway.smtp.port, make_hardening.heavy_mail(parts=3000))
        drained = asyncio.create_task(gateway.drainer.run_once())
        assert await asyncio.to_thread(wait_for_file, tmp_path / "started")
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", timeout=aiohttp.ClientTimeout(total=20)) as http:
            for _ in range(20):
                async with http.get("/healthz") as r:
                    assert r.status == 200
        noop = await asyncio.to_thread(_noop, gateway.smtp.port)
        assert noop == 250 and not drained.done()
        (tmp_path / "release").touch()
        assert await drained == 1
    finally:
        (tmp_path / "release").touch()
        await runner.cleanup()
        pool.shutdown(wait=True)
    assert int((tmp_path / "started").read_text()) != os.getpid()  # parsed in another process
    async with gateway.ctx.db.session() as s:
        message = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
    assert message.meta["kept_whole"] == "too_many_parts"


async def test_a_dying_parser_process_keeps_the_mail_whole(
    gateway: EmailPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parser process that dies (twice) costs no mail: it is kept whole, as a case."""
    monkeypatch.setattr(
        worker,
        "new_pool",
        lambda: ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=os._exit, initargs=(3,)
        ),
    )
    monkeypatch.setattr(worker, "_pool", None)
    await asyncio.to_thread(send_raw, gateway.smtp.port, (HARDENING / "subject_only.eml").read_bytes())
    assert await gateway.drainer.run_once() == 1
    async with gateway.ctx.db.session() as s:
        message = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
        case = await s.get(Case, message.case_id)
    assert message.meta["kept_whole"] == "parser_died" and case.subject == "چراغ راهنمایی چهارراه خراب است"
    monkeypatch.setattr(worker, "_pool", None)


def _noop(port: int) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as c:
        return c.noop()[0]
