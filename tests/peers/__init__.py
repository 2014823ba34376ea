"""Test peers (real servers started by fixtures) and the rule for missing ones.

Locally a test whose peer is missing is skipped with the reason; under ``CI=true`` it
fails instead, so a green CI means every test really ran.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: the PostgreSQL server for tests that need one whatever database the suite runs on
PG_SERVER = os.environ.get("GATEWAY_TEST_DATABASE_URL") or "postgresql+asyncpg://postgres@127.0.0.1/test"


def require(ok: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a peer or package is missing."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"required test peer missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, package: str) -> str:
    """The path of an executable, or skip/fail naming the Debian package to install."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    require(path is not None, f"{name} not installed (apt-get install {package})")
    return path or ""


def free_port() -> int:
    """A free TCP port on loopback (small race between close and the peer's bind)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def eventually(check: Callable[[], Awaitable[Any]], what: str = "condition", limit: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy and return that; bounded, so a bug
    fails instead of hanging (waits for peers and background tasks, not a speed test)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not (value := await check()):
        if loop.time() > end:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)
    return value


@asynccontextmanager
async def private_pg_database(prefix: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on :data:`PG_SERVER` (its URL), dropped afterwards;
    skip (locally) or fail (in CI) when the server cannot be reached."""
    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    admin = create_async_engine(PG_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OSError as e:
        await admin.dispose()
        require(False, f"PostgreSQL not reachable at {PG_SERVER} ({e})")
    try:
        yield make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
