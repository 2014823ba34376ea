"""An answer given through the staff API arrives over the citizen's own channel, through the
real channel senders: email relayed to a real SMTP server (aiosmtpd sink) in the citizen's
thread with the survey link; SMS handed to a local Kavenegar-style API to the citizen's number,
then the digits survey.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from gateway.channels.email import create as create_email
from gateway.channels.sms import create as create_sms
from gateway.core.config import Config
from gateway.core.messages import Channel, InboundMessage
from gateway.core.runtime import running_context
from gateway.web.app import create_app
from tests.peers.sms_api import FakeSmsApi
from tests.peers.smtp_sink import SmtpSink
from tests.test_staff_support import auth, make_staff, send_all


@pytest_asyncio.fixture
async def sms_api() -> AsyncIterator[FakeSmsApi]:
    fake = FakeSmsApi()
    await fake.start()
    yield fake
    await fake.stop()


async def test_email_answer_arrives_in_the_thread_with_the_survey_link(
    make_config: Callable[..., Config], sink: SmtpSink
) -> None:
    config = make_config(email={"smtp": {"enabled": False}, "outbound": {"host": "127.0.0.1", "port": sink.port}})
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        create_email(ctx)  # registers the relay sender
        first = await ctx.intake.submit(
            InboundMessage(
                Channel.EMAIL,
                "درخواست گواهی اشتغال دارم",
                external_id="<q1@citizen.example>",
                provider="email",
                sender="ali@citizen.example",
                subject="گواهی",
            )
        )
        token = await make_staff(ctx, "mina", "pr")
        async with TestClient(TestServer(create_app(ctx), host="127.0.0.1")) as client:
            r = await client.post(
                f"/api/v1/cases/{first.case_code}/answer",
                headers=auth(token),
                json={"text": "گواهی شما آماده است.", "close": False},
            )
            assert r.status == 200 and (await r.json())["status"] == "answered"
        await send_all(ctx)
        mails = await sink.wait_for(3)  # acknowledgement, answer, survey
    by_subject = {m["subject"]: m for m in mails}
    answer = next(m for s, m in by_subject.items() if "پاسخ" in s)
    assert f"[#{first.case_code}]" in answer["subject"] and answer["to"].addresses[0].addr_spec == "ali@citizen.example"
    assert answer["in-reply-to"] == "<q1@citizen.example>"
    assert "گواهی شما آماده است." in answer.get_body(("plain",)).get_content()
    survey = [m for m in mails if "/s/" in m.get_body(("plain",)).get_content()]
    assert len(survey) == 1 and "http://gw.test/s/" in survey[0].get_body(("plain",)).get_content()


async def test_sms_answer_arrives_at_the_citizens_number(
    make_config: Callable[..., Config], sms_api: FakeSmsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TEST_KAVENEGAR_KEY", sms_api.api_key)
    sms: dict[str, Any] = {
        "provider": "kavenegar",
        "kavenegar": {
            "api_url": sms_api.url,
            "api_key_env": "GW_TEST_KAVENEGAR_KEY",
            "sender": "10004346",
            "inbound": "poll",
        },
    }
    config = make_config(sms=sms)
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        assert create_sms(ctx) is not None  # registers the Kavenegar sender
        first = await ctx.intake.submit(
            InboundMessage(
                Channel.SMS, "جاده روستا خراب است", external_id="k1", provider="kavenegar", sender="+989121234567"
            )
        )
        token = await make_staff(ctx, "reza", "roads")
        async with TestClient(TestServer(create_app(ctx), host="127.0.0.1")) as client:
            r = await client.post(
                f"/api/v1/cases/{first.case_code}/answer",
                headers=auth(token),
                json={"text": "ترمیم کوچه هفته آینده انجام می‌شود.", "close": False},
            )
            assert r.status == 200
        await send_all(ctx)
    to_citizen = [m for m in sms_api.sent if m["receptor"] == "09121234567"]
    texts = [m["message"] for m in to_citizen]
    assert any("ترمیم کوچه هفته آینده انجام می‌شود." in t for t in texts)  # the answer
    assert len(to_citizen) == 3  # acknowledgement, answer, digits survey
