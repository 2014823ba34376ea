"""Telling staff about their cases, by email through the outbox (scheduler jobs).

- **New cases**: every active staff member of the case's unit who may see it and has an
  email address is told, at once (``Staff.notify == "immediate"``) or in one digest a day
  after ``staff.digest_hour`` (``"digest"``, the default); ``"none"`` opts out.
- **Reminder / escalation** (``gateway.core.escalation``) use :func:`staff_mail` too.

Exactly once: each (case, staff member) gets one ``notices`` row whose unique ``key`` is
the claim; an email's outbox idempotency key is derived from the notice (or the staff
member and the day, for a digest), so a second scheduler or a retried pass queues
nothing new.  Texts carry the tracking code, kind, due date and a console link, never
the citizen's contact.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.access import Viewer, may_see
from gateway.core.context import GatewayContext
from gateway.core.inbox import OPEN
from gateway.core.messages import Channel
from gateway.core.models import Case, Outbox, Staff
from gateway.core.models_oversight import Notice
from gateway.core.outbox import queue_outbound
from gateway.core.templates import KIND_NAMES, format_date

TEXTS = {
    "fa": {
        "new_subject": "پرونده تازه {code} ({kind})",
        "new": "پرونده تازه‌ای در واحد شما ثبت شد.\n{items}\n\nکارتابل: {link}",
        "digest_subject": "پرونده‌های تازهٔ واحد شما: {count}",
        "digest": "پرونده‌های تازه از آخرین گزارش ({count} مورد):\n{items}\n\nکارتابل: {link}",
        "reminder_subject": "یادآوری مهلت پرونده {code}",
        "reminder": "مهلت پاسخ به این پرونده نزدیک است.\n{items}\n\nکارتابل: {link}",
        "overdue_subject": "پرونده معوق {code}",
        "overdue": "مهلت پاسخ به این پرونده گذشته است و به شما (سرپرست واحد) ارجاع شد.\n{items}\n\nکارتابل: {link}",
        "office_subject": "پرونده معوق {code}: ارجاع به سطح اداره",
        "office": "این پرونده پس از گذشت مهلت و ارجاع به سرپرست واحد هنوز پاسخ نگرفته است.\n{items}\n\nکارتابل: {link}",
    },
    "en": {
        "new_subject": "New case {code} ({kind})",
        "new": "A new case has arrived in your unit.\n{items}\n\nConsole: {link}",
        "digest_subject": "New cases of your unit: {count}",
        "digest": "New cases since the last digest ({count}):\n{items}\n\nConsole: {link}",
        "reminder_subject": "Reminder: case {code} is due soon",
        "reminder": "The answer to this case is due soon.\n{items}\n\nConsole: {link}",
        "overdue_subject": "Overdue case {code}",
        "overdue": "This case is past its due date and is escalated to you (unit supervisor).\n{items}\n\nConsole: {link}",
        "office_subject": "Overdue case {code}: escalated to the office",
        "office": "This case is still unanswered after its due date and the escalation to the unit supervisor.\n{items}\n\nConsole: {link}",
    },
}
MAX_DIGEST_ITEMS = 100


def mail_key(ctx: GatewayContext, token: str) -> str:
    """Our signed Message-ID for a staff mail, stable across processes and retries."""
    token = re.sub(r"[^A-Za-z0-9-]", "-", token)[:80]
    return f"<{token}.{ctx.signer.mac('msgid', token, 6)}@{ctx.config.email.message_id_domain}>"


def case_line(ctx: GatewayContext, case: Case) -> str:
    """One line about a case: code, kind, unit, due date (no citizen data)."""
    lang = ctx.config.gateway.language
    kind = KIND_NAMES.get(lang, KIND_NAMES["fa"]).get(case.kind, case.kind)
    due = format_date(case.due_at, lang, ctx.config.gateway.timezone)
    return f"- {case.code}  {kind}  {case.unit_code}  {due}"


def render(ctx: GatewayContext, name: str, **values: object) -> tuple[str, str]:
    """(subject, text) of a staff mail in the office language."""
    texts = TEXTS.get(ctx.config.gateway.language, TEXTS["fa"])
    return texts[f"{name}_subject"].format(**values), texts[name].format(**values)


async def staff_mail(
    s: AsyncSession, ctx: GatewayContext, *, recipient: str, purpose: str, subject: str, text: str, token: str
) -> int | None:
    """Queue one staff mail unless its key is already queued; the outbox id or None."""
    key = mail_key(ctx, token)
    if (await s.execute(select(Outbox.id).where(Outbox.idempotency_key == key))).first():
        return None
    row = await queue_outbound(
        s,
        channel=Channel.EMAIL.value,
        purpose=purpose,
        recipient=recipient,
        subject=subject,
        text=text,
        key=key,
        language=ctx.config.gateway.language,
        payload={"auto_submitted": "auto-generated"},
    )
    return row.id


def console_link(ctx: GatewayContext, case: Case | None = None) -> str:
    base = f"{ctx.config.gateway.public_base_url}/staff/cases"
    return f"{base}/{case.code}" if case is not None else base


async def mail_staff(s: AsyncSession) -> list[Staff]:
    """Every active staff member with an email address."""
    return list(
        (
            await s.execute(select(Staff).where(Staff.active.is_(True), Staff.email.is_not(None)).order_by(Staff.id))
        ).scalars()
    )


def staff_of_case(members: list[Staff], case: Case, roles: tuple[str, ...] | None = None) -> list[Staff]:
    """Those of ``members`` in the case's unit who may see it (optionally only some roles)."""
    return [
        m
        for m in members
        if m.unit_code == case.unit_code and (not roles or m.role in roles) and may_see(Viewer.of(m), case)
    ]


