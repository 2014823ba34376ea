"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL when
``GATEWAY_TEST_DATABASE_URL`` names one), a config, and a running gateway context.

SQLite: the schema is migrated once into a template file, copied for every test.
PostgreSQL: a private database is created for the session (and dropped at its end), migrated
once, and every table truncated per test.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from gateway.core.config import Config, parse_config
from gateway.core.context import GatewayContext
from gateway.core.db import Database
from gateway.core.models import Base
from gateway.core.runtime import running_context

PG_URL = os.environ.get("GATEWAY_TEST_DATABASE_URL", "")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

BASE_CONFIG: dict[str, Any] = {
    "gateway": {"public_base_url": "http://gw.test", "language": "fa"},
    "email": {
        "from_address": "feedback@example.ir",
        "message_id_domain": "feedback.example.ir",
        "smtp": {
            "addresses": ["feedback@example.ir", "complaints@example.ir"],
            "aliases": {"complaints@example.ir": {"kind": "complaint"}},
        },
    },
    "units": [
        {"code": "oversight", "name": "حراست و بازرسی"},
        {"code": "pr", "name": "روابط عمومی"},
        {"code": "roads", "name": "راه و ترابری"},
    ],
    "services": [
        {"code": "10011003113", "title": "پاسخگویی به شکایات", "unit": "oversight", "sla_days": 10},
        {"code": "20001", "title": "ترمیم راه", "unit": "roads", "sla_days": 15},
    ],
    "routing": {
        "default_unit": "pr",
        "oversight_unit": "oversight",
        "rules": [{"keywords": ["جاده", "road"], "unit": "roads"}],
    },
    "outbox": {
        "base_delay_seconds": 0.01,
        "max_delay_seconds": 0.05,
        "max_attempts": 3,
        "poll_seconds": 0.05,
        "lease_seconds": 30,
    },
}


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge two config mappings (``over`` wins)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.fixture(scope="session")
def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


@pytest_asyncio.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    """A private PostgreSQL database for this test session, made on the server named by
    GATEWAY_TEST_DATABASE_URL and dropped afterwards (parallel runs do not collide)."""
    if not PG_URL:
        yield ""
        return
    name = f"gw_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest_asyncio.fixture(scope="session")
async def template_db(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> str:
    """Migrate once: a template SQLite file, or the session's PostgreSQL database."""
    if pg_url:
        db = Database(pg_url)
        await db.migrate()
        await db.dispose()
        return pg_url
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    await db.dispose()
    return str(path)


@pytest_asyncio.fixture
async def db_url(template_db: str, tmp_path: Path) -> str:
    """A clean, migrated database for one test."""
    if PG_URL:
        db = Database(template_db)
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await db.dispose()
        return template_db
    target = tmp_path / "gateway.db"
    shutil.copy(template_db, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def make_config(tmp_path: Path, db_url: str) -> Callable[..., Config]:
    """Build a validated config on the test database, with overrides."""

    def build(**over: Any) -> Config:
        data = merge(BASE_CONFIG, over)
        data = merge(data, {"gateway": {"database_url": db_url, "data_dir": str(tmp_path / "var")}})
        return parse_config(data, tmp_path)

    return build


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest_asyncio.fixture
async def ctx(config: Config) -> AsyncIterator[GatewayContext]:
    """A started gateway context (intake writer running, dispatcher not started)."""
    async with running_context(config, migrate=False, dispatch=False) as c:
        yield c


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """Give each test the logging configuration it found: a test that configures logging
    (``gateway`` commands run in-process, the log-privacy tests) would otherwise leave a
    handler on its closed capture stream and library loggers at INFO for the tests after it."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in list(logging.root.manager.loggerDict)}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots and other test artifacts."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest_asyncio.fixture(scope="session")
async def browser():
    """One headless Chromium for the session (Playwright async API)."""
    from tests.peers import require
    from tests.peers.browser import CHROMIUM_ARGS, chromium_path

    try:
        from playwright.async_api import async_playwright
    except ImportError:
        require(False, "playwright not installed (pip install playwright)")
    path = chromium_path()
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Under CI=true no test may skip: a skip (missing peer or package) becomes a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI", "").lower() in ("1", "true", "yes") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run every test: {report.longrepr}"


@pytest_asyncio.fixture
async def sink():
    """A real SMTP server (aiosmtpd) on an ephemeral loopback port that keeps what it gets."""
    from tests.peers.smtp_sink import SmtpSink, start_sink

    s = SmtpSink()
    server = await start_sink(s)
    yield s
    server.close()
    await server.wait_closed()
