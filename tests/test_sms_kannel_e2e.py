"""End to end with a real Kannel (bearerbox, smsbox, fakesmsc) on loopback.

A Persian SMS goes in through fakesmsc -> bearerbox -> smsbox -> our get-url; the case is
committed; the acknowledgement goes out through sendsms as UCS-2 and reaches fakesmsc;
the DLR marks it delivered.  Also: a 503 answered callback retried by Kannel makes one
case; a status query by code; a staff answer longer than one SMS arrives in parts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import func, select

from gateway.channels.sms import SmsPlugin, create
from gateway.channels.sms.segments import measure
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.models import Case, Outbox
from gateway.core.outbox import queue_outbound
from gateway.core.runtime import running_context
from gateway.core.text import to_persian_digits
from gateway.web.app import create_app
from tests.peers import eventually, free_port
from tests.peers.kannel import KannelPeer, ReceivedMt

CITIZEN = "09121234567"
CITIZEN_E164 = "+989121234567"
SHORT_CODE = "30001234"
CALLBACK_SECRET = "e2e-callback-secret-4Tq"

# Kannel retries a refused callback after http-queue-delay and runs three processes of its
# own: on a loaded CI machine its round trips can take many seconds (not a speed test).
KANNEL_WAIT = 90.0


@dataclass
class Rig:
    ctx: GatewayContext
    plugin: SmsPlugin
    kannel: KannelPeer


@pytest_asyncio.fixture
async def rig(
    make_config: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[Rig]:
    """Kannel and the gateway; ``spool_first`` unless the test passes False indirectly."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    kannel_dir = tmp_path / "kannel"
    kannel_dir.mkdir()
    # Kannel authenticates its callbacks the way README "SMS" says: the secret as the
    # password of the get-url (Kannel sends it as Basic auth); the dlr-url gets it from us
    peer = KannelPeer(kannel_dir, f"http://kannel:{CALLBACK_SECRET}@127.0.0.1:{port}")
    monkeypatch.setenv("GW_TEST_KANNEL_PASSWORD", peer.password)
    monkeypatch.setenv("GW_TEST_KANNEL_CALLBACK", CALLBACK_SECRET)
    config = make_config(
        sms={
            "provider": "kannel",
            "numbers": [SHORT_CODE],
            "max_parts": 3,
            "spool_first": getattr(request, "param", True),
            "kannel": {
                "sendsms_url": peer.sendsms_url,
                "username": "gateway",
                "password_env": "GW_TEST_KANNEL_PASSWORD",
                "callback_token_env": "GW_TEST_KANNEL_CALLBACK",
                "sender": SHORT_CODE,
                "callback_base_url": base,
            },
        }
    )
    async with running_context(config, migrate=False, dispatch=True) as ctx:
        plugin = create(ctx)
        assert plugin is not None
        runner = web.AppRunner(create_app(ctx, [plugin.routes()]), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            await plugin.start()
            await peer.start()
            yield Rig(ctx, plugin, peer)
        finally:
            await peer.stop()
            await plugin.stop()
            await runner.cleanup()


async def cases(ctx: GatewayContext) -> list[Case]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(Case).order_by(Case.id))).scalars())


async def mts_for(peer: KannelPeer, count: int) -> list[ReceivedMt]:
    return [await peer.next_mt() for _ in range(count)]


async def test_persian_sms_makes_a_case_and_a_ucs2_ack_that_is_delivered(rig: Rig) -> None:
    await rig.kannel.send_mo(CITIZEN, SHORT_CODE, "شکایت درباره آسفالت خیابان ۱۲")
    [case] = await eventually(lambda: cases(rig.ctx), "a case from Kannel", limit=KANNEL_WAIT)
    assert (case.contact, case.kind, case.channel) == (CITIZEN_E164, "complaint", "sms")
    ack = await rig.kannel.next_mt()
    parts = [ack] if ack.kind == "ucs-2" else [ack, *await mts_for(rig.kannel, ack.udh[4] - 1)]
    assert all(p.kind in ("ucs-2", "udh") for p in parts)
    text = "".join(p.text for p in parts)
    assert to_persian_digits(case.code) in text and text.startswith("پیام شما ثبت شد")
    assert parts[0].receiver == CITIZEN_E164 and parts[0].sender == SHORT_CODE
    async with rig.ctx.db.session() as s:
        queued = (await s.execute(select(Outbox.text).where(Outbox.purpose == "ack"))).scalar_one()
    assert text == queued  # exactly the Persian text we queued, decoded from UCS-2

    async def delivered() -> bool:
        async with rig.ctx.db.session() as s:
            row = (await s.execute(select(Outbox).where(Outbox.purpose == "ack"))).scalar_one()
            return row.status == "delivered"

    assert await eventually(delivered, "the delivery report", limit=KANNEL_WAIT)


