"""The staff inbox, read side: list and filter a viewer's cases, and one case in detail.

Lists are keyset-paginated newest first on (created_at, id), so page N costs the same as
page 1 and the ``ix_cases_unit_status_created`` index serves a unit's page by status.
``sort=due`` lists the open cases by due date instead (soonest, so overdue, first), on
(due_at, id).
Text search folds Persian text the same way intake does (``gateway.core.text.fold``);
a query that is a tracking code (any digit script) finds that case.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import tracking
from gateway.core.access import Viewer, case_scope, redact
from gateway.core.errors import FilterError as FilterError  # re-exported: raised here
from gateway.core.messages import Channel, Kind, Status
from gateway.core.models import Attachment, AuditEvent, Case, Message, Staff
from gateway.core.text import fold

MAX_PAGE = 200
ASSIGNEE_NAME = select(Staff.name).where(Staff.id == Case.assignee_id).scalar_subquery()
LIST_COLUMNS = (
    Case.id,
    Case.code,
    Case.kind,
    Case.status,
    Case.channel,
    Case.unit_code,
    Case.subject,
    Case.contact,
    Case.contact_name,
    Case.confidential,
    Case.created_at,
    Case.due_at,
    Case.answered_at,
    ASSIGNEE_NAME.label("assignee"),
    Case.appeal_level,
)
OPEN = (Status.NEW.value, Status.ROUTED.value)
SORTS = ("new", "due")  # newest first; open cases by due date
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class CaseFilter:
    """Filters of the case list; every field optional."""

    status: str | None = None
    kind: str | None = None
    channel: str | None = None
    overdue: bool = False
    assignee: str | None = None  # "me" (the viewer's cases) or "none" (unassigned)
    appeal: bool = False  # only cases reopened by a citizen's appeal
    q: str | None = None
    sort: str = "new"
    limit: int = 50
    cursor: str | None = None

    @classmethod
    def from_query(cls, query: Any) -> CaseFilter:
        """Build from URL query parameters, checking each value."""

        def pick(name: str, allowed: tuple[str, ...]) -> str | None:
            value = (query.get(name) or "").strip() or None
            if value is not None and value not in allowed:
                raise FilterError(name, f"{name} must be one of {', '.join(allowed)}")
            return value

        raw_limit = (query.get("limit") or "50").strip()
        if not raw_limit.isdecimal() or not 1 <= int(raw_limit) <= MAX_PAGE:
            raise FilterError("limit", f"limit must be a number from 1 to {MAX_PAGE}")
        overdue = (query.get("overdue") or "").strip().lower()
        if overdue not in ("", "0", "1", "true", "false"):
            raise FilterError("overdue", "overdue must be true or false")
        appeal = (query.get("appeal") or "").strip().lower()
        if appeal not in ("", "0", "1", "true", "false"):
            raise FilterError("appeal", "appeal must be true or false")
        return cls(
            appeal=appeal in ("1", "true"),
            status=pick("status", tuple(s.value for s in Status)),
            kind=pick("kind", tuple(k.value for k in Kind)),
            channel=pick("channel", tuple(c.value for c in Channel)),
            overdue=overdue in ("1", "true"),
            assignee=pick("assignee", ("me", "none")),
            q=(query.get("q") or "").strip()[:200] or None,
            sort=pick("sort", SORTS) or "new",
            limit=int(raw_limit),
            cursor=(query.get("cursor") or "").strip() or None,
        )


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Open cases past their due date."""
    return and_(Case.status.in_(OPEN), Case.due_at < now)


