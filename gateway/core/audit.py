"""The audit log: who did what and when, in the ``audit_events`` table.

Besides the case events written by the actions themselves (``created``, ``answered``,
``assigned``, ``assignee_set``, ``kind_changed``, ``reminded``, ``escalated``, ...), these
are recorded:

=========================  ==========================================================
action                     when
=========================  ==========================================================
``login``                  a console login succeeded (detail: ``ip``)
``login_failed``           a console login failed (detail: ``name`` if it is a staff
                           member's, ``ip``, ``blocked`` when throttled)
``staff_added``            ``gateway staff add`` (detail: ``name``, ``unit``, ``role``)
``password_set``           a console password was set or changed
``tokens_revoked``         API token(s) revoked (detail: ``count``)
``staff_deactivated``      ``gateway staff deactivate``
``case_viewed``            a confidential case or violation report was opened
``attachment_downloaded``  an attachment was fetched (detail: ``attachment_id``)
``exported``               figures or the audit itself were exported (detail: ``what``)
``forwarded``              a violation report went to an external oversight body
``purged``                 the retention policy removed data (detail: counts)
=========================  ==========================================================

Actors are ``staff:<name>``, ``cli`` (an operator at the command line), ``system`` (the
gateway itself, e.g. the scheduler), ``citizen`` or ``anonymous`` (a failed login).
Details never hold passwords, tokens or a citizen's contact.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.access import VIOLATION, Viewer
from gateway.core.db import Database
from gateway.core.models import AuditEvent, Case, Staff, utcnow

MAX_ROWS = 10000


def event(actor: str, action: str, case_id: int | None = None, **detail: Any) -> AuditEvent:
    """An audit row to add to the caller's transaction."""
    return AuditEvent(case_id=case_id, actor=actor, action=action, detail=detail, at=utcnow())


async def record(db: Database, actor: str, action: str, case_id: int | None = None, **detail: Any) -> None:
    """Write one audit row in its own transaction."""
    async with db.session() as s:
        s.add(event(actor, action, case_id, **detail))


async def login_failed(db: Database, name: str, ip: str | None, blocked: bool = False) -> None:
    """Audit a failed console login; the typed name is kept only if it is a staff member's
    (a password typed into the name field must not end up in the log)."""
    async with db.session() as s:
        known = (await s.execute(select(Staff.name).where(Staff.name == name))).scalar_one_or_none()
        detail: dict[str, Any] = {"name": known, "ip": ip}
        if blocked:
            detail["blocked"] = True
        s.add(event("anonymous", "login_failed", **detail))


def is_sensitive(case: Case) -> bool:
    """Views of these cases are audited: confidential ones and violation reports."""
    return case.confidential or case.kind == VIOLATION


def case_viewed(s: AsyncSession, viewer: Viewer, case: Case, via: str) -> None:
    """Audit a view of a confidential case or violation report (others are not logged)."""
    if is_sensitive(case):
        s.add(event(viewer.actor, "case_viewed", case.id, via=via))


@dataclass(slots=True)
class AuditFilter:
    """Filters of the audit listing; every field optional."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None
    case_code: str | None = None
    limit: int = 500


async def query(s: AsyncSession, flt: AuditFilter) -> list[dict[str, Any]]:
    """Audit rows newest first, with the case code where there is one."""
    stmt = select(AuditEvent, Case.code).outerjoin(Case, Case.id == AuditEvent.case_id)
    if flt.since:
        stmt = stmt.where(AuditEvent.at >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditEvent.at < flt.until)
    if flt.actor:
        stmt = stmt.where(AuditEvent.actor == flt.actor)
    if flt.action:
        stmt = stmt.where(AuditEvent.action == flt.action)
    if flt.case_code:
        stmt = stmt.where(Case.code == flt.case_code)
    rows = await s.execute(
        stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(min(max(flt.limit, 1), MAX_ROWS))
    )
    return [
        {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "case": code, "detail": _public_detail(e)}
        for e, code in rows.all()
    ]


def _public_detail(e: AuditEvent) -> dict[str, Any]:
    """The detail without answer texts (they belong to the case, not to the audit listing)."""
    return {k: v for k, v in (e.detail or {}).items() if k not in ("text", "previous_text")}


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The listing as CSV: at (UTC ISO), actor, action, case, detail (key=value; ...)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "actor", "action", "case", "detail"])
    for r in rows:
        detail = "; ".join(f"{k}={v}" for k, v in sorted(r["detail"].items()))
        writer.writerow(
            [_cell(r["at"].isoformat()), _cell(r["actor"]), _cell(r["action"]), r["case"] or "", _cell(detail)]
        )
    return out.getvalue()


def _cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
