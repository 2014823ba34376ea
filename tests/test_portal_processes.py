"""The portal's limits hold across processes: two real ``gateway run --only http``
processes on one database, one client address alternating between them; the limit is
reached after ``per_ip_per_hour`` submissions in all, not per process.  A double submit
sent to both processes gives one case."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from gateway.core.db import Database
from gateway.core.models import Case
from tests.peers import free_port
from tests.test_portal_submit import good, multipart

ROOT = Path(__file__).resolve().parent.parent


def config(tmp_path: Path, db_url: str, port: int) -> Path:
    path = tmp_path / f"gw-{port}.toml"
    path.write_text(
        f'''
[gateway]
database_url = "{db_url}"
data_dir = "var"
[http]
port = {port}
[email.smtp]
enabled = false
[portal]
per_ip_per_hour = 4
[[units]]
code = "oversight"
name = "حراست"
[[units]]
code = "pr"
name = "روابط عمومی"
''',
        encoding="utf-8",
    )
    return path


def _wait_up(base: str, proc: subprocess.Popen, log: Path) -> None:
    """Poll /healthz until it answers (bounded; a process that exits fails with its log)."""
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"gateway exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base} never answered /healthz")


@pytest.fixture
def two_gateways(tmp_path, db_url):
    """Two gateway processes (HTTP only) sharing the test database and the secret key, each
    with its own instance name, as two machines would have."""
    procs, bases, logs = [], [], []
    try:
        for n in range(2):
            env = {
                **os.environ,
                "GATEWAY_SECRET_KEY": "two-process-test-key-0123456789",
                "GATEWAY_INSTANCE_NAME": f"portal-{n}",
            }
            port = free_port()
            conf = config(tmp_path, db_url, port)
            logs.append(open(tmp_path / f"gw-{port}.log", "wb"))
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gateway", "--config", str(conf), "run", "--only", "http"],
                    cwd=ROOT,
                    env=env,
                    stdout=logs[-1],
                    stderr=subprocess.STDOUT,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
            _wait_up(bases[-1], procs[-1], tmp_path / f"gw-{port}.log")
        yield bases
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()


async def _send(session: aiohttp.ClientSession, base: str, fields: dict[str, str]) -> tuple[int, str]:
    body, ctype = multipart(fields)
    async with session.post(f"{base}/submit", data=body, headers={"Content-Type": ctype}, allow_redirects=False) as r:
        return r.status, await r.text()


async def _token(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(f"{base}/submit") as r:
        return re.search(r'name="token" value="([^"]+)"', await r.text()).group(1)


async def test_the_per_address_limit_holds_across_two_processes(two_gateways, db_url):
    a, b = two_gateways
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        statuses = []
        for i in range(6):  # a, b, a, b, a, b: three each
            base = (a, b)[i % 2]
            status, page = await _send(session, base, good(await _token(session, base), email=f"p{i}@example.ir"))
            statuses.append(status)
        assert statuses == [303, 303, 303, 303, 429, 429], statuses
        assert "از این نشانی اینترنتی" in page

    db = Database(db_url)
    try:
        async with db.read_session() as s:
            assert (await s.execute(select(func.count()).select_from(Case))).scalar_one() == 4
    finally:
        await db.dispose()


async def test_one_form_sent_to_both_processes_at_once_is_one_case(two_gateways, db_url):
    a, b = two_gateways
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        fields = good(await _token(session, a))
        results = await asyncio.gather(_send(session, a, fields), _send(session, b, fields))
    assert [s for s, _ in results] == [303, 303]
    db = Database(db_url)
    try:
        async with db.read_session() as s:
            assert (await s.execute(select(func.count()).select_from(Case))).scalar_one() == 1
    finally:
        await db.dispose()
