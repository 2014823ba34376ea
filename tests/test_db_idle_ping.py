"""core.db on PostgreSQL (whatever database the suite runs on): a pooled connection is
pinged before use only after lying idle, and one that died meanwhile is replaced before
the caller sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from gateway.core.db import Database
from tests.peers import private_pg_database


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    async with private_pg_database("gw_ping") as url:
        yield url


async def backend_pid(db: Database) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def test_a_connection_killed_while_idle_is_replaced_before_use(pg_url: str) -> None:
    db = Database(pg_url, ping_after_idle=0.2, pool_size=1, max_overflow=0)
    admin = Database(pg_url)
    try:
        first = await backend_pid(db)
        async with admin.engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.4)
        assert await backend_pid(db) != first  # pinged, found dead, replaced: no error
    finally:
        await db.dispose()
        await admin.dispose()


async def test_a_connection_in_steady_use_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[object] = []
    real = AsyncAdapt_asyncpg_connection.ping

    def counted(self: AsyncAdapt_asyncpg_connection) -> None:
        pings.append(self)
        real(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    db = Database(pg_url, ping_after_idle=5, pool_size=1, max_overflow=0)
    try:
        for _ in range(5):
            await backend_pid(db)
        assert pings == []
    finally:
        await db.dispose()
    idle = Database(pg_url, ping_after_idle=0.05, pool_size=1, max_overflow=0)
    try:
        await backend_pid(idle)
        await asyncio.sleep(0.1)
        await backend_pid(idle)
        assert len(pings) == 1
    finally:
        await idle.dispose()
