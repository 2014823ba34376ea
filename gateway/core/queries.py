"""Read-side helpers for the CLI: case summaries and the outbox listing."""

from __future__ import annotations

from sqlalchemy import select, update

from gateway.core.db import Database, rows_changed
from gateway.core.models import Case, Message, Outbox, utcnow


async def case_summary(db: Database, code: str) -> str | None:
    """A plain-text view of one case and its messages (contacts shown: this is for staff)."""
    async with db.session() as s:
        case = (await s.execute(select(Case).where(Case.code == code))).scalar_one_or_none()
        if case is None:
            return None
        msgs = (await s.execute(select(Message).where(Message.case_id == case.id).order_by(Message.id))).scalars().all()
    lines = [
        f"case {case.code}  kind={case.kind}  status={case.status}  channel={case.channel}",
        f"unit={case.unit_code}  service={case.service_code or '-'}  "
        f"confidential={'yes' if case.confidential else 'no'}",
        f"created={case.created_at:%Y-%m-%d %H:%M}Z  due={case.due_at:%Y-%m-%d}  answered={case.answered_at or '-'}",
        f"subject: {case.subject or ''}",
        "",
    ]
    for m in msgs:
        lines.append(
            f"[{m.created_at:%Y-%m-%d %H:%M}] {m.direction} {m.channel}"
            f"{' (automatic)' if m.automatic else ''}: {m.text[:500]}"
        )
    return "\n".join(lines)


async def outbox_list(db: Database, status: str | None, limit: int = 100) -> str:
    """The newest outbox rows as a table."""
    stmt = select(Outbox).order_by(Outbox.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Outbox.status == status)
    async with db.session() as s:
        rows = (await s.execute(stmt)).scalars().all()
    out = [f"{'id':>6} {'channel':7} {'purpose':8} {'status':9} {'tries':>5}  error"]
    out += [f"{r.id:>6} {r.channel:7} {r.purpose:8} {r.status:9} {r.attempts:>5}  {r.last_error or ''}" for r in rows]
    return "\n".join(out)


async def outbox_retry(db: Database, ids: list[int]) -> int:
    """Queue failed rows again (all failed rows when ``ids`` is empty)."""
    stmt = update(Outbox).where(Outbox.status == "failed")
    if ids:
        stmt = stmt.where(Outbox.id.in_(ids))
    async with db.session() as s:
        res = await s.execute(stmt.values(status="pending", attempts=0, next_attempt_at=utcnow()))
        return rows_changed(res)