def encode_cursor(created_at: datetime, case_id: int) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{case_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        return datetime.fromisoformat(when), int(ident)
    except (ValueError, UnicodeDecodeError):
        raise FilterError("cursor", "cursor is not valid") from None


def _search(q: str) -> ColumnElement[bool]:
    try:
        return Case.code == tracking.parse(q)
    except tracking.CodeError:
        pass
    folded = fold(q).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Case.search_text.like(f"%{folded}%", escape="\\")


def list_statement(viewer: Viewer, flt: CaseFilter, now: datetime) -> Any:
    """The SELECT for one page (one row more than the page, to know if more follow)."""
    conds = [case_scope(viewer)]
    if flt.kind:
        conds.append(Case.kind == flt.kind)
    if flt.channel:
        conds.append(Case.channel == flt.channel)
    if flt.overdue:
        conds.append(overdue_clause(now))
    if flt.assignee:
        conds.append(Case.assignee_id == viewer.staff_id if flt.assignee == "me" else Case.assignee_id.is_(None))
    if flt.appeal:
        conds.append(Case.appeal_level.is_not(None))
    if flt.q:
        conds.append(_search(flt.q))
    if flt.sort == "due":
        return _by_due_date(conds, flt)
    if flt.cursor:
        when, ident = decode_cursor(flt.cursor)
        conds.append(or_(Case.created_at < when, and_(Case.created_at == when, Case.id < ident)))
    # One index range scan per status (ix_cases_unit_status_created serves each in order),
    # merged: without this, "all statuses" sorts every case of the unit.
    statuses = [flt.status] if flt.status else [s.value for s in Status]
    if flt.overdue:
        statuses = [st for st in statuses if st in OPEN]
    parts = [
        select(*LIST_COLUMNS)
        .where(*conds, Case.status == st)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(flt.limit + 1)
        for st in statuses or [flt.status or ""]
    ]
    if len(parts) == 1:
        return parts[0]
    merged = union_all(*(select(part.subquery()) for part in parts)).subquery()
    return select(merged).order_by(merged.c.created_at.desc(), merged.c.id.desc()).limit(flt.limit + 1)


def _by_due_date(conds: list[ColumnElement[bool]], flt: CaseFilter) -> Any:
    """Open cases (or the chosen status) soonest due first, keyset on (due_at, id)."""
    due = func.coalesce(Case.due_at, FAR_FUTURE)
    conds.append(Case.status == flt.status if flt.status else Case.status.in_(OPEN))
    if flt.cursor:
        when, ident = decode_cursor(flt.cursor)
        conds.append(or_(due > when, and_(due == when, Case.id > ident)))
    return select(*LIST_COLUMNS).where(*conds).order_by(due.asc(), Case.id.asc()).limit(flt.limit + 1)


async def list_cases(
    s: AsyncSession, viewer: Viewer, flt: CaseFilter, now: datetime
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the viewer's cases (newest first, or by due date) and the next cursor."""
    rows = (await s.execute(list_statement(viewer, flt, now))).all()
    more = len(rows) > flt.limit
    rows = rows[: flt.limit]
    items = []
    for r in rows:
        item = {
            "code": r.code,
            "kind": r.kind,
            "status": r.status,
            "channel": r.channel,
            "unit": r.unit_code,
            "subject": r.subject,
            "contact": r.contact,
            "contact_name": r.contact_name,
            "created_at": r.created_at,
            "due_at": r.due_at,
            "answered_at": r.answered_at,
            "assignee": r.assignee,
            "appeal": r.appeal_level is not None,
            "overdue": r.status in OPEN and r.due_at is not None and r.due_at < now,
        }
        items.append(redact(viewer, _RowCase(r.kind, r.confidential), item))  # type: ignore[arg-type]
    cursor = None
    if more and rows:
        last = rows[-1]
        key = (last.due_at or FAR_FUTURE) if flt.sort == "due" else last.created_at
        cursor = encode_cursor(key, last.id)
    return items, cursor


@dataclass(slots=True)
class _RowCase:
    """Just enough of a case for :func:`gateway.core.access.may_see_reporter`."""

    kind: str
    confidential: bool


FILES_PER_PAGE = 50  # attachments shown per message on one page of a case


async def case_detail(
    s: AsyncSession, viewer: Viewer, case: Case, now: datetime, files_page: int | None = None
) -> dict[str, Any]:
    """A case with its messages (inbound, outbound, notes), attachments and audit events.

    With ``files_page`` (from 1) each message lists only that page of its attachments
    (:data:`FILES_PER_PAGE`), and ``attachment_count`` says how many it has: one mail with
    thousands of files must not make a page of thousands of rows."""
    msgs = (await s.execute(select(Message).where(Message.case_id == case.id).order_by(Message.id))).scalars().all()
    files, counts = await _attachments(s, [m.id for m in msgs], files_page)
    events = (
        (await s.execute(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)))
        .scalars()
        .all()
    )
    rows = await s.execute(
        select(Staff.id, Staff.name).where(Staff.id.in_([i for i in (case.assignee_id, case.answered_by) if i]))
    )
    names = {i: n for i, n in rows.all()}
    data: dict[str, Any] = {
        "code": case.code,
        "kind": case.kind,
        "status": case.status,
        "channel": case.channel,
        "unit": case.unit_code,
        "service": case.service_code,
        "subject": case.subject,
        "language": case.language,
        "contact": case.contact,
        "contact_name": case.contact_name,
        "confidential": case.confidential,
        "anonymous": case.anonymous,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "due_at": case.due_at,
        "first_response_at": case.first_response_at,
        "answered_at": case.answered_at,
        "closed_at": case.closed_at,
        "assignee": names.get(case.assignee_id or 0),
        "answered_by": names.get(case.answered_by or 0),
        "reporter_consent": case.reporter_consent,
        "appeal_level": case.appeal_level,
        "appealed_at": case.appealed_at,
        "overdue": case.status in OPEN and case.due_at is not None and case.due_at < now,
    }
    data = redact(viewer, case, data)
    data["messages"] = [
        redact(
            viewer,
            case,
            {
                "id": m.id,
                "direction": m.direction,
                "channel": m.channel,
                "sender": m.sender,
                "recipient": m.recipient,
                "subject": m.subject,
                "text": m.text,
                "automatic": m.automatic,
                "author": m.author,
                "purpose": (m.meta or {}).get("purpose"),
                "created_at": m.created_at,
                "attachments": files.get(m.id, []),
                "attachment_count": counts.get(m.id, 0),
            },
        )
        for m in msgs
    ]
    data["forwards"] = await _forwards(s, case)
    data["events"] = [{"actor": e.actor, "action": e.action, "at": e.at} for e in events]
    if files_page is not None:
        data["files_page"] = files_page
        data["files_pages"] = max(1, -(-max(counts.values(), default=0) // FILES_PER_PAGE))
    return data


async def _attachments(
    s: AsyncSession, message_ids: list[int], page: int | None
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, int]]:
    """Attachments per message (all, or one page of each), and how many each message has."""
    if not message_ids:
        return {}, {}
    counts = {
        mid: n
        for mid, n in (
            await s.execute(
                select(Attachment.message_id, func.count())
                .where(Attachment.message_id.in_(message_ids))
                .group_by(Attachment.message_id)
            )
        ).all()
    }
    number = func.row_number().over(partition_by=Attachment.message_id, order_by=Attachment.id).label("n")
    listed = (
        select(
            Attachment.id, Attachment.message_id, Attachment.filename, Attachment.content_type, Attachment.size, number
        )
        .where(Attachment.message_id.in_(message_ids))
        .subquery()
    )
    query = select(listed).order_by(listed.c.message_id, listed.c.n)
    if page is not None:
        first = (page - 1) * FILES_PER_PAGE
        query = query.where(listed.c.n > first, listed.c.n <= first + FILES_PER_PAGE)
    files: dict[int, list[dict[str, Any]]] = {}
    for row in (await s.execute(query)).all():
        files.setdefault(row.message_id, []).append(
            {"id": row.id, "filename": row.filename, "content_type": row.content_type, "size": row.size}
        )
    return files, counts


async def find_attachment(s: AsyncSession, case: Case, attachment_id: int) -> Attachment | None:
    """An attachment of one of the case's messages (None if it belongs elsewhere)."""
    return (
        await s.execute(
            select(Attachment)
            .join(Message, Message.id == Attachment.message_id)
            .where(Attachment.id == attachment_id, Message.case_id == case.id)
        )
    ).scalar_one_or_none()


async def _forwards(s: AsyncSession, case: Case) -> list[dict[str, Any]]:
    """The external oversight bodies the case went to (gateway.core.forwarding)."""
    from gateway.core.models_oversight import Forward

    rows = (await s.execute(select(Forward).where(Forward.case_id == case.id).order_by(Forward.id))).scalars()
    return [
        {
            "body": f.body_code,
            "body_name": f.body_name,
            "at": f.created_at,
            "reporter_revealed": f.reporter_revealed,
            "replied_at": f.replied_at,
        }
        for f in rows
    ]
