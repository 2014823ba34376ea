"""Retention: the purge removes exactly what the policy says (old processed spool rows; the
personal data, attachments and files of long-closed cases) and nothing of open cases."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.core import answers
from gateway.core.access import Viewer
from gateway.core.messages import Channel, InboundAttachment
from gateway.core.models import (
    Attachment,
    AuditEvent,
    Case,
    InboundSpool,
    Message,
    Outbox,
    Staff,
    SurveyInvitation,
    utcnow,
)
from gateway.core.retention import daily_purge, purge
from gateway.core.runtime import running_context
from gateway.core.staff import add_staff
from tests.test_cli import conf, gateway
from tests.test_staff_support import submit

SHARED = b"%PDF-1.4 shared evidence " + b"1" * 300
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64
DAY = timedelta(days=1)


async def stored(ctx, sha256: str) -> bool:
    """Whether the blob store (a folder, or the database on PostgreSQL) has the file."""
    try:
        await ctx.store.get(sha256)
    except FileNotFoundError:
        return False
    return True


async def _case(ctx, code: str) -> Case:
    async with ctx.db.session() as s:
        return (await s.execute(select(Case).where(Case.code == code))).scalar_one()


async def _set(ctx, code: str, **values) -> None:
    async with ctx.db.session() as s:
        await s.execute(update(Case).where(Case.code == code).values(**values))


async def _closed(ctx, viewer, text: str, sender: str, age: timedelta, **kw) -> str:
    code = (await submit(ctx, text, channel=Channel.EMAIL, sender=sender, **kw)).case_code
    await answers.answer_case(ctx, viewer, code, "پاسخ شما", close=True)
    await _set(ctx, code, closed_at=utcnow() - age)
    return code


async def _spool(ctx, status: str, age: timedelta, n: int) -> int:
    async with ctx.db.session() as s:
        row = InboundSpool(
            channel="email",
            source="t",
            external_id=f"s{n}",
            raw=b"From: a@b\r\n\r\nx",
            status=status,
            created_at=utcnow() - age,
            processed_at=None if status == "pending" else utcnow() - age,
        )
        s.add(row)
        await s.flush()
        return row.id


@pytest.fixture
def policy(make_config):
    return make_config(retention={"spool_days": 30, "closed_case_months": 6})


async def _office(ctx):
    await add_staff(ctx.db, "maryam", "pr")
    async with ctx.db.session() as s:
        sid = (await s.execute(select(Staff.id).where(Staff.name == "maryam"))).scalar_one()
    v = Viewer(sid, "maryam", "pr", "staff")
    old = await _closed(
        ctx,
        v,
        "درخواست قدیمی با پیوست",
        "old@citizen.example",
        210 * DAY,
        attachments=[InboundAttachment("a.pdf", "application/pdf", SHARED)],
    )
    voice = await _closed(
        ctx,
        v,
        "پیام قدیمی",
        "voice@citizen.example",
        200 * DAY,
        attachments=[InboundAttachment("m.wav", "audio/wav", AUDIO)],
    )
    recent = await _closed(ctx, v, "درخواست تازه بسته", "recent@citizen.example", 150 * DAY)
    still_open = (
        await submit(
            ctx,
            "درخواست باز قدیمی",
            channel=Channel.EMAIL,
            sender="open@citizen.example",
            attachments=[InboundAttachment("b.pdf", "application/pdf", SHARED)],
        )
    ).case_code
    await _set(ctx, still_open, created_at=utcnow() - 300 * DAY)
    answered = (
        await submit(ctx, "درخواست پاسخ‌داده", channel=Channel.EMAIL, sender="answered@citizen.example")
    ).case_code
    await answers.answer_case(ctx, v, answered, "پاسخ", close=False)
    await _set(ctx, answered, answered_at=utcnow() - 300 * DAY, created_at=utcnow() - 300 * DAY)
    spool = {
        status_age: await _spool(ctx, status_age[0], status_age[1], i)
        for i, status_age in enumerate(
            [
                ("processed", 40 * DAY),
                ("skipped", 31 * DAY),
                ("processed", 10 * DAY),
                ("pending", 40 * DAY),
                ("failed", 40 * DAY),
            ]
        )
    }
    return {"old": old, "voice": voice, "recent": recent, "open": still_open, "answered": answered}, spool


async def test_purge_removes_exactly_what_the_policy_says(policy):
    async with running_context(policy, migrate=False, dispatch=False) as ctx:
        cases, spool = await _office(ctx)
        shared_file, audio_file = hashlib.sha256(SHARED).hexdigest(), hashlib.sha256(AUDIO).hexdigest()
        assert await stored(ctx, shared_file) and await stored(ctx, audio_file)

        dry = await purge(ctx, utcnow(), dry_run=True)
        assert dry.counts() == {"spool_rows": 2, "cases": 2, "messages": 8, "attachments": 2, "files": 0}
        assert (await _case(ctx, cases["old"])).contact == "old@citizen.example"  # dry: untouched

        report = await purge(ctx, utcnow(), actor="cli")
        assert report.counts() == {"spool_rows": 2, "cases": 2, "messages": 8, "attachments": 2, "files": 1}
        assert await stored(ctx, shared_file), "the open case still has the same file"
        assert not await stored(ctx, audio_file)

        async with ctx.db.session() as s:
            left = set((await s.execute(select(InboundSpool.id))).scalars())
            assert left == {spool[("processed", 10 * DAY)], spool[("pending", 40 * DAY)], spool[("failed", 40 * DAY)]}
            for key in ("old", "voice"):
                case = (await s.execute(select(Case).where(Case.code == cases[key]))).scalar_one()
                assert (case.contact, case.contact_name, case.purged_at is not None) == (None, None, True)
                msgs = (await s.execute(select(Message).where(Message.case_id == case.id))).scalars().all()
                assert all(m.sender is None and m.recipient is None for m in msgs)
                assert any("قدیمی" in m.text for m in msgs), "texts stay for statistics"
                assert not (await s.execute(select(Attachment).join(Message).where(Message.case_id == case.id))).first()
                outbox = (await s.execute(select(Outbox).where(Outbox.case_id == case.id))).scalars().all()
                assert outbox and all(o.recipient == "" for o in outbox)
                inv = (
                    await s.execute(select(SurveyInvitation).where(SurveyInvitation.case_id == case.id))
                ).scalar_one()
                assert inv.recipient is None
            for key, contact in (
                ("recent", "recent@citizen.example"),
                ("open", "open@citizen.example"),
                ("answered", "answered@citizen.example"),
            ):
                case = (await s.execute(select(Case).where(Case.code == cases[key]))).scalar_one()
                assert case.contact == contact and case.purged_at is None, key
            open_id = (await s.execute(select(Case.id).where(Case.code == cases["open"]))).scalar_one()
            assert (await s.execute(select(Attachment).join(Message).where(Message.case_id == open_id))).first()
            summary = (
                await s.execute(select(AuditEvent).where(AuditEvent.action == "purged", AuditEvent.case_id.is_(None)))
            ).scalar_one()
        assert summary.actor == "cli" and summary.detail == report.counts()

        again = await purge(ctx, utcnow())
        assert set(again.counts().values()) == {0}
        async with ctx.db.session() as s:
            assert (
                len(
                    (
                        await s.execute(
                            select(AuditEvent).where(AuditEvent.action == "purged", AuditEvent.case_id.is_(None))
                        )
                    ).all()
                )
                == 1
            )


async def test_no_policy_keeps_everything(make_config):
    cfg = make_config(retention={"spool_days": None, "closed_case_months": None})
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        await _office(ctx)
        assert set((await purge(ctx, utcnow())).counts().values()) == {0}


async def test_daily_purge_runs_once_a_day_after_its_hour(policy):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    async with running_context(policy, migrate=False, dispatch=False) as ctx:
        cases, _ = await _office(ctx)
        tehran = ZoneInfo("Asia/Tehran")
        today = utcnow().astimezone(tehran).date()
        early = datetime.combine(today, datetime.min.time(), tehran).replace(hour=2)
        late = early.replace(hour=4)
        assert await daily_purge(ctx, early) is None  # before retention.purge_hour (3)
        first = await daily_purge(ctx, late)
        assert first is not None and first.cases == 2
        assert await daily_purge(ctx, late + timedelta(hours=5)) is None  # once a day


async def test_gateway_purge_command(policy, conf):
    async with running_context(policy, migrate=False, dispatch=False) as ctx:
        cases, _ = await _office(ctx)
        path = conf("[retention]\nspool_days = 30\nclosed_case_months = 6\n")
        dry = gateway("--config", path, "purge", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.strip() == "would purge: spool rows 2, cases 2, messages 8, attachments 2, files 0"
        assert (await _case(ctx, cases["old"])).contact == "old@citizen.example"
        real = gateway("--config", path, "purge")
        assert real.returncode == 0 and real.stdout.startswith("purged: spool rows 2, cases 2")
        assert (await _case(ctx, cases["old"])).contact is None
