"""Reminders before the due date and escalation after it (a scheduler job).

For each open case with a due date, three steps, each at most once:

- ``reminder``: once ``escalation.reminder_share`` of the time between arrival and the
  due date has passed (and the case is not yet due): the assignee, or, with none, the
  unit's staff who may see the case.
- ``overdue``: once the case is past due: the unit's supervisors who may see it (for a
  violation report, oversight-role supervisors are not a role, so the oversight unit's
  address is used when no supervisor may see it).
- ``office``: ``escalation.office_after_days`` working days (``gateway.core.calendar``)
  after the due date: every active staff member with ``escalation.office_role``, plus
  ``escalation.office_emails``.

A step falls back to the unit's email address when no person can be told.  The step's
``notices`` row (key ``<step>:<case id>``) is the claim: it, the mails and the case's
audit event are one transaction, so a step happens once whatever the number of schedulers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.calendar import work_calendar
from gateway.core.context import GatewayContext
from gateway.core.inbox import OPEN
from gateway.core.models import AuditEvent, Case, Staff, Unit
from gateway.core.models_oversight import Notice
from gateway.core.notices import case_line, console_link, mail_staff, render, staff_mail, staff_of_case

STEPS = ("reminder", "overdue", "office")
AUDIT_ACTION = {"reminder": "reminded", "overdue": "escalated", "office": "escalated"}


def due_steps(ctx: GatewayContext, case: Case, now: datetime) -> list[str]:
    """The steps whose time has come for an open case at ``now`` (before the claim check)."""
    if case.due_at is None:
        return []
    cfg = ctx.config.escalation
    steps = []
    remind_at = case.created_at + (case.due_at - case.created_at) * cfg.reminder_share
    if remind_at <= now < case.due_at:
        steps.append("reminder")
    if now >= case.due_at:
        steps.append("overdue")
        cal = work_calendar(ctx.config.calendar, ctx.config.gateway.timezone)
        if now >= cal.after_working_days(case.due_at, cfg.office_after_days):
            steps.append("office")
    return steps


def _recipients(ctx: GatewayContext, step: str, case: Case, members: list[Staff]) -> list[tuple[str, str]]:
    """(label, address) pairs to tell; the label goes into the audit (staff name or address)."""
    if step == "reminder":
        chosen = [m for m in members if m.id == case.assignee_id and m.unit_code == case.unit_code]
        chosen = chosen or staff_of_case(members, case)
    elif step == "overdue":
        chosen = staff_of_case(members, case, roles=("supervisor",))
    else:
        chosen = [m for m in members if m.role == ctx.config.escalation.office_role]
    pairs = [(m.name, m.email or "") for m in chosen]
    if step == "office":
        pairs += [(address, address) for address in ctx.config.escalation.office_emails]
    return pairs


async def _take_step(
    ctx: GatewayContext, case: Case, step: str, members: list[Staff], unit_email: str | None, now: datetime
) -> bool:
    """Claim one step of one case and queue its mails, in one transaction."""
    to = _recipients(ctx, step, case, members) or ([("unit", unit_email)] if unit_email else [])
    subject, text = render(ctx, step, code=case.code, items=case_line(ctx, case), link=console_link(ctx, case))
    try:
        async with ctx.db.session() as s:
            notice = Notice(
                key=f"{step}:{case.id}",
                kind=step,
                case_id=case.id,
                created_at=now,
                status="sent" if to else "skipped",
                sent_at=now,
            )
            s.add(notice)
            await s.flush()
            for i, (_, address) in enumerate(to):
                outbox_id = await staff_mail(
                    s,
                    ctx,
                    recipient=address,
                    purpose=step[:16],
                    subject=subject,
                    text=text,
                    token=f"{step}-{case.id}-{i}",
                )
                notice.outbox_id = notice.outbox_id or outbox_id
            s.add(
                AuditEvent(
                    case_id=case.id,
                    actor="system",
                    action=AUDIT_ACTION[step],
                    at=now,
                    detail={"step": step, "to": [label for label, _ in to]},
                )
            )
        return True
    except IntegrityError:
        return False  # another scheduler took this step


async def _candidates(s: AsyncSession) -> tuple[list[Case], set[str]]:
    """Open cases with a due date whose last step is not taken yet, and the steps taken."""
    finished = select(Notice.id).where(Notice.case_id == Case.id, Notice.kind == "office").exists()
    cases = list(
        (
            await s.execute(
                select(Case).where(Case.status.in_(OPEN), Case.due_at.is_not(None), ~finished).order_by(Case.due_at)
            )
        ).scalars()
    )
    done = set(
        (
            await s.execute(select(Notice.key).where(Notice.kind.in_(STEPS), Notice.case_id.in_([c.id for c in cases])))
        ).scalars()
    )
    return cases, done


async def run_escalation(ctx: GatewayContext, now: datetime) -> dict[str, int]:
    """Take every step that is due now and not yet taken; count them per step."""
    async with ctx.db.session() as s:
        cases, done = await _candidates(s)
        members = await mail_staff(s)
        unit_emails = {code: email for code, email in (await s.execute(select(Unit.code, Unit.email))).all()}
    taken = dict.fromkeys(STEPS, 0)
    for case in cases:
        for step in due_steps(ctx, case, now):
            if f"{step}:{case.id}" not in done and await _take_step(
                ctx, case, step, members, unit_emails.get(case.unit_code), now
            ):
                taken[step] += 1
    if any(taken.values()):
        ctx.dispatcher.wake()
    return taken
