"""Shared pieces of the scale-out benchmarks: N real ``gateway run`` processes on one
database (each with its own data_dir, HTTP and SMTP port and instance name), a database
made fresh for the run, an SMTP sink and a Kannel-like sendsms sink that record what the
gateways send, and a tiny TOML writer for the configs.

Not a test helper: benchmarks only (bench/README.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADDRESS = "feedback@example.ir"
KANNEL_TOKEN = "bench-kannel-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def toml(data: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for our configs: scalars, lists of scalars, tables, arrays of tables."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value, False))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            tables.append((key, value, True))
        else:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value, many in tables:
        name = f"{prefix}{key}"
        for item in value if many else [value]:
            out += f"\n[{'[' if many else ''}{name}{']' if many else ''}]\n" + toml(item, f"{name}.")
    return out


async def fresh_database(kind: str, workdir: Path, pg_admin: str) -> str:
    """A new empty database for the run: a SQLite file, or a PostgreSQL database."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'gateway.db'}"
    from sqlalchemy import make_url

    name = f"gw_bench_{secrets.token_hex(4)}"
    await _create_pg(pg_admin, name)
    return make_url(pg_admin).set(database=name).render_as_string(hide_password=False)


async def _create_pg(admin_url: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()


async def drop_pg(url: str) -> None:
    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine

    target = make_url(url)
    engine = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    await engine.dispose()


@dataclass
class Node:
    """One ``gateway run`` process of the cluster."""

    index: int
    name: str
    config: Path
    http_port: int
    smtp_port: int
    roles: str
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None


@dataclass
class Cluster:
    """N gateway processes on one database (see the module doc)."""

    workdir: Path
    database_url: str
    base: dict[str, Any]
    nodes: list[Node] = field(default_factory=list)

    def add(self, roles: str = "", **over: Any) -> Node:
        i = len(self.nodes)
        node = Node(i, f"bench-{i}:{roles or 'all'}", self.workdir / f"node{i}.toml", free_port(), free_port(), roles)
        data = merge(
            self.base,
            {
                "gateway": {"database_url": self.database_url, "data_dir": f"var{i}"},
                "http": {"host": "127.0.0.1", "port": node.http_port},
                "email": {"smtp": {"host": "127.0.0.1", "port": node.smtp_port}},
            },
        )
        node.config.write_text(toml(merge(data, over)), encoding="utf-8")
        self.nodes.append(node)
        return node

    def run_cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "gateway", "--config", str(self.nodes[0].config), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=self.env(self.nodes[0]),
            check=True,
        )
        return out.stdout

    def env(self, node: Node) -> dict[str, str]:
        env = {
            **os.environ,
            "GATEWAY_INSTANCE_NAME": node.name,
            "GATEWAY_KANNEL_TOKEN": KANNEL_TOKEN,
            "GATEWAY_SECRET_KEY": "",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("GATEWAY_DATABASE_URL", None)
        return env

    def start(self, node: Node) -> None:
        node.log = self.workdir / f"node{node.index}.log"
        with open(node.log, "ab") as log:
            node.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "--config", str(node.config), "run", f"--only={node.roles}"],
                cwd=ROOT,
                env=self.env(node),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, node: Node) -> None:
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait()

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(20)
                except subprocess.TimeoutExpired:
                    node.proc.kill()

    def healthy(self, node: Node) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/healthz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_healthy(self, node: Node, limit: float = 60.0) -> float:
        """Seconds from now until /healthz answers 200."""
        start = time.perf_counter()
        while not self.healthy(node):
            if node.proc is not None and node.proc.poll() is not None:
                raise RuntimeError(f"node {node.index} exited: see {node.log}")
            if time.perf_counter() - start > limit:
                raise RuntimeError(f"node {node.index} not healthy after {limit} s")
            time.sleep(0.02)
        return time.perf_counter() - start


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def base_config(sink_smtp_port: int | None = None, kannel_url: str | None = None) -> dict[str, Any]:
    """A gateway config for the benchmarks (units, SMS over Kannel, email relay to the sink)."""
    data: dict[str, Any] = {
        "gateway": {"public_base_url": "http://127.0.0.1:1", "language": "fa"},
        "email": {
            "from_address": ADDRESS,
            "message_id_domain": "feedback.example.ir",
            "smtp": {"addresses": [ADDRESS]},
        },
        "sms": {
            "provider": "kannel",
            "numbers": ["30001234"],
            "new_cases_per_hour": 1_000_000,
            "replies_per_hour": 1_000_000,
        },
        "units": [{"code": "pr", "name": "روابط عمومی"}, {"code": "oversight", "name": "حراست و بازرسی"}],
        "routing": {"default_unit": "pr"},
        "logging": {"level": "WARNING"},
    }
    if sink_smtp_port:
        data["email"]["outbound"] = {
            "host": "127.0.0.1",
            "port": sink_smtp_port,
            "starttls": False,
            "from_address": ADDRESS,
        }
    if kannel_url:
        data["sms"]["kannel"] = {"sendsms_url": kannel_url, "callback_token_env": "GATEWAY_KANNEL_TOKEN"}
        data["outbox"] = {"report_wait_seconds": 30}  # a maybe-sent SMS waits this long for its DLR
    return data