@pytest.mark.parametrize("rig", [pytest.param(True, id="spool"), pytest.param(False, id="direct")], indirect=True)
async def test_callback_answered_503_once_is_retried_into_one_case(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first commit before the 200 fails (the spool's, or intake's on the direct path)."""
    spool_first = rig.ctx.config.sms.spool_first
    target, name = (rig.plugin.inbound.spool, "put") if spool_first else (rig.ctx.intake, "submit")
    real = getattr(target, name)
    calls: list[str | None] = []

    async def flaky(*args: Any) -> Any:
        calls.append(args[2] if spool_first else args[0].external_id)
        if len(calls) == 1:
            raise DatabaseUnavailable("test: database down once")
        return await real(*args)

    monkeypatch.setattr(target, name, flaky)
    await rig.kannel.send_mo(CITIZEN, SHORT_CODE, "پیشنهاد: ایستگاه اتوبوس بیشتر")
    [case] = await eventually(lambda: cases(rig.ctx), "a case from Kannel", limit=KANNEL_WAIT)
    assert case.kind == "suggestion"
    assert len(calls) == 2 and calls[0] == calls[1]  # Kannel retried with the same %I
    await rig.kannel.next_mt()  # the one acknowledgement
    async with rig.ctx.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Outbox))).scalar_one() == 1


async def test_status_query_by_code_and_a_multipart_answer(rig: Rig) -> None:
    await rig.kannel.send_mo(CITIZEN, SHORT_CODE, "چراغ راهنمایی میدان خاموش است")
    [case] = await eventually(lambda: cases(rig.ctx), "a case from Kannel", limit=KANNEL_WAIT)
    ack = await rig.kannel.next_mt()
    await mts_for(rig.kannel, ack.udh[4] - 1 if ack.kind == "udh" else 0)

    spaced = to_persian_digits(f"{case.code[:3]} {case.code[3:6]} {case.code[6:]}")
    await rig.kannel.send_mo(CITIZEN, SHORT_CODE, spaced)
    first = await rig.kannel.next_mt()
    status = [first, *await mts_for(rig.kannel, first.udh[4] - 1 if first.kind == "udh" else 0)]
    assert "در حال بررسی" in "".join(p.text for p in status)
    assert len(await cases(rig.ctx)) == 1

    answer = "شهروند گرامی، " + " ".join(["درخواست شما بررسی شد و گروه فنی برای تعمیر اعزام می‌شود"] * 6)
    async with rig.ctx.db.session() as s:
        row_case = await s.get(Case, case.id)
        await queue_outbound(
            s,
            channel="sms",
            purpose="answer",
            recipient=CITIZEN_E164,
            text=answer,
            key=rig.ctx.new_key("sms"),
            case=row_case,
        )
    rig.ctx.dispatcher.wake()
    first = await rig.kannel.next_mt()
    assert first.kind == "udh" and first.udh[4] == 3  # max_parts = 3
    parts = [first, *await mts_for(rig.kannel, 2)]
    assert [p.udh[5] for p in parts] == [1, 2, 3]
    text = "".join(p.text for p in parts)
    link = rig.ctx.track_link(case.code)
    assert text.endswith(link) and measure(text).parts == 3
    kept = text[: -len(link)].rstrip("\n…")
    assert answer.startswith(kept) and answer[len(kept)] == " "  # cut between words
