"""Case tables per provider webhook: request in, expected HTTP reply, expected effect.

Every test runs twice: ``spool`` (``sms.spool_first``, the default: the 200 "stored" comes
after the spool commit and the drainer makes the case) and ``direct`` (intake before the
200).  For ``spool``, :func:`outcome` waits until the drainer has settled the request and
reads what intake made of it from its ledger, so both modes check the same outcomes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from gateway.channels.sms import SmsPlugin, create
from gateway.channels.sms.limits import FLOOD_KEY
from gateway.channels.sms.providers.generic import SIGNATURE_HEADER, sign
from gateway.core.context import GatewayContext
from gateway.core.models import Case, InboundKey, InboundSpool, Message, Outbox
from gateway.core.outbox import queue_outbound
from gateway.core.runtime import running_context
from gateway.web.app import create_app
from tests.peers import eventually

SECRET = "generic-test-secret"
LONG = ("سلام " * 2100)[:10240]  # 10 KB of text
EMOJI = "خیابان ما چاله دارد 😡🚧 لطفا رسیدگی کنید"
MIXED = "Complaint: اتوبوس line 12 دیر می‌آید، ۳ روز است"


@pytest.fixture(params=[pytest.param(True, id="spool"), pytest.param(False, id="direct")])
def make_config(request: pytest.FixtureRequest, make_config: Callable[..., Any]) -> Callable[..., Any]:
    """The shared factory, with ``sms.spool_first`` set by the test's mode."""

    def build(**over: Any) -> Any:
        return make_config(**{**over, "sms": {"spool_first": request.param, **over.get("sms", {})}})

    return build


@dataclass
class Gw:
    ctx: GatewayContext
    plugin: SmsPlugin
    client: TestClient


@asynccontextmanager
async def gateway(make_config: Callable[..., Any], **sms: Any) -> AsyncIterator[Gw]:
    config = make_config(sms=sms)
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        assert plugin is not None
        async with TestClient(TestServer(create_app(ctx, [plugin.routes()]))) as client:
            await plugin.start()
            try:
                yield Gw(ctx, plugin, client)
            finally:
                await plugin.stop()


async def outcome(gw: Gw, status: int, word: str, source: str, external_id: str) -> tuple[int, str]:
    """The reply, with a spooled request's "stored" replaced by what intake made of it once
    the drainer settled its row (a skipped row is one dropped by the rate limit)."""
    if (status, word) != (200, "stored"):
        return status, word
    assert gw.ctx.config.sms.spool_first
    for _ in range(400):  # waits for the drainer task, not a speed test
        async with gw.ctx.db.session() as s:
            row = (
                await s.execute(
                    select(InboundSpool).where(InboundSpool.source == source, InboundSpool.external_id == external_id)
                )
            ).scalar_one()
            if row.status == "processed":
                return 200, (
                    await s.execute(
                        select(InboundKey.outcome).where(
                            InboundKey.provider == source, InboundKey.external_id == external_id
                        )
                    )
                ).scalar_one()
        if row.status != "pending":
            assert row.status == "skipped", row.error
            return 200, "rate_limited"
        await asyncio.sleep(0.05)
    raise AssertionError(f"spool row {external_id} never settled")


async def kannel_get(gw: Gw, url: str) -> tuple[int, str]:
    r = await gw.client.get(url)
    ext = dict(p.split("=", 1) for p in url.split("?", 1)[-1].split("&") if "=" in p).get("id", "")
    return await outcome(gw, r.status, await r.text(), "kannel", ext)


async def messages(ctx: GatewayContext) -> list[Message]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(Message).where(Message.direction == "in").order_by(Message.id))).scalars())


def kannel_mo(text: str | bytes = "شکایت از تاخیر", charset: str = "UTF-8", **over: str | None) -> str:
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    fields: dict[str, str | None] = {
        "from": "09121234567",
        "to": "30001234",
        "id": "k-1",
        "ts": "1732000000",
        "smsc": "FAKE",
        "coding": "0",
        "charset": charset,
        **over,
    }
    query = "&".join(f"{k}={quote_from_bytes(v.encode())}" for k, v in fields.items() if v is not None)
    return f"/sms/kannel/mo?{query}&text={quote_from_bytes(data)}"