MSGID = re.compile(rb"^In-Reply-To:\s*(<[^>]+>)", re.M | re.I)


class Sinks:
    """An SMTP sink and a Kannel-like sendsms sink; each records (key, time received)."""

    def __init__(self) -> None:
        self.mail: list[tuple[str, str, float]] = []  # (our Message-ID, the citizen's, time)
        self.sms: list[tuple[str, str, float]] = []  # (outbox id, recipient, time)
        self.smtp_port = free_port()
        self.http_port = free_port()
        self.dlr_ports: list[int] = []  # where delivery reports go (the processes' HTTP ports)
        self.tasks: set[asyncio.Task[None]] = set()
        self.reports = 0

    async def start(self) -> None:
        from aiohttp import web
        from aiosmtpd.smtp import SMTP

        sinks = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                raw = bytes(envelope.original_content or b"")
                ours = re.search(rb"^Message-ID:\s*(<[^>]+>)", raw, re.M | re.I)
                theirs = MSGID.search(raw)
                sinks.mail.append(
                    (
                        (ours.group(1) if ours else b"").decode(),
                        (theirs.group(1) if theirs else b"").decode(),
                        time.time(),
                    )
                )
                return "250 OK"

        loop = asyncio.get_running_loop()
        self._smtp = await loop.create_server(
            lambda: SMTP(Handler(), enable_SMTPUTF8=True), "127.0.0.1", self.smtp_port
        )

        async def sendsms(request: web.Request) -> web.Response:
            dlr = request.query.get("dlr-url", "")
            out = dlr.split("out=", 1)[1].split("&", 1)[0] if "out=" in dlr else ""
            sinks.sms.append((out, request.query.get("to", ""), time.time()))
            if dlr and sinks.dlr_ports:
                task = asyncio.create_task(sinks.report(dlr))
                sinks.tasks.add(task)
                task.add_done_callback(sinks.tasks.discard)
            return web.Response(status=202, text="0: Accepted for delivery")

        app = web.Application()
        app.router.add_get("/cgi-bin/sendsms", sendsms)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.http_port).start()

    async def report(self, dlr: str) -> None:
        """Like Kannel: the delivery report to the dlr-url, to any live process, retried."""
        import aiohttp

        path = dlr.split("/sms/", 1)[1].replace("%d", "1").replace("%I", "k1").replace("%T", "1732000000")
        await asyncio.sleep(0.5)
        async with aiohttp.ClientSession(headers={"X-Gateway-Token": KANNEL_TOKEN}) as session:
            for _ in range(40):
                port = random.choice(self.dlr_ports)
                try:
                    async with session.get(
                        f"http://127.0.0.1:{port}/sms/{path}", timeout=aiohttp.ClientTimeout(total=10)
                    ) as r:
                        if r.status == 200:
                            self.reports += 1
                            return
                except Exception:  # noqa: BLE001 - that process is down: another
                    pass
                await asyncio.sleep(0.5)

    @property
    def kannel_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/cgi-bin/sendsms"

    async def stop(self) -> None:
        self._smtp.close()
        await self._runner.cleanup()
