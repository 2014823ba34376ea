"""A person responsible for each case: the assignee.

A case can be assigned to an active staff member of its unit who may see it (a violation
report only to oversight staff); ``"me"`` is the caller, ``None`` clears it.  Moving a
case to another unit clears its assignee (``gateway.core.answers.assign_case``).  Every
change is an audit event.  The answer itself records who gave it (``Case.answered_by``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.access import Viewer, may_see
from gateway.core.answers import ActionResult, CaseActionError, load_case
from gateway.core.context import GatewayContext
from gateway.core.models import AuditEvent, Case, Staff, utcnow


async def _member(s: AsyncSession, viewer: Viewer, who: object) -> Staff | None:
    """The staff row named by ``who`` ("me", a name) or None to clear."""
    if who is None or who == "":
        return None
    if not isinstance(who, str):
        raise CaseActionError("validation_error", 'assignee must be a staff name, "me" or null')
    stmt = select(Staff).where(Staff.active.is_(True))
    stmt = stmt.where(Staff.id == viewer.staff_id) if who == "me" else stmt.where(Staff.name == who)
    member = (await s.execute(stmt)).scalar_one_or_none()
    if member is None:
        raise CaseActionError("unknown_assignee", f"no active staff member {who!r}")
    return member


def check_assignable(member: Staff, case: Case) -> None:
    """Refuse a person outside the case's unit, or one who may not see it."""
    if member.unit_code != case.unit_code or not may_see(Viewer.of(member), case):
        raise CaseActionError("unknown_assignee", f"{member.name!r} is not in the case's unit or may not see it")


async def set_assignee(ctx: GatewayContext, viewer: Viewer, code: str, who: object) -> ActionResult:
    """Assign the case to a person of its unit (or clear the assignee)."""
    async with ctx.db.session() as s:
        case = await load_case(s, viewer, code, lock=True)
        member = await _member(s, viewer, who)
        if member is not None:
            check_assignable(member, case)
        old = case.assignee_id
        new = member.id if member is not None else None
        if old != new:
            previous = (await s.get(Staff, old)).name if old else None  # type: ignore[union-attr]
            case.assignee_id, case.updated_at = new, utcnow()
            s.add(
                AuditEvent(
                    case_id=case.id,
                    actor=viewer.actor,
                    action="assignee_set",
                    detail={"from": previous, "to": member.name if member else None},
                )
            )
        return ActionResult(case.code, case.status, case.unit_code, case.kind)


async def unit_people(s: AsyncSession, case: Case) -> list[tuple[int, str]]:
    """(id, name) of the active staff a case may be assigned to, by name."""
    rows = (
        (
            await s.execute(
                select(Staff).where(Staff.active.is_(True), Staff.unit_code == case.unit_code).order_by(Staff.name)
            )
        )
        .scalars()
        .all()
    )
    return [(m.id, m.name) for m in rows if may_see(Viewer.of(m), case)]
