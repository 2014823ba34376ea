"""/healthz answers from the database's last ping: a busy database does not make a live
process look dead, and a database that stops answering turns it to 503 within seconds."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from gateway.core import db as dbmod
from gateway.core.db import Database
from tests.peers import eventually


async def test_a_busy_pool_does_not_delay_the_answer(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pooled connection is held (as by a flood of heavy writes): a ping waits for one,
    /healthz does not; held for longer than the fresh time, the answer turns unhealthy, and
    healthy again once the database answers."""
    monkeypatch.setattr(dbmod, "HEALTH_EVERY_SECONDS", 0.05)
    monkeypatch.setattr(dbmod, "HEALTH_FRESH_SECONDS", 2.0)  # room for a loaded CI machine
    db = Database(db_url, pool_size=1, max_overflow=0, pool_timeout=60)
    try:
        assert await db.healthy()  # the first answer is a ping of its own
        async with db.engine.connect() as held:  # the pool's only connection
            await held.execute(text("SELECT 1"))
            ping = asyncio.create_task(db.ping())
            await asyncio.sleep(0.2)
            assert not ping.done()  # a live check would wait here
            assert await db.healthy()  # the answer does not

            async def stale() -> bool:
                return not await db.healthy()

            await eventually(stale, "no good ping for longer than the fresh time", 20)
        assert await ping
        for _ in range(100):
            if await db.healthy():
                break
            await asyncio.sleep(0.05)
        assert await db.healthy()
    finally:
        await db.dispose()


async def test_healthz_says_503_when_the_database_is_gone(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dbmod, "HEALTH_EVERY_SECONDS", 0.05)
    monkeypatch.setattr(dbmod, "HEALTH_FRESH_SECONDS", 0.3)
    from gateway.web.app import CTX, healthz

    db = Database(db_url)

    class Ctx:
        pass

    ctx = Ctx()
    ctx.db = db  # type: ignore[attr-defined]
    app = web.Application()
    app[CTX] = ctx
    app.router.add_get("/healthz", healthz)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        response = await client.get("/healthz")
        assert response.status == 200 and (await response.json()) == {"status": "ok"}

        async def gone() -> bool:
            return False  # what ping answers when the server is down or refuses us

        monkeypatch.setattr(db, "ping", gone)
        await asyncio.sleep(0.6)
        response = await client.get("/healthz")
        assert response.status == 503 and (await response.json()) == {"status": "unavailable"}
    finally:
        await client.close()
        await db.dispose()
