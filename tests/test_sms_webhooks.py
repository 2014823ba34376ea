"""Case tables per provider webhook: request in, expected HTTP reply, expected effect.

Every test runs twice: ``spool`` (``sms.spool_first``, the default: the 200 "stored" comes
after the spool commit and the drainer makes the case) and ``direct`` (intake before the
200).  For ``spool``, :func:`outcome` waits until the drainer has settled the request and
reads what intake made of it from its ledger, so both modes check the same outcomes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from gateway.channels.sms import SmsPlugin, create
from gateway.channels.sms.limits import FLOOD_KEY
from gateway.channels.sms.providers.generic import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers, verify
from gateway.core.config import ConfigError
from gateway.core.context import GatewayContext
from gateway.core.models import Case, InboundKey, InboundSpool, Message, Outbox
from gateway.core.outbox import queue_outbound
from gateway.core.runtime import running_context
from gateway.web.app import create_app
from tests.peers import eventually

SECRET = "generic-test-secret"
TOKEN = "callback-test-token-7Qx"
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


def authenticated(sms: dict[str, Any]) -> dict[str, Any]:
    """The provider's callback secret named in the config, unless the test set its own."""
    out = {
        **sms,
        "kannel": {"callback_token_env": "GW_TEST_CALLBACK_TOKEN", **sms.get("kannel", {})},
        "kavenegar": {"forward_token_env": "GW_TEST_CALLBACK_TOKEN", **sms.get("kavenegar", {})},
    }
    return out


@asynccontextmanager
async def gateway(
    make_config: Callable[..., Any],
    headers: dict[str, str] | None = None,
    web: dict[str, Any] | None = None,
    **sms: Any,
) -> AsyncIterator[Gw]:
    """The SMS plugin on a test server; the client sends the callback secret as Basic auth
    (what Kannel sends for http://kannel:<secret>@host/...) unless ``headers`` says otherwise."""
    config = make_config(sms=authenticated(sms), **({"web": web} if web else {}))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GW_TEST_CALLBACK_TOKEN", TOKEN)  # the webhooks refuse to start without
        async with _started(config, headers) as gw:
            yield gw


@asynccontextmanager
async def _started(config: Any, headers: dict[str, str] | None) -> AsyncIterator[Gw]:
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        assert plugin is not None
        default = {"Authorization": encode_basic_auth("kannel", TOKEN)}
        async with TestClient(
            TestServer(create_app(ctx, [plugin.routes()])), headers=default if headers is None else headers
        ) as client:
            await plugin.start()
            try:
                yield Gw(ctx, plugin, client)
            finally:
                await plugin.stop()


async def outcome(gw: Gw, status: int, word: str, source: str, external_id: str) -> tuple[int, str]:
    """The reply, with "stored" replaced by what intake made of the text: in spool mode once
    the drainer settled its row (a skipped row is one dropped by the rate limit), in direct
    mode at once (the reply came after the commit; no key means the limit dropped it).
    The webhook itself answers "stored" either way, so it never tells if a code exists."""
    if (status, word) != (200, "stored"):
        return status, word
    if not gw.ctx.config.sms.spool_first:
        async with gw.ctx.db.session() as s:
            known = (
                await s.execute(
                    select(InboundKey.outcome).where(
                        InboundKey.provider == source, InboundKey.external_id == external_id
                    )
                )
            ).scalar_one_or_none()
        return 200, known or "rate_limited"
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


def basic(password: str, user: str = "kannel") -> dict[str, str]:
    return {"Authorization": encode_basic_auth(user, password)}


