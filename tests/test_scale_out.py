"""Three real ``gateway run`` processes on one PostgreSQL database (A and B with every role,
C with ``--only http``), sharing nothing but the database: what one stores, signs or counts,
the others see, and when a process dies mid-pass the other takes its work over within seconds.

Always PostgreSQL (the scale-out database): on the SQLite pass of the suite it makes its
own database on the server ``GATEWAY_TEST_DATABASE_URL`` would name (default: the local
one CI uses).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.peers import eventually, free_port, private_pg_database, require

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "scale-test-kannel-token"
UNITS = (
    '[[units]]\ncode = "pr"\nname = "روابط عمومی"\n'
    '[[units]]\ncode = "oversight"\nname = "حراست و بازرسی"\n'
    '[routing]\ndefault_unit = "pr"\n'
)


@dataclass
class Proc:
    """One gateway process: its ports, config and OS process."""

    name: str
    roles: str
    http: int
    smtp: int
    config: Path
    popen: subprocess.Popen[bytes] | None = None
    log: BinaryIO | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http}"


@pytest_asyncio.fixture
async def database() -> AsyncIterator[str]:
    """A private PostgreSQL database, dropped afterwards."""
    async with private_pg_database("gw_scale") as url:
        yield url


def write_config(tmp: Path, name: str, db_url: str) -> Proc:
    proc = Proc(name, "" if name != "C" else "http", free_port(), free_port(), tmp / f"{name}.toml")
    proc.config.write_text(
        f"""
