"""Shared helpers for the staff endpoint tests (no tests here).

``staff_client`` serves the whole app on an ephemeral loopback port with aiohttp's
TestServer; ``make_staff`` creates a staff member and returns their API token.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from gateway.core.context import GatewayContext
from gateway.core.messages import Channel, InboundAttachment, InboundMessage, IntakeResult, Kind
from gateway.core.models import Outbox, utcnow
from gateway.core.staff import add_staff, set_password
from gateway.web.app import create_app

PASSWORD = "correct horse battery"


async def make_staff(
    ctx: GatewayContext, name: str, unit: str, role: str = "staff", password: str | None = PASSWORD
) -> str:
    """A staff member (with a console password); returns the API token."""
    token = await add_staff(ctx.db, name, unit, role)
    if password:
        await set_password(ctx.db, name, password)
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def submit(
    ctx: GatewayContext,
    text: str,
    *,
    channel: Channel = Channel.SMS,
    sender: str | None = "+989121234567",
    external_id: str | None = None,
    kind: Kind | None = None,
    subject: str | None = None,
    attachments: list[InboundAttachment] | None = None,
    provider: str = "test",
) -> IntakeResult:
    """Feed one citizen message through intake, as a channel would."""
    global _seq
    _seq += 1
    res = await ctx.intake.submit(
        InboundMessage(
            channel,
            text,
            external_id=external_id or f"ext-{_seq}",
            provider=provider,
            sender=sender,
            kind_hint=kind,
            subject=subject,
            attachments=attachments or [],
        )
    )
    assert res.case_code, res
    return res


_seq = 0


async def outbox_rows(ctx: GatewayContext, purpose: str | None = None) -> list[Outbox]:
    async with ctx.db.session() as s:
        stmt = select(Outbox).order_by(Outbox.id)
        if purpose:
            stmt = stmt.where(Outbox.purpose == purpose)
        return list((await s.execute(stmt)).scalars())


def sent_files(ctx: GatewayContext, channel: str) -> list[dict[str, Any]]:
    """What the FileSender wrote for a channel, oldest first."""
    folder = Path(ctx.config.data_dir) / "outbox" / channel
    files = list(folder.glob("*.json")) if folder.exists() else []
    return sorted((json.loads(p.read_text(encoding="utf-8")) for p in files), key=lambda m: m["outbox_id"])


async def send_all(ctx: GatewayContext) -> None:
    """Make every pending row due (as if the survey delay had passed) and send them all."""
    async with ctx.db.session() as s:
        await s.execute(update(Outbox).where(Outbox.status == "pending").values(next_attempt_at=utcnow()))
    while await ctx.dispatcher.run_once():
        pass


@pytest_asyncio.fixture
async def staff_client(ctx: GatewayContext) -> AsyncIterator[TestClient]:
    """An HTTP client for the app, served on an ephemeral loopback port."""
    async with TestClient(TestServer(create_app(ctx), host="127.0.0.1")) as client:
        yield client
