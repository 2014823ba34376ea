"""Staff API case-list latency with 1,000,000 cases, beside a bare indexed SELECT of the
same page, in the same run.

    .venv/bin/python bench/staff_api.py                       # SQLite file under /tmp
    .venv/bin/python bench/staff_api.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench_staff

The database is emptied and filled (COPY on PostgreSQL, executemany on SQLite).  Cases:
60 % unit "pr", 30 % "roads", 10 % "oversight"; 40 % routed, 40 % answered, 15 % closed,
5 % new; created over two years.  Each query is run sequentially ``--requests`` times
(one client, so the figures are latency, not throughput); the API goes over loopback HTTP
to the real app (aiohttp AppRunner, bearer token, JSON), the baseline is the same SELECT
(same WHERE, ORDER BY, LIMIT) through the same SQLAlchemy engine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.core import tracking
from gateway.core.config import parse_config
from gateway.core.models import Base
from gateway.core.runtime import running_context
from gateway.core.staff import add_staff
from gateway.web.app import create_app

COLUMNS = [
    "id",
    "code",
    "kind",
    "status",
    "channel",
    "contact",
    "contact_name",
    "unit_code",
    "service_code",
    "subject",
    "language",
    "confidential",
    "anonymous",
    "related_case_id",
    "search_text",
    "created_at",
    "updated_at",
    "due_at",
    "first_response_at",
    "answered_at",
    "closed_at",
]
COLS = (
    "id, code, kind, status, channel, unit_code, subject, contact, contact_name, "
    "confidential, created_at, due_at, answered_at"
)
ONE_STATUS = (
    f"SELECT {COLS} FROM cases WHERE unit_code = :unit AND kind != 'violation_report' "
    "AND status = '{st}' ORDER BY created_at DESC, id DESC LIMIT 51"
)
MERGED = (
    "SELECT * FROM ("
    + " UNION ALL ".join(
        f"SELECT * FROM ({ONE_STATUS.format(st=st)}) AS s_{st}" for st in ("new", "routed", "answered", "closed")
    )
    + ") AS m ORDER BY created_at DESC, id DESC LIMIT 51"
)
NAIVE = (
    f"SELECT {COLS} FROM cases WHERE unit_code = :unit AND kind != 'violation_report' "
    "ORDER BY created_at DESC, id DESC LIMIT 51"
)
QUERIES = {  # name: (API query string, bare SQL of the same page)
    "status=routed": ("status=routed", ONE_STATUS.format(st="routed")),
    "all statuses": ("", MERGED),
    "all, naive SQL": ("", NAIVE),
}


def make_rows(n: int, seed: int = 7) -> list[tuple[object, ...]]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    codes: set[str] = set()
    rows = []
    for i in range(1, n + 1):
        code = tracking.generate()
        while code in codes:
            code = tracking.generate()
        codes.add(code)
        unit = rng.choices(["pr", "roads", "oversight"], [6, 3, 1])[0]
        status = rng.choices(["routed", "answered", "closed", "new"], [8, 8, 3, 1])[0]
        kind = (
            "violation_report"
            if unit == "oversight" and rng.random() < 0.5
            else rng.choice(["request", "complaint", "suggestion", "criticism"])
        )
        created = start + timedelta(seconds=rng.randrange(0, 730 * 86400))
        answered = created + timedelta(hours=rng.randrange(1, 400)) if status in ("answered", "closed") else None
        rows.append(
            (
                i,
                code,
                kind,
                status,
                rng.choice(["email", "sms", "voice"]),
                f"+98912{i:07d}",
                None,
                unit,
                None,
                f"موضوع نمونه {i}",
                "fa",
                kind == "violation_report",
                False,
                None,
                f"متن نمونه {i}",
                created,
                created,
                created + timedelta(days=10),
                answered,
                answered,
                answered if status == "closed" else None,
            )
        )
    return rows


async def fill(ctx, rows: list[tuple[object, ...]]) -> None:
    names = ", ".join(
        t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in ("units", "services", "alembic_version")
    )
    async with ctx.db.engine.begin() as conn:
        if ctx.db.is_sqlite:
            for t in names.split(", "):
                await conn.execute(text(f"DELETE FROM {t}"))
            raw = await conn.get_raw_connection()
            sql = f"INSERT INTO cases ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
            iso = [tuple(v.isoformat(sep=" ") if isinstance(v, datetime) else v for v in r) for r in rows]
            for i in range(0, len(iso), 50_000):
                await raw.driver_connection.executemany(sql, iso[i : i + 50_000])
        else:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            raw = await conn.get_raw_connection()
            await raw.driver_connection.copy_records_to_table("cases", records=rows, columns=COLUMNS)
        await conn.execute(text("ANALYZE" if ctx.db.is_sqlite else "ANALYZE cases"))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


async def measure(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-staff-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    cfg = parse_config(
        {
            "gateway": {"database_url": url, "data_dir": str(tmp)},
            "units": [
                {"code": "oversight", "name": "حراست"},
                {"code": "pr", "name": "روابط عمومی"},
                {"code": "roads", "name": "راه"},
            ],
        },
        tmp,
    )
    async with running_context(cfg, dispatch=False) as ctx:
        t0 = time.perf_counter()
        rows = make_rows(args.cases)
        await fill(ctx, rows)
        print(f"{ctx.db.dialect}: {args.cases:,} cases written in {time.perf_counter() - t0:.1f} s")
        token = await add_staff(ctx.db, "bench", "pr")
        runner = web.AppRunner(create_app(ctx), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {token}"}, timeout=aiohttp.ClientTimeout(total=30)
            ) as http:
                for name, (qs, bare_sql) in QUERIES.items():
                    sql = text(bare_sql)
                    api, bare = [], []
                    for _ in range(args.warmup if bare_sql != NAIVE else 1):
                        await (await http.get(f"http://127.0.0.1:{port}/api/v1/cases?{qs}")).read()
                    n = args.requests if sql is not None and bare_sql != NAIVE else args.naive_requests
                    for _ in range(n):
                        t = time.perf_counter()
                        resp = await http.get(f"http://127.0.0.1:{port}/api/v1/cases?{qs}")
                        page = await resp.json()
                        api.append(time.perf_counter() - t)
                        assert resp.status == 200 and len(page["cases"]) == 50
                        t = time.perf_counter()
                        async with ctx.db.engine.connect() as conn:
                            got = (await conn.execute(sql, {"unit": "pr"})).all()
                        bare.append(time.perf_counter() - t)
                        assert len(got) == 51
                    print(
                        f"  {name:15} API p50 {pct(api, 50):7.2f} ms  p99 {pct(api, 99):7.2f} ms | "
                        f"bare SELECT p50 {pct(bare, 50):7.2f} ms  p99 {pct(bare, 99):7.2f} ms "
                        f"(mean API {statistics.fmean(api) * 1000:.2f} ms, n={n})"
                    )
        finally:
            await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", default="")
    p.add_argument("--cases", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--naive-requests", type=int, default=20, help="the unindexed sort is slow")
    asyncio.run(measure(p.parse_args()))


if __name__ == "__main__":
    main()