# (sms config over the default token, request headers, query extra) -> HTTP status.
# The test client connects from 127.0.0.1.
KANNEL_AUTH_CASES = [
    pytest.param({}, {}, "", 401, id="no-credentials"),
    pytest.param({}, basic("wrong"), "", 401, id="basic-wrong-secret"),
    pytest.param({}, basic(TOKEN), "", 200, id="basic-right-secret"),
    pytest.param({}, basic(TOKEN, user="anyone"), "", 200, id="basic-any-user-name"),
    pytest.param({}, {"Authorization": "Basic !!!notbase64"}, "", 401, id="basic-garbage"),
    pytest.param({}, {"Authorization": f"Bearer {TOKEN}"}, "", 401, id="bearer-is-not-basic"),
    pytest.param({}, {"X-Gateway-Token": TOKEN}, "", 200, id="token-header"),
    pytest.param({}, {}, f"&token={TOKEN}", 401, id="query-token-not-taken-for-kannel"),
    pytest.param(
        {"allow_from": ["127.0.0.1"], "kannel": {"callback_token_env": ""}}, {}, "", 200, id="allowlisted-address-alone"
    ),
    pytest.param(
        {"allow_from": ["10.0.0.0/8"], "kannel": {"callback_token_env": ""}}, {}, "", 401, id="address-not-in-allowlist"
    ),
    pytest.param({"allow_from": ["10.0.0.0/8"]}, basic(TOKEN), "", 401, id="both-set-address-fails"),
    pytest.param({"allow_from": ["127.0.0.0/8"]}, {}, "", 401, id="both-set-secret-missing"),
    pytest.param({"allow_from": ["127.0.0.0/8", "::1"]}, basic(TOKEN), "", 200, id="both-set-both-hold"),
]


@pytest.mark.parametrize("sms, headers, extra, status", KANNEL_AUTH_CASES)
async def test_kannel_mo_auth(
    make_config: Callable[..., Any], sms: dict[str, Any], headers: dict[str, str], extra: str, status: int
) -> None:
    async with gateway(make_config, headers=headers, provider="kannel", **sms) as gw:
        r = await gw.client.get(kannel_mo() + extra)
        assert r.status == status
        assert len(await messages(gw.ctx)) == 0 or status == 200


@pytest.mark.parametrize(
    "headers, status",
    [
        pytest.param({}, 401, id="signed-url-without-the-callback-secret"),
        pytest.param(basic("wrong"), 401, id="wrong-callback-secret"),
        pytest.param(basic(TOKEN), 200, id="callback-secret"),
    ],
)
async def test_kannel_dlr_needs_the_callback_secret_too(
    make_config: Callable[..., Any], headers: dict[str, str], status: int
) -> None:
    """The DLR status is filled in by Kannel after we signed the URL, so the request as a
    whole must come from Kannel: a captured dlr-url with another status is refused."""
    async with gateway(make_config, headers=headers, provider="kannel") as gw:
        out = await queue_sms(gw.ctx)
        url = gw.plugin.transport.dlr_url(out)
        assert url.startswith(f"http://kannel:{TOKEN}@gw.test/sms/kannel/dlr?")
        path = url.split("/sms/", 1)[1].split("&status=")[0]
        r = await gw.client.get(f"/sms/{path}&status=1&id=abc&ts=1")
        assert r.status == status
        assert (await gw.ctx.state.outbox_row(out))["status"] == ("delivered" if status == 200 else "sent")


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


def signed(body: bytes, secret: str = SECRET, skew: float = 0) -> dict[str, str]:
    """Timestamp and signature made now (``skew`` seconds off)."""
    return {**signed_headers(secret, body, time.time() + skew), "Content-Type": "application/json"}


def later(body: bytes, secret: str = SECRET, skew: float = 0, prefix: bool = True) -> Callable[[], dict[str, str]]:
    """Headers signed when the case runs, not when the table is built (the window is short)."""

    def make() -> dict[str, str]:
        headers = signed(body, secret, skew)
        if not prefix:
            headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER].removeprefix("sha256=")
        return headers

    return make


