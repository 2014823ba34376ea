"""The SMS sender: budget, limits, provider transports against local fake APIs, redaction."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.channels.sms import SmsPlugin, create
from gateway.channels.sms.providers.generic import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from gateway.channels.sms.providers.kavenegar import PENDING_KEY
from gateway.channels.sms.segments import measure
from gateway.core.config import ConfigError
from gateway.core.context import GatewayContext
from gateway.core.logs import RedactingFilter, redact
from gateway.core.messages import Channel, OutboundMessage, SendStatus
from gateway.core.models import Case, InboundSpool, Outbox
from gateway.core.outbox import queue_outbound
from gateway.core.runtime import running_context
from tests.peers import free_port
from tests.peers.sms_api import FakeSmsApi

PHONE = "+989121234567"


def outbound(text: str = "پاسخ کوتاه", purpose: str = "answer", **over: Any) -> OutboundMessage:
    fields: dict[str, Any] = {
        "outbox_id": 7,
        "channel": Channel.SMS,
        "purpose": purpose,
        "recipient": PHONE,
        "subject": "",
        "text": text,
        "idempotency_key": "gw0123456789abcdef0123",
        "case_code": "1403090012",
        **over,
    }
    return OutboundMessage(**fields)


@pytest.fixture(autouse=True)
def webhook_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhooks' secrets, without which the SMS channel refuses to start (the sender
    tests do not call the webhooks)."""
    for name in ("GATEWAY_KANNEL_CALLBACK_TOKEN", "GATEWAY_KAVENEGAR_FORWARD_TOKEN", "GATEWAY_SMS_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, "sender-tests-secret")


@asynccontextmanager
async def plugin_for(make_config: Callable[..., Any], **sms: Any) -> AsyncIterator[tuple[GatewayContext, SmsPlugin]]:
    async with running_context(make_config(sms=sms), migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        assert plugin is not None
        try:
            yield ctx, plugin
        finally:
            await plugin.stop()


@pytest.fixture
async def api() -> AsyncIterator[FakeSmsApi]:
    fake = FakeSmsApi()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.mark.parametrize(
    "purpose, payload, must_end",
    [
        pytest.param("answer", {}, "http://gw.test/track?code=1403090012", id="answer-track-link"),
        pytest.param("answer", {"link": "http://gw.test/c/abc"}, "http://gw.test/c/abc", id="answer-payload-link"),
        pytest.param(
            "answer", {"survey_link": "http://gw.test/s/tok"}, "http://gw.test/s/tok", id="answer-with-survey"
        ),
        pytest.param("survey", {"link": "http://gw.test/s/tok"}, "http://gw.test/s/tok", id="survey"),
    ],
)
async def test_long_texts_keep_whole_words_and_end_with_the_link(
    make_config: Callable[..., Any], purpose: str, payload: dict[str, str], must_end: str
) -> None:
    async with plugin_for(make_config, provider="generic", max_parts=2) as (_, plugin):
        text = " ".join(f"کلمه{i}" for i in range(100))
        out = plugin.sender.compose(outbound(text, purpose, payload=payload))
        assert out.endswith(must_end) and measure(out).parts <= 2
        kept = out.split("…")[0]
        assert text.startswith(kept) and text[len(kept)] == " "


async def test_short_answer_is_sent_whole_with_survey_link(make_config: Callable[..., Any]) -> None:
    async with plugin_for(make_config, provider="generic") as (_, plugin):
        out = plugin.sender.compose(outbound("پاسخ", payload={"survey_link": "http://gw.test/s/t"}))
        assert out == "پاسخ\nhttp://gw.test/s/t"


async def test_templates_over_budget_are_a_config_error(make_config: Callable[..., Any]) -> None:
    config = make_config(sms={"provider": "kannel", "max_parts": 1}, templates={"fa": {"help": "راهنما " * 30}})
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        with pytest.raises(ConfigError) as err:
            create(ctx)
        assert any("templates.fa.help" in p and "sms.max_parts = 1" in p for p in err.value.problems)


async def test_file_provider_has_no_plugin(make_config: Callable[..., Any]) -> None:
    async with running_context(make_config(), migrate=False, dispatch=False) as ctx:
        assert create(ctx) is None


async def test_automatic_replies_are_limited_per_number(
    make_config: Callable[..., Any], api: FakeSmsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TEST_SMS_SECRET", "s")
    async with plugin_for(
        make_config,
        provider="generic",
        replies_per_hour=2,
        generic={"send_url": f"{api.url}/generic/send", "secret_env": "GW_TEST_SMS_SECRET"},
    ) as (_, plugin):
        results = [(await plugin.sender.send(outbound(purpose="ack", outbox_id=i))).status for i in range(3)]
        answer = await plugin.sender.send(outbound(purpose="answer", outbox_id=9))
        assert results == [SendStatus.SENT, SendStatus.SENT, SendStatus.PERMANENT]
        assert answer.status is SendStatus.SENT  # staff answers are never limited
        assert len(api.generic_posts) == 3


async def test_generic_outbound_is_signed_json(
    make_config: Callable[..., Any], api: FakeSmsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TEST_SMS_SECRET", "s3cret")
    async with plugin_for(
        make_config,
        provider="generic",
        generic={"send_url": f"{api.url}/generic/send", "secret_env": "GW_TEST_SMS_SECRET"},
    ) as (_, plugin):
        result = await plugin.sender.send(outbound("سلام"))
        assert (result.status, result.provider_id) == (SendStatus.SENT, "g-1")
        headers, body = api.generic_posts[0]
        assert headers[SIGNATURE_HEADER] == sign("s3cret", body, headers[TIMESTAMP_HEADER])
        assert verify("s3cret", body, headers, window=300)
        data = json.loads(body)
        assert (data["to"], data["text"], data["coding"], data["ref"]) == (
            PHONE,
            "سلام",
            "ucs2",
            "gw0123456789abcdef0123",
        )


@pytest.mark.parametrize(
    "reply, status, code",
    [
        pytest.param((500, {}), SendStatus.TEMPORARY, "generic_500", id="server-error"),
        pytest.param((429, {}), SendStatus.TEMPORARY, "generic_429", id="throttled"),
        pytest.param((400, {"error": "bad"}), SendStatus.PERMANENT, "generic_400", id="refused"),
    ],
)
async def test_generic_outbound_errors(
    make_config: Callable[..., Any], api: FakeSmsApi, reply: tuple[int, dict[str, Any]], status: SendStatus, code: str
) -> None:
    api.generic_reply = reply
    async with plugin_for(make_config, provider="generic", generic={"send_url": f"{api.url}/generic/send"}) as (
        _,
        plugin,
    ):
        result = await plugin.sender.send(outbound())
        assert (result.status, result.error_code) == (status, code)


def kavenegar_cfg(api: FakeSmsApi, monkeypatch: pytest.MonkeyPatch, **over: Any) -> dict[str, Any]:
    monkeypatch.setenv("GW_TEST_KAVENEGAR_KEY", api.api_key)
    return {
        "provider": "kavenegar",
        "kavenegar": {"api_url": api.url, "api_key_env": "GW_TEST_KAVENEGAR_KEY", "sender": "10004346", **over},
    }


async def test_kavenegar_send_is_idempotent_and_status_is_polled(
    make_config: Callable[..., Any], api: FakeSmsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with plugin_for(make_config, **kavenegar_cfg(api, monkeypatch)) as (ctx, plugin):
        async with ctx.db.session() as s:
            row = await queue_outbound(
                s, channel="sms", purpose="ack", recipient=PHONE, text="کد رهگیری شما", key=ctx.new_key("sms")
            )
        assert await ctx.dispatcher.run_once() == 1
        first = await ctx.state.outbox_row(row.id)
        again = await plugin.sender.send(outbound(outbox_id=row.id, purpose="answer"))  # a retry
        assert len(api.sent) == 1 and again.provider_id == first["provider_id"]
        assert api.sent[0]["receptor"] == "09121234567" and api.sent[0]["localid"] == str(row.id)
        api.statuses[first["provider_id"]] = 10
        assert await plugin.transport.poll_status() == 1
        assert (await ctx.state.outbox_row(row.id))["status"] == "delivered"
        assert await ctx.state.get(PENDING_KEY) == {}


@pytest.mark.parametrize(
    "fail_with, status, code",
    [
        pytest.param((200, 409), SendStatus.TEMPORARY, "kavenegar_409", id="busy"),
        pytest.param((200, 418), SendStatus.TEMPORARY, "kavenegar_418", id="no-credit"),
        pytest.param((200, 411), SendStatus.PERMANENT, "kavenegar_411", id="bad-receptor"),
        pytest.param((200, 413), SendStatus.PERMANENT, "kavenegar_413", id="too-long"),
    ],
)
async def test_kavenegar_errors(
    make_config: Callable[..., Any],
    api: FakeSmsApi,
    monkeypatch: pytest.MonkeyPatch,
    fail_with: tuple[int, int],
    status: SendStatus,
    code: str,
) -> None:
    api.fail_with = fail_with
    async with plugin_for(make_config, **kavenegar_cfg(api, monkeypatch)) as (_, plugin):
        result = await plugin.sender.send(outbound())
        assert (result.status, result.error_code) == (status, code)


async def test_kavenegar_bad_key_is_permanent(
    make_config: Callable[..., Any], api: FakeSmsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = kavenegar_cfg(api, monkeypatch)
    monkeypatch.setenv("GW_TEST_KAVENEGAR_KEY", "WRONGKEYWRONGKEYWRONGKEY")
    async with plugin_for(make_config, **cfg) as (_, plugin):
        result = await plugin.sender.send(outbound())
        assert (result.status, result.error_code) == (SendStatus.PERMANENT, "kavenegar_401")


async def test_kavenegar_inbound_polling_spools_then_makes_cases(
    make_config: Callable[..., Any], api: FakeSmsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.inbox = [
        {
            "messageid": 501,
            "message": "شکایت از صف نانوایی",
            "sender": "09351112233",
            "receptor": "10004346",
            "date": 1732000000,
        },
        {"messageid": 502, "message": "", "sender": "09351112233", "receptor": "10004346"},
    ]
    async with plugin_for(make_config, **kavenegar_cfg(api, monkeypatch, inbound="poll")) as (ctx, plugin):
        plugin.inbound.spool.start()  # the spool writer, without the background pollers
        assert await plugin.transport.poll_inbound() == 2
        assert await plugin.transport.poll_inbound() == 0
        async with ctx.db.session() as s:
            [case] = (await s.execute(select(Case))).scalars()
            assert (case.kind, case.contact) == ("complaint", "+989351112233")
            pending = select(func.count()).select_from(InboundSpool).where(InboundSpool.status == "pending")
            assert await s.scalar(pending) == 0


async def test_kavenegar_key_never_reaches_logs(
    make_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = FakeSmsApi().api_key
    url = f"https://api.kavenegar.com/v1/{key}/sms/send.json"
    assert key not in redact(f"POST {url} failed")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "calling %s", (url,), None)
    RedactingFilter().filter(record)
    assert key not in record.getMessage()
    monkeypatch.setenv("GW_TEST_KAVENEGAR_KEY", key)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: a connection error
    async with plugin_for(
        make_config, provider="kavenegar", kavenegar={"api_url": dead, "api_key_env": "GW_TEST_KAVENEGAR_KEY"}
    ) as (_, plugin):
        with caplog.at_level(logging.DEBUG):
            result = await plugin.sender.send(outbound())
        assert result.status is SendStatus.TEMPORARY and key not in (result.detail or "")
        assert key not in caplog.text


async def test_dispatcher_sends_answer_rows_through_kavenegar(
    make_config: Callable[..., Any], api: FakeSmsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with plugin_for(make_config, max_parts=2, **kavenegar_cfg(api, monkeypatch)) as (ctx, _):
        async with ctx.db.session() as s:
            case = Case(
                code="1403090012",
                kind="request",
                status="answered",
                channel="sms",
                contact=PHONE,
                unit_code="pr",
                subject="x",
                language="fa",
            )
            s.add(case)
            await s.flush()
            long_answer = " ".join(["پاسخ کارشناس به درخواست شما"] * 20)
            await queue_outbound(
                s, channel="sms", purpose="answer", recipient=PHONE, text=long_answer, key=ctx.new_key("sms"), case=case
            )
        await ctx.dispatcher.run_once()
        sent = api.sent[0]["message"]
        assert sent.endswith(ctx.track_link("1403090012")) and measure(sent).parts <= 2
        async with ctx.db.session() as s:
            assert (await s.execute(select(Outbox.status))).scalar_one() == "sent"
