"""Service levels: overdue cases and the daily digest to each unit.

A case is overdue when it is still open (``new`` or ``routed``) after its due date, which
intake sets from the service's SLA days or the kind's (``[sla] days``).  Once a day, after
``staff.digest_hour`` local time, every unit with an email address and overdue cases gets
one digest by email through the outbox (queued by the ``scheduler`` role).  The digest's idempotency key is derived from the
unit and the local date, so several processes (or a restart) queue it once.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gateway.core.context import GatewayContext
from gateway.core.inbox import overdue_clause
from gateway.core.messages import Channel
from gateway.core.models import Case, Outbox, Unit, utcnow
from gateway.core.outbox import queue_outbound
from gateway.core.templates import KIND_NAMES, format_date
from gateway.core.text import to_persian_digits

MAX_DIGEST_ITEMS = 100


def digest_key(ctx: GatewayContext, unit: str, day: str) -> str:
    """Our signed Message-ID for one unit's digest of one day (stable across processes)."""
    token = "digest-" + re.sub(r"[^A-Za-z0-9-]", "-", unit)[:40] + "-" + day
    return f"<{token}.{ctx.signer.mac('msgid', token, 6)}@{ctx.config.email.message_id_domain}>"


async def overdue_counts(ctx: GatewayContext, now: datetime | None = None) -> dict[str, int]:
    """Overdue cases per unit code."""
    async with ctx.db.session() as s:
        rows = await s.execute(
            select(Case.unit_code, func.count()).where(overdue_clause(now or utcnow())).group_by(Case.unit_code)
        )
        return {unit: n for unit, n in rows.all()}


def _digest_text(ctx: GatewayContext, unit: Unit, cases: list[Case], total: int) -> tuple[str, str]:
    lang = ctx.config.gateway.language
    tz = ctx.config.gateway.timezone
    kinds = KIND_NAMES.get(lang, KIND_NAMES["fa"])
    lines = [f"- {c.code}  {kinds.get(c.kind, c.kind)}  {format_date(c.due_at, lang, tz)}" for c in cases]
    if total > len(cases):
        lines.append(f"… +{total - len(cases)}")
    count = to_persian_digits(str(total)) if lang == "fa" else str(total)
    values = {
        "unit": unit.name,
        "count": count,
        "items": "\n".join(lines),
        "link": f"{ctx.config.gateway.public_base_url}/staff/cases?overdue=1",
    }
    return (ctx.templates.render("digest_subject", lang, **values), ctx.templates.render("digest", lang, **values))


async def queue_daily_digests(ctx: GatewayContext, now: datetime | None = None) -> list[str]:
    """Queue today's digest for every unit that has overdue cases; return their codes."""
    now = now or utcnow()
    day = now.astimezone(ZoneInfo(ctx.config.gateway.timezone)).strftime("%Y%m%d")
    queued = []
    async with ctx.db.session() as s:
        units = (await s.execute(select(Unit).where(Unit.email.is_not(None)))).scalars().all()
    for unit in units:
        key = digest_key(ctx, unit.code, day)
        try:
            async with ctx.db.session() as s:
                if (await s.execute(select(Outbox.id).where(Outbox.idempotency_key == key))).first():
                    continue
                where = (Case.unit_code == unit.code, overdue_clause(now))
                total = (await s.execute(select(func.count()).select_from(Case).where(*where))).scalar_one()
                if not total:
                    continue
                cases = list(
                    (
                        await s.execute(select(Case).where(*where).order_by(Case.due_at).limit(MAX_DIGEST_ITEMS))
                    ).scalars()
                )
                subject, text = _digest_text(ctx, unit, cases, total)
                await queue_outbound(
                    s,
                    channel=Channel.EMAIL.value,
                    purpose="digest",
                    recipient=unit.email or "",
                    subject=subject,
                    text=text,
                    key=key,
                    language=ctx.config.gateway.language,
                    payload={"auto_submitted": "auto-generated"},
                )
            queued.append(unit.code)
        except IntegrityError:
            continue  # another process queued it at the same moment
    if queued:
        ctx.dispatcher.wake()
    return queued


def digest_due(ctx: GatewayContext, now: datetime) -> bool:
    """True once the local clock has passed today's digest hour."""
    return now.astimezone(ZoneInfo(ctx.config.gateway.timezone)).hour >= ctx.config.staff.digest_hour