def unstamped(body: bytes) -> dict[str, str]:
    """The old form: an HMAC of the body alone, no timestamp (replayable forever)."""
    return {SIGNATURE_HEADER: "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}


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
    pytest.param(payload(), later(payload()), 200, "created", id="signed"),
    pytest.param(payload(), later(payload(), prefix=False), 200, "created", id="signed-without-prefix"),
    pytest.param(payload(), later(payload(), "other-secret"), 401, "bad signature", id="bad-signature"),
    pytest.param(payload(), {}, 401, "bad signature", id="no-signature"),
    pytest.param(payload(), unstamped(payload()), 401, "bad signature", id="no-timestamp"),
    pytest.param(payload(), later(payload(), skew=-360), 401, "bad signature", id="replayed-after-window"),
    pytest.param(payload(), later(payload(), skew=360), 401, "bad signature", id="from-the-future"),
    pytest.param(payload(), later(payload(), skew=-200), 200, "created", id="late-within-window"),
    pytest.param(
        payload(),
        lambda: {**signed(payload()), TIMESTAMP_HEADER: str(int(time.time()) - 1)},
        401,
        "bad signature",
        id="timestamp-swapped",
    ),
    pytest.param(payload(text="دستکاری"), later(payload()), 401, "bad signature", id="body-tampered"),
    pytest.param(payload(id=None), later(payload(id=None)), 400, "missing field id", id="missing-id"),
    pytest.param(
        payload(**{"from": None}), later(payload(**{"from": None})), 400, "missing field from", id="missing-from"
    ),
    pytest.param(payload(text=None), later(payload(text=None)), 400, "missing field text", id="missing-text"),
    pytest.param(
        payload(**{"from": "x"}), later(payload(**{"from": "x"})), 400, "sender is not a phone number", id="bad-from"
    ),
    pytest.param(b"\x00garbage{", later(b"\x00garbage{"), 400, "not JSON", id="garbage"),
    pytest.param(b"[1,2]", later(b"[1,2]"), 400, "body must be a JSON object", id="json-array"),
    pytest.param(payload(text=LONG), later(payload(text=LONG)), 200, "created", id="10kb-text"),
    pytest.param(payload(text=EMOJI), later(payload(text=EMOJI)), 200, "created", id="emoji"),
    pytest.param(payload(text=MIXED), later(payload(text=MIXED)), 200, "created", id="mixed-scripts"),
    pytest.param(payload(text=""), later(payload(text="")), 200, "rejected", id="empty-text"),
]


@pytest.mark.parametrize("body, headers, status, result", GENERIC_CASES)
async def test_generic_inbound(
    make_config: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    body: bytes,
    headers: Any,
    status: int,
    result: str,
) -> None:
    monkeypatch.setenv("GW_TEST_SMS_SECRET", SECRET)
    async with gateway(make_config, provider="generic", generic={"secret_env": "GW_TEST_SMS_SECRET"}) as gw:
        r = await gw.client.post("/sms/generic/inbound", data=body, headers=headers() if callable(headers) else headers)
        got = await outcome(gw, r.status, (await r.json())["result"], "generic", "g-100")
        assert got == (status, result)
        assert len(await messages(gw.ctx)) == (1 if result == "created" else 0)


async def test_generic_refuses_to_start_without_a_secret_and_refuses_all_without_one(
    make_config: Callable[..., Any],
) -> None:
    with pytest.raises(ConfigError, match="GW_TEST_UNSET_SECRET"):
        async with gateway(make_config, provider="generic", generic={"secret_env": "GW_TEST_UNSET_SECRET"}):
            pass
    assert not verify(None, payload(), signed(payload(), ""), 300)  # and were it started anyway
    assert not verify("", payload(), signed(payload(), ""), 300)


