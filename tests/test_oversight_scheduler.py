"""The scheduler role: one holder of the lease acts, the digest runs there (not in the web
role), and ``gateway run --only scheduler`` queues the daily digest by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from gateway.core.models import Case, Outbox, utcnow
from gateway.core.runtime import running_context
from gateway.core.scheduler import Scheduler
from tests.peers import eventually
from tests.test_cli import ROOT, conf, start_run
from tests.test_staff_support import submit

UNITS = [
    {"code": "oversight", "name": "حراست", "email": "ov@example.ir"},
    {"code": "pr", "name": "روابط عمومی", "email": "pr@example.ir"},
    {"code": "roads", "name": "راه"},
]


async def test_two_schedulers_one_acts_and_the_other_takes_over_after_a_clean_stop(ctx):
    ran: list[str] = []

    def job(name: str):
        async def record(_ctx, _now):
            ran.append(name)

        return [("record", record)]

    a, b = Scheduler(ctx, job("a"), holder="proc-a"), Scheduler(ctx, job("b"), holder="proc-b")
    for _ in range(3):
        assert await a.tick() is True
        assert await b.tick() is False
    assert ran == ["a", "a", "a"]
    await a.stop()  # hands the lease back
    assert await eventually(b.tick, "the standby takes the lease handed back", 2)
    assert await a.tick() is False
    assert ran == ["a", "a", "a", "b"]
    await b.stop()


async def test_a_dead_holder_is_replaced_within_the_lease_time(ctx):
    """The holder's process dies (its heartbeat stops, nothing is handed back): the standby
    runs the jobs within ``gateway.lease_seconds`` (3 s) of the last beat, not minutes."""
    ran: list[str] = []

    async def record(_ctx, _now):
        ran.append("run")

    a, b = Scheduler(ctx, [("record", record)], holder="dead"), Scheduler(ctx, [("record", record)], holder="live")
    assert await a.tick() and not await b.tick()
    assert a.leases._task is not None
    a.leases._task.cancel()  # the process is gone: no more beats, no release
    began = asyncio.get_running_loop().time()
    assert await eventually(b.tick, "the standby takes the dead holder's lease", 10)
    waited = asyncio.get_running_loop().time() - began
    assert ctx.config.gateway.lease_seconds - 1 < waited  # it did wait for the lease to lapse
    await b.stop()


async def test_a_failing_job_does_not_stop_the_others(ctx):
    ran: list[str] = []

    async def broken(_ctx, _now):
        raise RuntimeError("boom")

    async def fine(_ctx, _now):
        ran.append("fine")

    scheduler = Scheduler(ctx, [("broken", broken), ("fine", fine)], holder="p")
    assert await scheduler.tick()
    await scheduler.stop()
    assert ran == ["fine"]


async def _make_overdue(ctx) -> str:
    code = (await submit(ctx, "درخواست قدیمی", sender="+989120000004")).case_code
    async with ctx.db.session() as s:
        await s.execute(update(Case).where(Case.code == code).values(due_at=utcnow() - timedelta(days=1)))
    return code


async def test_digest_is_queued_by_the_scheduler_not_by_the_web_app(make_config):
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.web.app import create_app

    cfg = make_config(units=UNITS, staff={"digest_hour": 0})
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        code = await _make_overdue(ctx)
        async with TestClient(TestServer(create_app(ctx), host="127.0.0.1")) as client:
            assert (await client.get("/healthz")).status == 200
        async with ctx.db.session() as s:
            assert (await s.execute(select(Outbox).where(Outbox.purpose == "digest"))).first() is None
        scheduler = Scheduler(ctx, holder="p")
        assert await scheduler.tick()
        await scheduler.stop()
        async with ctx.db.session() as s:
            rows = (await s.execute(select(Outbox).where(Outbox.purpose == "digest"))).scalars().all()
        assert [r.recipient for r in rows] == ["pr@example.ir"] and code in rows[0].text


async def test_run_only_scheduler_queues_the_digest(conf, make_config):
    path = conf(
        '[[units]]\ncode = "roads"\nname = "راه"\n[staff]\ndigest_hour = 0\n'
        "[scheduler]\ntick_seconds = 0.2\nlease_seconds = 5\n"
    )
    conf_file = Path(path)
    conf_file.write_text(
        conf_file.read_text(encoding="utf-8").replace(
            'name = "روابط عمومی"', 'name = "روابط عمومی"\nemail = "pr@example.ir"'
        ),
        encoding="utf-8",
    )
    async with running_context(make_config(units=UNITS), migrate=False, dispatch=False) as ctx:
        await _make_overdue(ctx)

        async def digest_rows():
            async with ctx.db.session() as s:
                return (await s.execute(select(Outbox.recipient).where(Outbox.purpose == "digest"))).all()

        proc = start_run(path, "scheduler")
        try:
            rows = await eventually(digest_rows, "the scheduler process queues the digest", 90)
            assert [r.recipient for r in rows] == ["pr@example.ir"]
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


async def test_two_scheduler_processes_tell_a_new_case_once(conf, make_config):
    from gateway.core.models import Lease
    from gateway.core.models_oversight import Notice
    from gateway.core.staff import add_staff, set_notify

    path = conf("[scheduler]\ntick_seconds = 0.2\nlease_seconds = 5\n")
    async with running_context(make_config(), migrate=False, dispatch=False) as ctx:
        await add_staff(ctx.db, "instant", "pr", email="instant@example.ir")
        await set_notify(ctx.db, "instant", "immediate")
        # two machines' worth of schedulers: each process has its own instance name
        procs = [
            start_run(path, "scheduler", env={**os.environ, "GATEWAY_INSTANCE_NAME": f"scheduler-{n}"})
            for n in range(2)
        ]
        try:

            async def holder():
                async with ctx.db.session() as s:
                    return (await s.execute(select(Lease.holder).where(Lease.name == "scheduler"))).scalar()

            first = await eventually(holder, "a scheduler process holds the lease", 90)
            await submit(ctx, "درخواست تازه", sender="+989120000007")

            async def notices():
                async with ctx.db.session() as s:
                    return (await s.execute(select(Outbox.recipient).where(Outbox.purpose == "notice"))).all()

            assert [r.recipient for r in await eventually(notices, "the new-case notice", 90)] == ["instant@example.ir"]
            await asyncio.sleep(1.5)  # several more ticks of both processes
            assert len(await notices()) == 1 and await holder() == first
            async with ctx.db.session() as s:
                assert len((await s.execute(select(Notice))).all()) == 1
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            errs = [p.communicate(timeout=30)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert not any("Traceback" in e for e in errs)


def test_the_scheduler_role_runs_every_timed_job():
    from gateway.serve import scheduler_jobs

    assert [name for name, _ in scheduler_jobs()] == [
        "new-cases",
        "staff-digests",
        "escalation",
        "unit-digest",
        "purge",
        "survey-report",
    ]
