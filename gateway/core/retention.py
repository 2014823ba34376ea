"""Retention: what the office keeps how long (``retention.*``; ``gateway purge`` and a
daily run in the scheduler role).

- **Raw inbound spool rows** (the raw mails and webhook bodies kept for replay) are deleted
  ``retention.spool_days`` after they were processed (``processed`` or ``skipped``);
  ``pending`` and ``failed`` rows wait for an operator and are never purged.
- **Closed cases' personal data**, ``retention.closed_case_months`` (of 30 days) after the
  case closed: the citizen's contact and name on the case, the senders and recipients of
  its messages, the recipients and payloads of its outbox rows and survey invitation are
  replaced by nothing; attachments (voice recordings too) are deleted, with their files
  unless another attachment shares the content.  Texts stay, for statistics.  Open and
  answered cases are never touched; a case is purged once (``Case.purged_at``).

Every run that changes something writes a ``purged`` audit event with the counts (and one
per case, on its timeline); ``--dry-run`` counts without changing anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.context import GatewayContext
from gateway.core.db import rows_changed
from gateway.core.models import Attachment, Case, InboundSpool, Message, Outbox, SurveyInvitation
from gateway.core.vocab import Status

BATCH = 200  # cases per transaction
PURGED_SPOOL = ("processed", "skipped")


@dataclass(slots=True)
class PurgeReport:
    """What a purge removed (or, dry, would remove)."""

    spool_rows: int = 0
    cases: int = 0
    messages: int = 0
    attachments: int = 0
    files: int = 0

    def counts(self) -> dict[str, int]:
        return asdict(self)


def cutoffs(ctx: GatewayContext, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(spool rows processed before, cases closed before); None where the policy keeps all."""
    cfg = ctx.config.retention
    spool = now - timedelta(days=cfg.spool_days) if cfg.spool_days else None
    cases = now - timedelta(days=30 * cfg.closed_case_months) if cfg.closed_case_months else None
    return spool, cases


def _due_cases(before: datetime) -> Select[int]:
    return (
        select(Case.id)
        .where(Case.status == Status.CLOSED.value, Case.closed_at < before, Case.purged_at.is_(None))
        .order_by(Case.id)
    )


async def _purge_spool(s: AsyncSession, before: datetime, dry: bool) -> int:
    where = (
        InboundSpool.status.in_(PURGED_SPOOL),
        func.coalesce(InboundSpool.processed_at, InboundSpool.created_at) < before,
    )
    if dry:
        return (await s.execute(select(func.count()).select_from(InboundSpool).where(*where))).scalar_one()
    return rows_changed(await s.execute(delete(InboundSpool).where(*where)))


async def _purge_cases(s: AsyncSession, ids: list[int], now: datetime, dry: bool, report: PurgeReport) -> list[str]:
    """Strip personal data from these closed cases; return the files no longer referenced."""
    msg_ids = list((await s.execute(select(Message.id).where(Message.case_id.in_(ids)))).scalars())
    atts = (
        (await s.execute(select(Attachment.id, Attachment.sha256).where(Attachment.message_id.in_(msg_ids)))).all()
        if msg_ids
        else []
    )
    report.cases += len(ids)
    report.messages += len(msg_ids)
    report.attachments += len(atts)
    if dry:
        return []
    await s.execute(
        update(Case).where(Case.id.in_(ids)).values(contact=None, contact_name=None, purged_at=now, updated_at=now)
    )
    if msg_ids:
        await s.execute(update(Message).where(Message.id.in_(msg_ids)).values(sender=None, recipient=None))
        await s.execute(delete(Attachment).where(Attachment.message_id.in_(msg_ids)))
    await s.execute(update(Outbox).where(Outbox.case_id.in_(ids)).values(recipient="", payload={}))
    await s.execute(update(SurveyInvitation).where(SurveyInvitation.case_id.in_(ids)).values(recipient=None))
    for case_id in ids:
        s.add(audit.event("system", "purged", case_id, policy="closed_case_months"))
    digests = {sha for _, sha in atts}
    still = (
        set((await s.execute(select(Attachment.sha256).where(Attachment.sha256.in_(digests)))).scalars())
        if digests
        else set()
    )
    return sorted(digests - still)


async def purge(ctx: GatewayContext, now: datetime, *, dry_run: bool = False, actor: str = "system") -> PurgeReport:
    """Apply the retention policy at ``now``; the counts of what went (or would go)."""
    report = PurgeReport()
    spool_before, case_before = cutoffs(ctx, now)
    if spool_before is not None:
        async with ctx.db.session() as s:
            report.spool_rows = await _purge_spool(s, spool_before, dry_run)
    last_id = 0
    while case_before is not None:
        async with ctx.db.session() as s:
            ids = list((await s.execute(_due_cases(case_before).where(Case.id > last_id).limit(BATCH))).scalars())
            if not ids:
                break
            last_id = ids[-1]
            orphans = await _purge_cases(s, ids, now, dry_run, report)
        report.files += await _delete_files(ctx, orphans)  # after the commit: rows never dangle
    if not dry_run and any(report.counts().values()):
        await audit.record(ctx.db, actor, "purged", **report.counts())
    return report


async def _delete_files(ctx: GatewayContext, digests: list[str]) -> int:
    """Delete stored files by digest (through the store); count those that were there."""
    return sum([await ctx.store.delete(sha) for sha in digests])


async def daily_purge(ctx: GatewayContext, now: datetime) -> PurgeReport | None:
    """The scheduler job: once a day after ``retention.purge_hour`` (office time)."""
    local = now.astimezone(ZoneInfo(ctx.config.gateway.timezone))
    if local.hour < ctx.config.retention.purge_hour:
        return None
    day = local.strftime("%Y-%m-%d")
    marker = await ctx.state.get("retention:last-purge")
    if marker and marker.get("day") == day:
        return None
    report = await purge(ctx, now)
    await ctx.state.put("retention:last-purge", {"day": day, **report.counts()})
    return report
