"""Kannel-style SMS webhook throughput: the gateway (durable group commit on SQLite with
synchronous=FULL, one case + one queued acknowledgement per request) beside a bare aiohttp
app on the same route that parses the request and stores nothing.  Same run, same client.

    .venv/bin/python bench/sms_webhook.py [--seconds 10] [--connections 50] [--direct]

``gateway`` is the default store-first edge (the 200 follows the spool commit; the drainer
makes the cases in the same process); after its run the client watches the database until
no spool row is pending and prints that drain lag and the case count.  ``--direct`` adds a
run with ``sms.spool_first = false`` (intake before the 200).

Each server runs in its own process; the load client (asyncio + aiohttp, keep-alive, one
connection per worker) runs in this one.  Every request is a new MO with a unique Kannel
id and a unique sender, so each one opens a case.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from closed_loop import closed_loop, run_app
from closed_loop import start_server as start_script_server

TEXT = quote("شکایت درباره آسفالت خیابان ۱۲ و چاله‌های بزرگ جلوی مدرسه")


async def serve_gateway(port: int, workdir: str, spool_first: bool = True) -> None:
    from gateway.channels.sms import create
    from gateway.core.config import parse_config
    from gateway.core.runtime import running_context
    from gateway.web.app import create_app

    config = parse_config(
        {
            "gateway": {"database_url": f"sqlite+aiosqlite:///{workdir}/bench.db", "data_dir": f"{workdir}/var"},
            "sms": {
                "provider": "kannel",
                "new_cases_per_hour": 1_000_000,
                "allow_from": ["127.0.0.1"],  # the load generator's address
                "spool_first": spool_first,
            },
        },
        Path(workdir),
    )
    async with running_context(config, migrate=True, dispatch=False) as ctx:
        plugin = create(ctx)
        assert plugin is not None
        await plugin.start()
        try:
            await run_app(create_app(ctx, [plugin.routes()]), port)
        finally:
            await plugin.stop()


async def serve_bare(port: int) -> None:
    from gateway.channels.sms.providers.kannel import parse_mo, raw_query

    async def mo(request: web.Request) -> web.Response:
        parse_mo(raw_query(request))
        return web.Response(text="created")

    app = web.Application()
    app.router.add_get("/sms/kannel/mo", mo)
    await run_app(app, port)


def url(port: int, n: int) -> str:
    sender = f"0912{random.randrange(10**7):07d}"
    return (
        f"http://127.0.0.1:{port}/sms/kannel/mo?from={sender}&to=30001234&text={TEXT}"
        f"&charset=UTF-8&coding=0&id=bench-{os.getpid()}-{port}-{n}&ts={int(time.time())}&smsc=FAKE"
    )


async def load(port: int, seconds: float, connections: int) -> tuple[float, float, float, int]:
    """Return (requests/s, p50 ms, p99 ms, errors) for ``seconds`` of closed-loop load."""

    async def mo(session: aiohttp.ClientSession, n: int) -> bool:
        async with session.get(url(port, n)) as r:
            await r.read()
            return r.status == 200

    return await closed_loop(mo, seconds, connections)


async def start_server(kind: str, port: int, workdir: str) -> asyncio.subprocess.Process:
    return await start_script_server(__file__, kind, port, workdir)


def db_counts(path: str) -> tuple[int, int, int]:
    """(spool rows not processed yet, spool rows, cases) straight from the gateway's SQLite file."""
    with sqlite3.connect(path, timeout=30) as conn:
        pending = conn.execute("SELECT count(*) FROM inbound_spool WHERE status != 'processed'").fetchone()[0]
        return (
            pending,
            conn.execute("SELECT count(*) FROM inbound_spool").fetchone()[0],
            conn.execute("SELECT count(*) FROM cases").fetchone()[0],
        )


async def drain_lag(path: str) -> tuple[int, float, int, int]:
    """(rows pending when the load stopped, seconds until none is, spool rows, cases then)."""
    start = time.perf_counter()
    backlog, rows, cases = await asyncio.to_thread(db_counts, path)
    pending = backlog
    while pending:
        await asyncio.sleep(0.02)
        pending, rows, cases = await asyncio.to_thread(db_counts, path)
    return backlog, time.perf_counter() - start, rows, cases


async def main(seconds: float, connections: int, direct: bool) -> None:
    from tests.peers import free_port

    results, kinds = {}, ["bare", "gateway"] + (["direct"] if direct else [])
    with tempfile.TemporaryDirectory() as workdir:
        for kind in kinds:
            port = free_port()
            run_dir = Path(workdir) / kind
            run_dir.mkdir()
            proc = await start_server(kind, port, str(run_dir))
            try:
                await load(port, 1.0, connections)  # warm-up
                results[kind] = await load(port, seconds, connections)
                if kind == "gateway":
                    backlog, lag, rows, cases = await drain_lag(str(run_dir / "bench.db"))
                    print(
                        f"gateway drain: {backlog} spool rows pending when the load stopped, all drained "
                        f"{lag * 1000:.0f} ms later; {rows} requests spooled (warm-up included), {cases} cases"
                    )
            finally:
                proc.terminate()
                await proc.wait()
    for kind, (rps, p50, p99, errors) in results.items():
        print(f"{kind:8s} {rps:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  errors {errors}")
    ratio = results["gateway"][0] / results["bare"][0]
    print(
        f"gateway/bare throughput: {ratio:.0%} (target >= 40%), gateway p99 {results['gateway'][2]:.1f} ms "
        f"(target < 100 ms); {connections} connections, {seconds:.0f} s each"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        kind, port = sys.argv[2], int(sys.argv[3])
        try:
            asyncio.run(
                serve_bare(port) if kind == "bare" else serve_gateway(port, sys.argv[4], spool_first=kind == "gateway")
            )
        except KeyboardInterrupt:
            pass
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--direct", action="store_true", help="also run with sms.spool_first = false")
    args = ap.parse_args()
    asyncio.run(main(args.seconds, args.connections, args.direct))