[gateway]
database_url = "{db_url}"
data_dir = "var-{name}"
public_base_url = "http://gw.test"
[http]
port = {proc.http}
[web]
track_burst = 4
track_per_minute = 1
[email]
from_address = "feedback@example.ir"
message_id_domain = "feedback.example.ir"
[email.smtp]
port = {proc.smtp}
mode = "direct"
addresses = ["feedback@example.ir"]
[sms]
provider = "kannel"
[sms.kannel]
sendsms_url = "http://127.0.0.1:{free_port()}/cgi-bin/sendsms"
callback_token_env = "GATEWAY_KANNEL_TOKEN"
[staff]
survey_delay_seconds = 0
{UNITS}""",
        encoding="utf-8",
    )
    return proc


def env(proc: Proc) -> dict[str, str]:
    out = {**os.environ, "GATEWAY_INSTANCE_NAME": proc.name, "GATEWAY_KANNEL_TOKEN": TOKEN}
    for key in ("GATEWAY_SECRET_KEY", "GATEWAY_DATABASE_URL"):
        out.pop(key, None)  # the signing key must come from the shared database
    return out


def start(proc: Proc) -> None:
    proc.log = open(proc.config.with_suffix(".log"), "ab")
    proc.popen = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(proc.config), "run", f"--only={proc.roles}"],
        cwd=ROOT,
        env=env(proc),
        stdout=proc.log,
        stderr=proc.log,
    )


@pytest.fixture
def cluster(database: str, tmp_path: Path) -> Iterator[dict[str, Proc]]:
    procs = {n: write_config(tmp_path, n, database) for n in "ABC"}
    subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(procs["A"].config), "init"],
        cwd=ROOT,
        env=env(procs["A"]),
        check=True,
        capture_output=True,
    )
    try:
        for p in procs.values():
            start(p)
        yield procs
    finally:
        for p in procs.values():
            if p.popen is not None and p.popen.poll() is None:
                p.popen.send_signal(signal.SIGTERM)
        for p in procs.values():
            if p.popen is not None:
                try:
                    p.popen.wait(30)
                except subprocess.TimeoutExpired:
                    p.popen.kill()
                    p.popen.wait()
            if p.log is not None:
                p.log.close()


async def healthy(session: aiohttp.ClientSession, proc: Proc) -> bool:
    try:
        async with session.get(f"{proc.base}/healthz") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


def staff_token(proc: Proc) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(proc.config), "staff", "add", "Ali", "--unit", "pr"],
        cwd=ROOT,
        env=env(proc),
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def send_mail(port: int, attachment: bytes) -> None:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "citizen@example.org", "feedback@example.ir", "چاله در خیابان"
    m["Message-ID"] = "<scale-1@example.org>"
    m.set_content("خیابان ما چاله دارد؛ عکس پیوست است.")
    m.add_attachment(attachment, maintype="image", subtype="png", filename="photo.png")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.send_message(m)


async def execute(db_url: str, sql: str) -> None:
    engine = create_async_engine(db_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def query(db_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(db_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def test_three_processes_share_files_links_limits_and_fail_over(cluster: dict[str, Proc], database: str) -> None:
    a, b, c = cluster["A"], cluster["B"], cluster["C"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for p in (a, b, c):
            await eventually(lambda p=p: healthy(http, p), f"{p.name} answers /healthz", limit=120)
        auth = {"Authorization": f"Bearer {staff_token(a)}"}

        # 1. a file stored by A, fetched through C
        photo = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(20_000)
        await asyncio.to_thread(send_mail, a.smtp, photo)
        async with http.get(f"{c.base}/api/v1/cases", headers=auth) as r:
            [item] = (await r.json())["cases"]
        async with http.get(f"{c.base}/api/v1/cases/{item['code']}", headers=auth) as r:
            case = await r.json()
        [att] = [x for m in case["messages"] for x in m.get("attachments", [])]
        async with http.get(f"{c.base}/api/v1/cases/{item['code']}/attachments/{att['id']}", headers=auth) as r:
            assert r.status == 200 and await r.read() == photo

        # 2. a survey link signed by B, followed on C
        async with http.post(
            f"{b.base}/api/v1/cases/{item['code']}/answer", headers=auth, json={"text": "رسیدگی شد.", "close": True}
        ) as r:
            assert r.status == 200, await r.text()
        [(token,)] = await query(database, "SELECT token FROM survey_invitations")
        async with http.get(f"{c.base}/s/{token}") as r:
            assert r.status == 200 and "<form" in await r.text()

        # 3. one rate limit for the three: a burst of 4 lookups in all, not 4 each
        statuses = []
        for i in range(9):
            target = (a, b, c)[i % 3]
            async with http.get(f"{target.base}/api/v1/track/1234567891") as r:
                statuses.append(r.status)
        assert statuses.count(429) == 5 and all(s != 429 for s in statuses[:4]), statuses

        # 4. A dies in the middle of a pass, holding claimed SMS rows: frozen (no heartbeat,
        # no drain), its rows claimed, then killed; B makes those cases and new ones within 5 s
        a.popen.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
        for n in range(3):
            sms = {"provider": "kannel", "id": f"fo-a{n}", "from": f"+98912555100{n}", "to": "30001234"}
            raw = json.dumps({**sms, "text": "شکایت", "time": "2026-12-07T00:00:00+00:00"}, ensure_ascii=False)
            await execute(
                database,
                "INSERT INTO inbound_spool (channel, source, external_id, envelope, raw, status, attempts, "
                f"created_at, claimed_by, claimed_at) VALUES ('sms', 'kannel', 'fo-a{n}', '{{}}', "
                f"convert_to('{raw}', 'UTF8'), 'pending', 0, now(), '{a.name}', now())",
            )
        a.popen.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        a.popen.wait()  # type: ignore[union-attr]
        killed = time.monotonic()
        for n in range(5):
            url = (
                f"{b.base}/sms/kannel/mo?from=0912555000{n}&to=30001234&text={quote('شکایت')}"
                f"&charset=UTF-8&coding=0&id=fo-{n}&ts=1732000000&smsc=FAKE&token={TOKEN}"
            )
            async with http.get(url, headers={"X-Gateway-Token": TOKEN}) as r:  # as Kannel authenticates
                assert r.status == 200
        sql = "SELECT count(*) FROM messages WHERE direction = 'in' AND external_id LIKE 'fo-%' AND case_id IS NOT NULL"
        try:
            await eventually(lambda: _all_eight(database, sql), "cases from the other process", limit=5.0)
        except AssertionError:
            spool = await query(
                database, "SELECT external_id, status, claimed_by, claimed_at, error FROM inbound_spool"
            )
            raise AssertionError(f"not all 8 cases within 5 s; spool: {spool}") from None
        took = time.monotonic() - killed
    print(json.dumps({"failover_seconds": round(took, 2)}))


async def _all_eight(db_url: str, sql: str) -> bool:
    return (await query(db_url, sql))[0][0] == 8
