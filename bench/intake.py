"""Benchmark: cases created per second through core.intake with 50 concurrent submitters,
beside a baseline in the same run that inserts the same rows (case, message, audit event,
outbound message, outbox row, inbound key) with hand-batched commits and no logic.

    .venv/bin/python bench/intake.py [--n 5000] [--pg postgresql+asyncpg://postgres@127.0.0.1/test]

Also: tracking-code lookup latency at 1,000,000 cases (--lookup) beside a bare indexed SELECT.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.core import tracking
from gateway.core.config import parse_config
from gateway.core.intake.batch import fresh_codes
from gateway.core.intake.planning import plan_case
from gateway.core.messages import Channel, InboundMessage
from gateway.core.models import AuditEvent, Case, InboundKey, Message, Outbox, utcnow
from gateway.core.runtime import running_context
from gateway.core.text import normalize

CONCURRENCY = 50


def make_config(url: str, data_dir: str):
    return parse_config(
        {
            "gateway": {"database_url": url, "data_dir": data_dir},
            "units": [{"code": "oversight", "name": "o"}, {"code": "pr", "name": "p"}],
            "routing": {"default_unit": "pr"},
        },
        Path(data_dir),
    )


async def reset_pg(url: str) -> None:
    eng = create_async_engine(url, poolclass=NullPool)
    async with eng.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await eng.dispose()


async def run_intake(url: str, n: int, data_dir: str) -> float:
    async with running_context(make_config(url, data_dir), dispatch=False) as ctx:
        queue = list(range(n))

        async def submitter() -> None:
            while queue:
                i = queue.pop()
                await ctx.intake.submit(bench_message(i))

        t0 = time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - t0
        batches = ctx.intake.batches
    print(f"    intake: {n} cases in {elapsed:.2f}s, {batches} commits")
    return n / elapsed


def bench_message(i: int) -> InboundMessage:
    """Submission ``i`` of the benchmark: a new case from a new sender each time."""
    return InboundMessage(
        Channel.SMS,
        f"شکایت شماره {i} درباره خدمات اداره",
        external_id=f"bench-{i}",
        provider="kannel",
        sender=f"+98912{i:07d}",
    )


async def run_baseline(url: str, n: int, data_dir: str, batch: int = 50, light: bool = False) -> float:
    """The same rows, inserted by hand: Core multi-row INSERTs, ``batch`` cases per commit,
    no dedupe, routing, templates or threading.  The rows (case, inbound message, audit event,
    acknowledgement message and outbox row, inbound key) are the ones intake writes for the same
    submissions, planned before the clock starts; ``light`` uses short placeholder values instead
    (the baseline of the first measurements)."""
    async with running_context(make_config(url, data_dir), dispatch=False) as ctx:
        now = utcnow()
        messages = [bench_message(n + i) for i in range(n)]
        plans = [
            plan_case(ctx.intake.services, m, normalize(m.text), code, None, None, now)
            for m, code in zip(messages, fresh_codes(n))
        ]
        if light:
            for p in plans:
                p.case.update(subject="s", search_text="x", contact_name=None)
                p.message.update(text="متن", meta={})
                p.ack_message.update(text="ack", subject="")
                p.ack_outbox.update(text="ack", subject="", payload={})
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            part, sent = plans[start : start + batch], messages[start : start + batch]
            async with ctx.db.engine.begin() as conn:
                case_ids = (
                    (
                        await conn.execute(
                            insert(Case).returning(Case.id, sort_by_parameter_order=True), [p.case for p in part]
                        )
                    )
                    .scalars()
                    .all()
                )
                msg_rows = [{**m, "case_id": c} for p, c in zip(part, case_ids) for m in (p.message, p.ack_message)]
                msg_ids = (
                    (await conn.execute(insert(Message).returning(Message.id, sort_by_parameter_order=True), msg_rows))
                    .scalars()
                    .all()
                )
                await conn.execute(insert(AuditEvent), [{**p.audit, "case_id": c} for p, c in zip(part, case_ids)])
                await conn.execute(
                    insert(Outbox),
                    [
                        {**p.ack_outbox, "case_id": c, "message_id": msg_ids[2 * k + 1]}
                        for k, (p, c) in enumerate(zip(part, case_ids))
                    ],
                )
                await conn.execute(
                    insert(InboundKey),
                    [
                        {
                            "channel": "sms",
                            "provider": m.provider,
                            "external_id": m.external_id,
                            "outcome": "created",
                            "case_id": c,
                            "message_id": msg_ids[2 * k],
                            "created_at": now,
                        }
                        for k, (m, c) in enumerate(zip(sent, case_ids))
                    ],
                )
        elapsed = time.perf_counter() - t0
    return n / elapsed


async def compare(label: str, n: int, fresh) -> None:
    """Baselines before and after intake (same rows, then light rows), each on a fresh database;
    ``fresh()`` empties the database and returns its URL."""
    rates = {}
    for name, run in (
        ("same rows", partial(run_baseline, light=False)),
        ("intake", run_intake),
        ("same rows again", partial(run_baseline, light=False)),
        ("light rows", partial(run_baseline, light=True)),
    ):
        url = await fresh()
        with tempfile.TemporaryDirectory() as d:
            rates[name] = await run(url, n, d)
    same = statistics.mean([rates["same rows"], rates["same rows again"]])
    print(
        f"{label}: intake {rates['intake']:,.0f} cases/s; hand-batched baseline, same rows "
        f"{rates['same rows']:,.0f} and {rates['same rows again']:,.0f}/s -> {rates['intake'] / same:.0%}; "
        f"light rows {rates['light rows']:,.0f}/s -> {rates['intake'] / rates['light rows']:.0%}"
    )


async def lookups(url: str, fresh, total: int = 1_000_000, samples: int = 2000) -> None:
    """Tracking-code lookup latency at ``total`` cases: our query path vs a bare SELECT."""
    await fresh()
    with tempfile.TemporaryDirectory() as d:
        async with running_context(make_config(url, d), dispatch=False) as ctx:
            codes: list[str] = []
            now = utcnow()
            t0 = time.perf_counter()
            chunk = 20000
            for _start in range(0, total, chunk):
                rows = []
                for _ in range(chunk):
                    code = tracking.generate()
                    rows.append(
                        {
                            "code": code,
                            "kind": "request",
                            "status": "routed",
                            "channel": "sms",
                            "unit_code": "pr",
                            "language": "fa",
                            "confidential": False,
                            "anonymous": False,
                            "search_text": "",
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    if len(codes) < samples:
                        codes.append(code)
                dialect_insert = sqlite_insert if ctx.db.is_sqlite else pg_insert
                async with ctx.db.engine.begin() as conn:  # random codes clash now and then: skip those
                    await conn.execute(dialect_insert(Case).on_conflict_do_nothing(), rows)
            print(f"    loaded {total:,} cases in {time.perf_counter() - t0:.0f}s")

            async def ours(code: str) -> None:
                async with ctx.db.read_session() as s:  # parse (any digit script) + ORM read
                    (await s.execute(select(Case).where(Case.code == tracking.parse(code)))).scalar_one_or_none()

            async def bare(code: str) -> None:
                async with ctx.db.engine.connect() as conn:
                    await conn.execute(text("SELECT id, status FROM cases WHERE code = :c"), {"c": code})

            for name, fn in (("bare SELECT", bare), ("gateway lookup", ours), ("bare SELECT", bare)):
                lat = []
                for code in codes:
                    t = time.perf_counter()
                    await fn(code)
                    lat.append((time.perf_counter() - t) * 1000)
                lat.sort()
                print(f"    {name}: p50 {statistics.median(lat):.3f} ms, p99 {lat[int(len(lat) * 0.99)]:.3f} ms")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--pg", default="")
    ap.add_argument("--lookup", action="store_true")
    ap.add_argument("--pg-only", action="store_true", help="skip the SQLite comparison")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    counter = iter(range(100))

    async def fresh_sqlite() -> str:
        nonlocal sqlite_url
        sqlite_url = f"sqlite+aiosqlite:///{tmp / f'bench{next(counter)}.db'}"
        return sqlite_url

    async def fresh_pg() -> str:
        await reset_pg(args.pg)
        return args.pg

    sqlite_url = ""
    if args.lookup:
        await fresh_sqlite()
        print("SQLite lookups:")
        await lookups_sqlite(tmp)
        if args.pg:
            print("PostgreSQL lookups:")
            await lookups(args.pg, lambda: reset_pg(args.pg))
        return

    if not args.pg_only:
        await compare("SQLite (WAL, synchronous=FULL)", args.n, fresh_sqlite)
    if args.pg:
        await compare("PostgreSQL", args.n, fresh_pg)


async def lookups_sqlite(tmp: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp / 'lookup.db'}"

    async def nothing() -> None:
        return None

    await lookups(url, nothing)


if __name__ == "__main__":
    asyncio.run(main())