KANNEL_MO_CASES = [
    pytest.param(kannel_mo(), 200, "created", "شکایت از تاخیر", id="persian-utf8"),
    pytest.param(
        kannel_mo("درخواست نور".encode("utf-16-be"), charset="UTF-16BE"), 200, "created", "درخواست نور", id="ucs2-bytes"
    ),
    pytest.param(kannel_mo(id=None), 400, None, None, id="missing-id"),
    pytest.param(kannel_mo(**{"from": None}), 400, None, None, id="missing-from"),
    pytest.param(kannel_mo(**{"from": "abc"}), 400, None, None, id="sender-not-a-number"),
    pytest.param(kannel_mo(LONG), 400, None, None, id="10kb-text-too-long-for-a-url"),
    pytest.param(kannel_mo(EMOJI), 200, "created", EMOJI, id="emoji"),
    pytest.param(kannel_mo(MIXED), 200, "created", MIXED, id="mixed-scripts"),
    pytest.param(kannel_mo(b"\xff\xfe garbage \xc3"), 200, "created", None, id="garbage-bytes"),
    pytest.param(kannel_mo(""), 200, "rejected", None, id="empty-gets-help"),
    pytest.param("/sms/kannel/mo", 400, None, None, id="no-query"),
]


@pytest.mark.parametrize("url, status, result, stored", KANNEL_MO_CASES)
async def test_kannel_mo(
    make_config: Callable[..., Any], url: str, status: int, result: str | None, stored: str | None
) -> None:
    async with gateway(make_config, provider="kannel") as gw:
        got_status, got_result = await kannel_get(gw, url)
        assert got_status == status
        if result is not None:
            assert got_result == result
        got = await messages(gw.ctx)
        assert len(got) == (1 if result == "created" else 0)
        if stored is not None:
            assert got[0].text == stored and got[0].sender == "+989121234567"


async def test_kannel_post_url_takes_10kb_text(make_config: Callable[..., Any]) -> None:
    async with gateway(make_config, provider="kannel") as gw:
        url = kannel_mo("").split("&text=")[0]
        r = await gw.client.post(url, data=LONG.encode(), headers={"Content-Type": 'text/plain; charset="UTF-8"'})
        assert await outcome(gw, r.status, await r.text(), "kannel", "k-1") == (200, "created")
        [msg] = await messages(gw.ctx)
        assert msg.text == LONG.strip()


async def test_kannel_mo_retry_with_same_id_is_one_case(make_config: Callable[..., Any]) -> None:
    async with gateway(make_config, provider="kannel") as gw:
        assert await kannel_get(gw, kannel_mo()) == (200, "created")
        assert await kannel_get(gw, kannel_mo()) == (200, "duplicate")
        assert len(await messages(gw.ctx)) == 1


