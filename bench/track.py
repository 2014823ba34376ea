"""Benchmark: /track lookups per second at 1,000,000 cases, beside a bare aiohttp handler
doing the same indexed SELECT (``SELECT … FROM cases WHERE code = ?``) on the same engine,
in the same run.

    .venv/bin/python bench/track.py [--cases 1000000] [--seconds 10] [--concurrency 32]
                                    [--db PATH.db | --pg postgresql+asyncpg://…] [--keep]

Both servers run in this process (one event loop, like ``gateway run``); the load comes
from a separate process (aiohttp client, ``--concurrency`` connections, random codes that
exist).  Rounds of (bare, API, page) are interleaved and the medians compared, because
the machine is shared and noisy.  The rate limiter is set out of the way; everything else
(middlewares, parsing, templates) is the real app.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.core import tracking
from gateway.core.config import parse_config
from gateway.core.models import Case, utcnow
from gateway.core.runtime import running_context
from gateway.web.app import create_app

SAMPLE = 5000
CHUNK = 20000


def make_config(url: str, data_dir: str):
    return parse_config(
        {
            "gateway": {"database_url": url, "data_dir": data_dir},
            "units": [{"code": "pr", "name": "روابط عمومی"}, {"code": "oversight", "name": "o"}],
            "routing": {"default_unit": "pr"},
            "web": {"track_burst": 10**9, "track_per_minute": 10**9},
        },
        Path(data_dir),
    )


async def seed(ctx, total: int) -> list[str]:
    """Fill ``cases`` up to ``total`` rows; return a random sample of existing codes."""
    async with ctx.db.session() as s:
        have = (await s.execute(select(func.count(Case.id)))).scalar_one()
    now = utcnow()
    t0 = time.perf_counter()
    while have < total:
        n = min(CHUNK, total - have)
        rows = [
            {
                "code": tracking.generate(),
                "kind": "request",
                "status": "routed",
                "channel": "sms",
                "contact": f"+98912{random.randrange(10**7):07d}",
                "unit_code": "pr",
                "language": "fa",
                "confidential": False,
                "anonymous": False,
                "search_text": "",
                "created_at": now,
                "updated_at": now,
                "due_at": now,
            }
            for _ in range(n)
        ]
        # Codes are random: a rare clash with an earlier row is skipped, the loop tops up.
        stmt = (
            insert(Case).prefix_with("OR IGNORE")
            if ctx.db.is_sqlite
            else pg_insert(Case).on_conflict_do_nothing(index_elements=["code"])
        )
        async with ctx.db.engine.begin() as conn:
            await conn.execute(stmt, rows)
        async with ctx.db.session() as s:
            have = (await s.execute(select(func.count(Case.id)))).scalar_one()
    if time.perf_counter() - t0 > 1:
        print(f"  loaded to {have:,} cases in {time.perf_counter() - t0:.0f}s", flush=True)
    async with ctx.db.session() as s:
        top = (await s.execute(select(func.max(Case.id)))).scalar_one()
        ids = random.sample(range(1, top + 1), min(SAMPLE, top))
        codes = (await s.execute(select(Case.code).where(Case.id.in_(ids)))).scalars().all()
    return list(codes)


def bare_app(ctx) -> web.Application:
    """The baseline: one handler, the same indexed SELECT, JSON out, nothing else."""
    query = text(
        "SELECT code, kind, status, unit_code, service_code, created_at, updated_at, due_at, "
        "answered_at, closed_at, id, contact FROM cases WHERE code = :c"
    )  # /track's columns
    engine = ctx.db.read_engine  # the same pool and read path as /track

    async def handler(request: web.Request) -> web.Response:
        async with engine.connect() as conn:
            row = (await conn.execute(query, {"c": request.match_info["code"]})).first()
        if row is None:
            return web.json_response({"error": "not_found"}, status=404)
        return web.json_response(
            {
                "code": row[0],
                "kind": row[1],
                "status": row[2],
                "unit": row[3],
                "service_code": row[4],
                "received_at": str(row[5]),
                "updated_at": str(row[6]),
                "due_at": str(row[7]),
                "answered_at": str(row[8]),
                "closed_at": str(row[9]),
            }
        )

    app = web.Application()
    app.router.add_get("/bare/{code}", handler)
    return app


def load(url_pattern: str, codes: list[str], seconds: float, concurrency: int, out: mp.Queue) -> None:
    """Runs in a child process: hit the URL for ``seconds``; report count, errors, latencies."""

    async def run() -> tuple[int, int, list[float]]:
        lat: list[float] = []
        errors = 0
        end = time.perf_counter() + seconds
        async with ClientSession(connector=TCPConnector(limit=concurrency), timeout=ClientTimeout(total=30)) as http:

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < end:
                    t = time.perf_counter()
                    async with http.get(url_pattern.format(code=random.choice(codes))) as r:
                        await r.read()
                        if r.status != 200:
                            errors += 1
                    lat.append(time.perf_counter() - t)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(lat), errors, lat

    out.put(asyncio.run(run()))


async def measure(label: str, url: str, codes: list[str], seconds: float, concurrency: int) -> float:
    q: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=load, args=(url, codes, seconds, concurrency, q))
    proc.start()
    while q.empty():
        await asyncio.sleep(0.05)  # keep serving while the child runs
    n, errors, lat = q.get()
    proc.join()
    lat.sort()
    rate = n / seconds
    print(
        f"  {label:<26} {rate:8,.0f} req/s  p50 {statistics.median(lat) * 1000:6.1f} ms  "
        f"p99 {lat[int(len(lat) * 0.99)] * 1000:6.1f} ms  errors {errors}",
        flush=True,
    )
    return rate


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--db", default="", help="SQLite file (kept between runs with --keep)")
    ap.add_argument("--pg", default="", help="PostgreSQL URL (tables must be migrated or empty)")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp())
    url = args.pg or f"sqlite+aiosqlite:///{Path(args.db or data / 'track.db').resolve()}"
    async with running_context(make_config(url, str(data)), dispatch=False) as ctx:
        print(
            f"{ctx.db.dialect}, {args.cases:,} cases, {args.concurrency} connections, {args.seconds:.0f} s per run",
            flush=True,
        )
        codes = await seed(ctx, args.cases)
        runners = []
        ports = {}
        for name, app in (("bare", bare_app(ctx)), ("gateway", create_app(ctx))):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            ports[name] = runner.addresses[0][1]
            runners.append(runner)
        try:
            bare, gw = f"http://127.0.0.1:{ports['bare']}", f"http://127.0.0.1:{ports['gateway']}"
            targets = [
                ("bare handler + SELECT", bare + "/bare/{code}"),
                ("GET /api/v1/track/{code}", gw + "/api/v1/track/{code}"),
                ("GET /track?code= (HTML)", gw + "/track?code={code}"),
            ]
            rates: dict[str, list[float]] = {label: [] for label, _ in targets}
            for rnd in range(1, args.rounds + 1):  # interleaved rounds: a noisy machine hits all alike
                print(f" round {rnd}", flush=True)
                for label, url in targets:
                    rates[label].append(await measure(label, url, codes, args.seconds, args.concurrency))
            med = {label: statistics.median(r) for label, r in rates.items()}
            base = med["bare handler + SELECT"]
            print(" medians: " + ", ".join(f"{label} {rate:,.0f}/s ({rate / base:.0%})" for label, rate in med.items()))
        finally:
            for runner in runners:
                await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