async def _announce(ctx: GatewayContext, case: Case, member: Staff, now: datetime) -> bool:
    """Claim the (case, member) notice and, for "immediate", queue the mail."""
    try:
        async with ctx.db.session() as s:
            notice = Notice(
                key=f"new:{case.id}:{member.id}",
                kind="new",
                case_id=case.id,
                staff_id=member.id,
                created_at=now,
                status="pending" if member.notify == "digest" else "sent",
            )
            s.add(notice)
            await s.flush()
            if member.notify == "immediate":
                subject, text = render(
                    ctx, "new", code=case.code, kind=case.kind, items=case_line(ctx, case), link=console_link(ctx, case)
                )
                notice.outbox_id = await staff_mail(
                    s,
                    ctx,
                    recipient=member.email or "",
                    purpose="notice",
                    subject=subject,
                    text=text,
                    token=f"new-{case.id}-{member.id}",
                )
                notice.sent_at = now
        return True
    except IntegrityError:
        return False  # another scheduler claimed it


async def announce_new_cases(ctx: GatewayContext, now: datetime) -> int:
    """Claim a new-case notice for every (recent open case, staff member) not yet told."""
    since = now - timedelta(hours=ctx.config.escalation.new_case_hours)
    async with ctx.db.session() as s:
        cases = (
            (
                await s.execute(
                    select(Case)
                    .where(Case.created_at >= since, Case.created_at <= now, Case.status.in_(OPEN))
                    .order_by(Case.id)
                )
            )
            .scalars()
            .all()
        )
        done = set(
            (
                await s.execute(
                    select(Notice.key).where(Notice.kind == "new", Notice.case_id.in_([c.id for c in cases]))
                )
            ).scalars()
        )
        members = await mail_staff(s)
    wanted = [
        (c, m)
        for c in cases
        for m in staff_of_case(members, c)
        if m.notify != "none" and f"new:{c.id}:{m.id}" not in done
    ]
    told = 0
    for case, member in wanted:
        told += await _announce(ctx, case, member, now)
    if told:
        ctx.dispatcher.wake()
    return told


async def send_staff_digests(ctx: GatewayContext, now: datetime) -> list[str]:
    """After the digest hour: one mail a day per staff member with pending new-case notices
    (notices that arrive after today's digest wait for tomorrow's)."""
    local = now.astimezone(ZoneInfo(ctx.config.gateway.timezone))
    if local.hour < ctx.config.staff.digest_hour:
        return []
    async with ctx.db.session() as s:
        staff_ids = set(
            (await s.execute(select(Notice.staff_id).where(Notice.kind == "new", Notice.status == "pending"))).scalars()
        )
    sent = []
    for staff_id in sorted(i for i in staff_ids if i is not None):
        async with ctx.db.session() as s:
            member = await s.get(Staff, staff_id)
            rows = (
                await s.execute(
                    select(Notice, Case)
                    .join(Case, Case.id == Notice.case_id)
                    .where(Notice.staff_id == staff_id, Notice.kind == "new", Notice.status == "pending")
                    .order_by(Notice.id)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            token = f"staff-digest-{staff_id}-{local:%Y%m%d}"
            if member is None or not rows or await _queued(s, mail_key(ctx, token)):
                continue
            items = [case_line(ctx, c) for _, c in rows[:MAX_DIGEST_ITEMS]]
            subject, text = render(ctx, "digest", count=len(rows), items="\n".join(items), link=console_link(ctx))
            outbox_id = None
            if member.active and member.email:
                outbox_id = await staff_mail(
                    s, ctx, recipient=member.email, purpose="digest", subject=subject, text=text, token=token
                )
            for notice, _ in rows:
                notice.status = "sent" if outbox_id else "skipped"
                notice.outbox_id, notice.sent_at = outbox_id, now
            if outbox_id:
                sent.append(member.name)
    if sent:
        ctx.dispatcher.wake()
    return sent


async def _queued(s: AsyncSession, key: str) -> bool:
    return (await s.execute(select(Outbox.id).where(Outbox.idempotency_key == key))).first() is not None