async def test_kannel_mo_token(make_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_MO_TOKEN", "t0ken")
    async with gateway(make_config, provider="kannel", kannel={"callback_token_env": "GW_TEST_MO_TOKEN"}) as gw:
        assert (await gw.client.get(kannel_mo())).status == 401
        assert (await gw.client.get(kannel_mo(token="wrong"))).status == 401
        assert (await gw.client.get(kannel_mo(token="t0ken"))).status == 200


async def queue_sms(ctx: GatewayContext) -> int:
    async with ctx.db.session() as s:
        row = await queue_outbound(
            s, channel="sms", purpose="ack", recipient="+989121234567", text="x", key=ctx.new_key("sms")
        )
        row.status = "sent"
        return row.id


@pytest.mark.parametrize(
    "sequence, final, replies",
    [
        pytest.param(["8", "1"], "delivered", ["ok", "ok"], id="accepted-then-delivered"),
        pytest.param(["1", "8"], "delivered", ["ok", "ok"], id="out-of-order"),
        pytest.param(["16"], "failed", ["ok"], id="smsc-rejected"),
        pytest.param(["2", "1"], "failed", ["ok", "ok"], id="failed-is-final"),
        pytest.param(["99"], "sent", ["ignored"], id="unknown-status-word"),
    ],
)
async def test_kannel_dlr(make_config: Callable[..., Any], sequence: list[str], final: str, replies: list[str]) -> None:
    async with gateway(make_config, provider="kannel") as gw:
        out = await queue_sms(gw.ctx)
        url = gw.plugin.transport.dlr_url(out).split("/sms/", 1)[1].split("&status=")[0]
        for code, expected in zip(sequence, replies):
            r = await gw.client.get(f"/sms/{url}&status={code}&id=abc&ts=1")
            assert (r.status, await r.text()) == (200, expected)
        assert (await gw.ctx.state.outbox_row(out))["status"] == final


@pytest.mark.parametrize(
    "query, status, result",
    [
        pytest.param("out=1&sig=forged&status=1", 401, "bad signature", id="bad-signature"),
        pytest.param("out=abc&sig=x&status=1", 401, "bad signature", id="garbage-id"),
        pytest.param("status=1", 401, "bad signature", id="missing-out"),
    ],
)
async def test_kannel_dlr_refused(make_config: Callable[..., Any], query: str, status: int, result: str) -> None:
    async with gateway(make_config, provider="kannel") as gw:
        r = await gw.client.get(f"/sms/kannel/dlr?{query}")
        assert (r.status, await r.text()) == (status, result)


async def test_kannel_dlr_unknown_outbox_id(make_config: Callable[..., Any]) -> None:
    async with gateway(make_config, provider="kannel") as gw:
        url = gw.plugin.transport.dlr_url(4242).split("/sms/", 1)[1].split("&status=")[0]
        r = await gw.client.get(f"/sms/{url}&status=1")
        assert (r.status, await r.text()) == (200, "unknown")
        r = await gw.client.get(f"/sms/{url}")
        assert r.status == 400


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"}


def payload(**over: Any) -> bytes:
    data = {
        "id": "g-100",
        "from": "00989121234567",
        "to": "30001234",
        "text": "انتقاد از برخورد کارمند",
        "time": 1732000000,
        **over,
    }
    return json.dumps({k: v for k, v in data.items() if v is not None}, ensure_ascii=False).encode()


GENERIC_CASES = [
    pytest.param(payload(), signed(payload()), 200, "created", id="signed"),
    pytest.param(
        payload(),
        {SIGNATURE_HEADER: sign(SECRET, payload()).removeprefix("sha256=")},
        200,
        "created",
        id="signed-without-prefix",
    ),
    pytest.param(payload(), signed(payload(), "other-secret"), 401, "bad signature", id="bad-signature"),
    pytest.param(payload(), {}, 401, "bad signature", id="no-signature"),
    pytest.param(payload(text="دستکاری"), signed(payload()), 401, "bad signature", id="body-tampered"),
    pytest.param(payload(id=None), signed(payload(id=None)), 400, "missing field id", id="missing-id"),
    pytest.param(
        payload(**{"from": None}), signed(payload(**{"from": None})), 400, "missing field from", id="missing-from"
    ),
    pytest.param(payload(text=None), signed(payload(text=None)), 400, "missing field text", id="missing-text"),
    pytest.param(
        payload(**{"from": "x"}), signed(payload(**{"from": "x"})), 400, "sender is not a phone number", id="bad-from"
    ),
    pytest.param(b"\x00garbage{", signed(b"\x00garbage{"), 400, "not JSON", id="garbage"),
    pytest.param(b"[1,2]", signed(b"[1,2]"), 400, "body must be a JSON object", id="json-array"),
    pytest.param(payload(text=LONG), signed(payload(text=LONG)), 200, "created", id="10kb-text"),
    pytest.param(payload(text=EMOJI), signed(payload(text=EMOJI)), 200, "created", id="emoji"),
    pytest.param(payload(text=MIXED), signed(payload(text=MIXED)), 200, "created", id="mixed-scripts"),
    pytest.param(payload(text=""), signed(payload(text="")), 200, "rejected", id="empty-text"),
]


@pytest.mark.parametrize("body, headers, status, result", GENERIC_CASES)
async def test_generic_inbound(
    make_config: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    body: bytes,
    headers: dict[str, str],
    status: int,
    result: str,
) -> None:
    monkeypatch.setenv("GW_TEST_SMS_SECRET", SECRET)
    async with gateway(make_config, provider="generic", generic={"secret_env": "GW_TEST_SMS_SECRET"}) as gw:
        r = await gw.client.post("/sms/generic/inbound", data=body, headers=headers)
        got = await outcome(gw, r.status, (await r.json())["result"], "generic", "g-100")
        assert got == (status, result)
        assert len(await messages(gw.ctx)) == (1 if result == "created" else 0)


async def test_generic_refuses_everything_without_a_secret(make_config: Callable[..., Any]) -> None:
    async with gateway(make_config, provider="generic", generic={"secret_env": "GW_TEST_UNSET_SECRET"}) as gw:
        r = await gw.client.post("/sms/generic/inbound", data=payload(), headers=signed(payload(), ""))
        assert r.status == 401


async def test_generic_parts_are_reassembled_by_udh(
    make_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TEST_SMS_SECRET", SECRET)
    async with gateway(make_config, provider="generic", generic={"secret_env": "GW_TEST_SMS_SECRET"}) as gw:
        second = payload(id="p-2", text="ادامه متن", udh="0500037F0202")
        first = payload(id="p-1", text="شکایت: آغاز متن و ", udh="0500037F0201")
        results = []
        for body in (second, first, second):  # out of order, then a late retry of a part
            r = await gw.client.post("/sms/generic/inbound", data=body, headers=signed(body))
            results.append(await outcome(gw, r.status, (await r.json())["result"], "generic", "concat:p-1"))
        assert results == [(200, "part_stored"), (200, "created"), (200, "part_stored")]
        [msg] = await messages(gw.ctx)
        assert msg.text == "شکایت: آغاز متن و ادامه متن" and msg.external_id == "concat:p-1"


@pytest.mark.parametrize(
    "data, status, result, final",
    [
        pytest.param({"outbox_id": "OUT", "status": "delivered"}, 200, "ok", "delivered", id="by-outbox-id"),
        pytest.param({"id": "prov-1", "status": "DELIVERED"}, 200, "ok", "delivered", id="by-provider-id"),
        pytest.param({"id": "nope", "status": "delivered"}, 200, "unknown", "sent", id="unknown-provider-id"),
        pytest.param({"outbox_id": "OUT", "status": "exploded"}, 200, "ignored", "sent", id="unknown-word"),
        pytest.param({"outbox_id": "OUT", "status": "failed"}, 200, "ok", "failed", id="failed"),
        pytest.param({"status": "delivered"}, 400, "missing field id or outbox_id", "sent", id="missing-id"),
        pytest.param({"id": "prov-1"}, 400, "missing field status", "sent", id="missing-status"),
    ],
)
async def test_generic_status(
    make_config: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    data: dict[str, Any],
    status: int,
    result: str,
    final: str,
) -> None:
    monkeypatch.setenv("GW_TEST_SMS_SECRET", SECRET)
    async with gateway(make_config, provider="generic", generic={"secret_env": "GW_TEST_SMS_SECRET"}) as gw:
        out = await queue_sms(gw.ctx)
        async with gw.ctx.db.session() as s:
            (await s.get(Outbox, out)).provider_id = "prov-1"
        body = json.dumps({k: out if v == "OUT" else v for k, v in data.items()}).encode()
        r = await gw.client.post("/sms/generic/status", data=body, headers=signed(body))
        assert (r.status, (await r.json())["result"]) == (status, result)
        assert (await gw.ctx.state.outbox_row(out))["status"] == final


@pytest.mark.parametrize(
    "method, fields, status, result",
    [
        pytest.param(
            "GET",
            {"messageid": "kv-1", "from": "09121234567", "to": "30001234", "message": "درخواست"},
            200,
            "created",
            id="get",
        ),
        pytest.param(
            "POST",
            {"messageid": "kv-1", "from": "09121234567", "to": "30001234", "message": EMOJI},
            200,
            "created",
            id="post-emoji",
        ),
        pytest.param("GET", {"from": "09121234567", "message": "x"}, 400, None, id="missing-id"),
        pytest.param("GET", {"messageid": "kv-1", "message": "x"}, 400, None, id="missing-from"),
        pytest.param("GET", {"messageid": "kv-1", "from": "??", "message": "x"}, 400, None, id="bad-from"),
    ],
)
async def test_kavenegar_forward(
    make_config: Callable[..., Any], method: str, fields: dict[str, str], status: int, result: str | None
) -> None:
    async with gateway(make_config, provider="kavenegar", kavenegar={"api_url": "http://127.0.0.1:9"}) as gw:
        if method == "GET":
            r = await gw.client.get("/sms/kavenegar/inbound", params=fields)
        else:
            r = await gw.client.post("/sms/kavenegar/inbound", data=fields)
        got = await outcome(gw, r.status, await r.text(), "kavenegar", fields.get("messageid", ""))
        assert got[0] == status
        if result:
            assert got[1] == result


async def test_flood_of_new_cases_is_dropped_and_reported(make_config: Callable[..., Any]) -> None:
    async with gateway(make_config, provider="kannel", new_cases_per_hour=2, follow_up_window_hours=0) as gw:
        results = [(await kannel_get(gw, kannel_mo(f"پیام شماره {i}", id=f"f-{i}")))[1] for i in range(4)]
        assert results == ["created", "created", "rate_limited", "rate_limited"]
        async with gw.ctx.db.session() as s:
            assert len(list((await s.execute(select(Case))).scalars())) == 2
        report = await gw.ctx.state.get(FLOOD_KEY)
        assert report is not None and report["+989121234567"]["kind"] == "new_cases"


async def outbox_purposes(ctx: GatewayContext) -> list[str]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(Outbox.purpose).order_by(Outbox.id))).scalars())


