"""Shared helpers for the citizen-web tests: a test client on the real app, and cases in
the states the tests need, made through core functions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.messages import Channel, InboundMessage, Kind, Outcome
from gateway.core.models import Case, SurveyInvitation, utcnow
from gateway.core.outbox import queue_outbound
from gateway.core.runtime import running_context
from gateway.core.surveys import create_invitation, survey_link
from gateway.web.app import create_app

PHONE = "+989121234567"
ANSWER = "پاسخ واحد: درخواست شما بررسی و انجام شد."


@dataclass
class MadeCase:
    code: str
    invitation: SurveyInvitation | None = None
    link: str = ""


@pytest_asyncio.fixture
async def client(ctx: GatewayContext) -> AsyncIterator[TestClient]:
    """An HTTP client on the whole app (TestServer on an ephemeral port)."""
    async with TestClient(TestServer(create_app(ctx))) as c:
        yield c


async def make_case(
    ctx: GatewayContext,
    *,
    sender: str | None = PHONE,
    text: str = "درخواست ترمیم جاده",
    channel: Channel = Channel.SMS,
    kind: Kind | None = None,
    answered: bool = False,
    invite: bool = False,
    external_id: str | None = None,
) -> MadeCase:
    """Open a case through intake; optionally answer it and make its survey invitation."""
    res = await ctx.intake.submit(
        InboundMessage(channel, text, external_id=external_id, provider="test", sender=sender, kind_hint=kind)
    )
    assert res.outcome is Outcome.CREATED
    made = MadeCase(res.case_code or "")
    if not answered:
        return made
    async with ctx.db.session() as s:
        case = await s.get(Case, res.case_id)
        assert case is not None
        await queue_outbound(
            s,
            channel=channel.value,
            purpose="answer",
            recipient=sender or "",
            text=ANSWER,
            key=ctx.new_key(channel.value),
            case=case,
            author="staff",
        )
        case.status, case.answered_at = "answered", utcnow()
        if invite:
            made.invitation = await create_invitation(s, ctx, case)
            assert made.invitation is not None
            made.link = survey_link(ctx, made.invitation)
    return made


@pytest.fixture
def aiohttp_free_client():
    """Start the app for a given config (its own context), as ``async with f(cfg) as (client, ctx)``."""

    @asynccontextmanager
    async def start(cfg: Config) -> AsyncIterator[tuple[TestClient, GatewayContext]]:
        async with running_context(cfg, migrate=False, dispatch=False) as ctx:
            async with TestClient(TestServer(create_app(ctx))) as c:
                yield c, ctx

    return start
