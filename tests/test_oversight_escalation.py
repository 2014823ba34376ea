"""New-case notices, digests, reminders and escalation at simulated times, once each,
with two schedulers on one database (two engines, as two processes have): only the
lease holder acts, and even the jobs run side by side by both act once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from gateway.core.access import Viewer
from gateway.core.assignment import set_assignee
from gateway.core.calendar import WorkCalendar
from gateway.core.db import Database
from gateway.core.escalation import run_escalation
from gateway.core.models import AuditEvent, Case, Outbox, Staff
from gateway.core.models_oversight import Notice
from gateway.core.notices import announce_new_cases, send_staff_digests
from gateway.core.runtime import running_context
from gateway.core.scheduler import Scheduler
from gateway.core.staff import add_staff, set_notify
from tests.test_staff_support import submit

TEHRAN = ZoneInfo("Asia/Tehran")
# Sat 23 Esfand 1404, 10:00 Tehran; 4 working days -> due Wed 2026-03-18 23:59:59
BASE = datetime(2026, 3, 14, 10, 0, tzinfo=TEHRAN)
STAFF = [  # name, unit, role, notify
    ("instant", "pr", "staff", "immediate"),
    ("daily", "pr", "staff", "digest"),
    ("quiet", "pr", "staff", "none"),
    ("boss", "pr", "supervisor", "digest"),
    ("chief", "oversight", "admin", "none"),
    ("elsewhere", "roads", "staff", "immediate"),
]


def tehran(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour, minute), TEHRAN)


@pytest_asyncio.fixture
async def office(make_config):
    """Two gateway contexts on one database (two engines), staff, and one case at BASE."""
    cfg = make_config(
        staff={"digest_hour": 18},
        escalation={
            "reminder_share": 0.5,
            "office_after_days": 2,
            "office_role": "admin",
            "office_emails": ["head@example.ir"],
        },
        sla={"days": {"request": 4}},
    )
    async with (
        running_context(cfg, migrate=False, dispatch=False) as a,
        running_context(cfg, migrate=False, dispatch=False, db=Database(cfg.database_url)) as b,
    ):
        for name, unit, role, notify in STAFF:
            await add_staff(a.db, name, unit, role, email=f"{name}@example.ir")
            await set_notify(a.db, name, notify)
        code = (await submit(a, "درخواست گواهی", sender="+989120000001")).case_code
        due = WorkCalendar(cfg.calendar, "Asia/Tehran").due_at(BASE, 4)
        async with a.db.session() as s:
            await s.execute(update(Case).where(Case.code == code).values(created_at=BASE, due_at=due))
        yield a, b, code


async def mails(ctx) -> list[tuple[str, str]]:
    async with ctx.db.session() as s:
        rows = await s.execute(
            select(Outbox.purpose, Outbox.recipient).where(Outbox.purpose != "ack").order_by(Outbox.id)
        )
        return [(p, r.split("@")[0]) for p, r in rows.all()]


async def test_each_step_fires_at_its_time_once_with_two_schedulers(office):
    a, b, code = office
    first, second = Scheduler(a, holder="proc-a"), Scheduler(b, holder="proc-b")
    seen: list[tuple[str, str]] = []

    async def tick(when: datetime) -> list[tuple[str, str]]:
        acted = [await first.tick(when), await second.tick(when)]
        assert acted == [True, False]  # the holder acts, the other stands by
        new = (await mails(a))[len(seen) :]
        seen.extend(new)
        return new

    assert (await tick(tehran("2026-03-14", 10, 1))) == [("notice", "instant")]
    assert (await tick(tehran("2026-03-14", 12))) == []
    assert sorted(await tick(tehran("2026-03-14", 18, 30))) == [("digest", "boss"), ("digest", "daily")]
    assert (await tick(tehran("2026-03-14", 19))) == []  # one digest a day
    await set_assignee(a, Viewer(0, "system", "pr", "staff"), code, "daily")
    assert (await tick(tehran("2026-03-16", 12))) == []  # under half of the time
    assert (await tick(tehran("2026-03-17", 12))) == [("reminder", "daily")]  # the assignee
    assert (await tick(tehran("2026-03-17", 13))) == []
    assert (await tick(tehran("2026-03-19", 9))) == [("overdue", "boss")]  # unit supervisor
    # two working days after Wed 18: Thu 19, then Fri and Nowruz closed, Wed 25 -> office
    assert (await tick(tehran("2026-03-24", 12))) == []
    assert sorted(await tick(tehran("2026-03-26", 9))) == [("office", "chief"), ("office", "head")]
    assert (await tick(tehran("2026-03-27", 9))) == []
    assert first.acted == 11 and second.acted == 0
    await first.stop()
    await second.stop()
    async with a.db.session() as s:
        events = [
            e.action
            for e in (
                await s.execute(
                    select(AuditEvent).where(AuditEvent.action.in_(("reminded", "escalated"))).order_by(AuditEvent.id)
                )
            ).scalars()
        ]
    assert events == ["reminded", "escalated", "escalated"]


async def test_jobs_run_side_by_side_in_both_processes_still_act_once(office):
    a, b, _ = office
    for when in (
        tehran("2026-03-14", 18, 30),
        tehran("2026-03-17", 12),
        tehran("2026-03-19", 9),
        tehran("2026-03-26", 9),
    ):
        for job in (announce_new_cases, send_staff_digests, run_escalation):
            await asyncio.gather(job(a, when), job(b, when), job(a, when))
    counts = Counter(await mails(a))
    assert counts == Counter(
        {
            ("notice", "instant"): 1,
            ("digest", "daily"): 1,
            ("digest", "boss"): 1,
            # no assignee: every unit member is reminded ("none" is
            # about new cases only), the other unit is not
            ("reminder", "instant"): 1,
            ("reminder", "daily"): 1,
            ("reminder", "quiet"): 1,
            ("reminder", "boss"): 1,
            ("overdue", "boss"): 1,
            ("office", "chief"): 1,
            ("office", "head"): 1,
        }
    )
    async with a.db.session() as s:
        keys = Counter(k for (k,) in (await s.execute(select(Notice.key))).all())
    assert set(keys.values()) == {1}


async def test_mails_carry_no_citizen_contact_and_other_units_hear_nothing(office):
    a, _, code = office
    scheduler = Scheduler(a, holder="p")
    await scheduler.tick(tehran("2026-03-26", 9))
    await scheduler.stop()
    async with a.db.session() as s:
        rows = (await s.execute(select(Outbox))).scalars().all()
        elsewhere = (await s.execute(select(Staff.id).where(Staff.name == "elsewhere"))).scalar_one()
        told = {n.staff_id for n in (await s.execute(select(Notice))).scalars()}
    assert rows and all("+98912" not in r.text and "+98912" not in r.subject for r in rows)
    assert all(code in r.text for r in rows)
    assert elsewhere not in told


async def test_answered_cases_are_not_escalated(office):
    a, _, code = office
    async with a.db.session() as s:
        await s.execute(update(Case).where(Case.code == code).values(status="answered"))
    assert await run_escalation(a, tehran("2026-03-26", 9)) == {"reminder": 0, "overdue": 0, "office": 0}