async def test_text_semantics_end_to_end(make_config: Callable[..., Any]) -> None:
    """New case, follow-up from the same number, empty text, status query, survey digits."""
    from gateway.core.surveys import create_invitation

    async with gateway(make_config, provider="kannel") as gw:

        async def get(text: str, i: int) -> str:
            return (await kannel_get(gw, kannel_mo(text, id=f"s-{i}")))[1]

        assert await get("درخواست تعمیر چراغ کوچه", 1) == "created"
        assert await get("چراغ هنوز خاموش است", 2) == "appended"
        assert await get("", 3) == "rejected"
        async with gw.ctx.db.session() as s:
            case = (await s.execute(select(Case))).scalar_one()
            code = case.code
            case.status = "answered"
            await create_invitation(s, gw.ctx, case)
        assert await get(code, 4) == "status"
        assert await get("۵ ۴ ۵ ۴ ۲", 5) == "survey"
        assert await outbox_purposes(gw.ctx) == ["ack", "help", "status", "survey_thanks"]
        bad = code[:9] + str((int(code[9]) + 1) % 10)
        assert await get(bad, 6) == "rejected"
        assert (await outbox_purposes(gw.ctx))[-1] == "check_code"


async def test_direct_mode_parks_a_text_that_hits_a_bug_and_the_drainer_replays_it(
    make_config: Callable[..., Any],
) -> None:
    """spool_first = false: an unexpected intake error keeps the raw text in the spool and
    answers 200 "parked" (the provider must not retry into the bug); the spool's drainer
    then makes the case."""
    async with gateway(make_config, provider="kannel", spool_first=False) as gw:
        real, calls = gw.ctx.intake.submit, []

        async def fails_once(message: Any) -> Any:
            calls.append(message)
            if len(calls) == 1:
                raise RuntimeError("a bug in intake")
            return await real(message)

        gw.ctx.intake.submit = fails_once  # type: ignore[method-assign]
        r = await gw.client.get(kannel_mo(id="park-1"))
        assert (r.status, await r.text()) == (200, "parked")
        await eventually(lambda: messages(gw.ctx), "the parked text became a case")
        [message] = await messages(gw.ctx)
        assert message.external_id == "park-1" and len(calls) == 2