async def test_generic_allowlist_applies_before_the_signature(
    make_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TEST_SMS_SECRET", SECRET)
    async with gateway(
        make_config, provider="generic", allow_from=["192.0.2.0/24"], generic={"secret_env": "GW_TEST_SMS_SECRET"}
    ) as gw:
        r = await gw.client.post("/sms/generic/inbound", data=payload(), headers=signed(payload()))
        assert (r.status, (await r.json())["result"]) == (401, "unauthenticated")


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


KV_FIELDS = {"messageid": "kv-9", "from": "09121234567", "to": "30001234", "message": "درخواست"}


@pytest.mark.parametrize(
    "method, headers, extra, status",
    [
        pytest.param("GET", {}, {}, 401, id="no-token"),
        pytest.param("GET", {}, {"token": "wrong"}, 401, id="wrong-query-token"),
        pytest.param("GET", {}, {"token": TOKEN}, 200, id="query-token"),
        pytest.param("POST", {}, {"token": TOKEN}, 200, id="form-token"),
        pytest.param("POST", {}, {"token": "wrong"}, 401, id="wrong-form-token"),
        pytest.param("GET", {"X-Gateway-Token": TOKEN}, {}, 200, id="header-token"),
    ],
)
async def test_kavenegar_forward_auth(
    make_config: Callable[..., Any], method: str, headers: dict[str, str], extra: dict[str, str], status: int
) -> None:
    async with gateway(
        make_config, headers=headers, provider="kavenegar", kavenegar={"api_url": "http://127.0.0.1:9"}
    ) as gw:
        fields = {**KV_FIELDS, **extra}
        if method == "GET":
            r = await gw.client.get("/sms/kavenegar/inbound", params=fields)
        else:
            r = await gw.client.post("/sms/kavenegar/inbound", data=fields)
        assert r.status == status


async def test_kavenegar_polling_serves_no_forwarding_url(make_config: Callable[..., Any]) -> None:
    async with gateway(
        make_config, provider="kavenegar", kavenegar={"api_url": "http://127.0.0.1:9", "inbound": "poll"}
    ) as gw:
        assert (await gw.client.get("/sms/kavenegar/inbound", params={**KV_FIELDS, "token": TOKEN})).status == 404


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
    answers 200 "stored" (the provider must not retry into the bug); the spool's drainer
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
        assert (r.status, await r.text()) == (200, "stored")
        await eventually(lambda: messages(gw.ctx), "the parked text became a case")
        [message] = await messages(gw.ctx)
        assert message.external_id == "park-1" and len(calls) == 2


async def test_the_reply_never_tells_whether_a_code_exists(make_config: Callable[..., Any]) -> None:
    """Item 14: whatever the text (a real code, a well-formed unknown one, a typo, a new
    message, survey digits), the webhook answers the same 200 "stored", in both modes."""
    from gateway.core import tracking

    async with gateway(make_config, provider="kannel") as gw:
        r = await gw.client.get(kannel_mo("درخواست تعمیر چراغ", id="c-0"))
        assert await outcome(gw, r.status, await r.text(), "kannel", "c-0") == (200, "created")
        async with gw.ctx.db.session() as s:
            code = (await s.execute(select(Case.code))).scalar_one()
        unknown = tracking.generate()
        typo = code[:9] + str((int(code[9]) + 1) % 10)
        bodies = []
        for i, text in enumerate([code, unknown, typo, "متن تازه", "۵ ۴"], start=1):
            r = await gw.client.get(kannel_mo(text, id=f"c-{i}"))
            bodies.append((r.status, await r.text()))
        assert bodies == [(200, "stored")] * 5


async def test_status_queries_by_sms_are_limited_like_track(make_config: Callable[..., Any]) -> None:
    async with gateway(make_config, provider="kannel", web={"track_burst": 2, "track_per_minute": 0.01}) as gw:
        r = await gw.client.get(kannel_mo("درخواست", id="q-0"))
        await outcome(gw, r.status, await r.text(), "kannel", "q-0")
        async with gw.ctx.db.session() as s:
            code = (await s.execute(select(Case.code))).scalar_one()
        results = []
        for i in range(1, 5):
            r = await gw.client.get(kannel_mo(code, id=f"q-{i}"))
            results.append((await outcome(gw, r.status, await r.text(), "kannel", f"q-{i}"))[1])
        assert results == ["status", "status", "rate_limited", "rate_limited"]
        assert (await outbox_purposes(gw.ctx)).count("status") == 2
        report = await gw.ctx.state.get(FLOOD_KEY)
        assert report is not None and report["+989121234567"]["kind"] == "status_queries"
