"""What staff do to a case: answer it, assign it to another unit, add an internal note,
change its kind.  Each action is one transaction that also writes its audit event.

An answer goes back over the channel the citizen used:
email in the same thread (In-Reply-To/References, ``[#code]`` in the subject), SMS to the
number (the SMS sender budgets the text plus the tracking link in ``payload["link"]``),
voice as an SMS to Iranian mobiles (+989...) and as a voice row otherwise.  In the same
transaction the survey invitation of Article 9(5) is made and queued: a signed web link
for email, the channel's own digit survey (four digits 1-5, an optional fifth 1 yes /
2 no) for SMS.  Editing or re-answering keeps the earlier text in the audit log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import tracking
from gateway.core.access import VIOLATION, Viewer, case_scope, may_change_kind
from gateway.core.calendar import work_calendar
from gateway.core.context import GatewayContext
from gateway.core.errors import CaseActionError as CaseActionError  # re-exported: raised here
from gateway.core.messages import Channel, Kind, Status
from gateway.core.models import AuditEvent, Case, Message, Service, Unit, utcnow
from gateway.core.outbox import queue_outbound
from gateway.core.surveys import create_invitation, hide_survey_link, survey_link

MAX_ANSWER_CHARS = 10000
MAX_NOTE_CHARS = 10000
IRANIAN_MOBILE = re.compile(r"^\+989\d{9}$")
OPEN_STATUSES = (Status.NEW.value, Status.ROUTED.value)


@dataclass(slots=True)
class ActionResult:
    """What an action changed."""

    code: str
    status: str
    unit_code: str
    kind: str
    channel: str | None = None  # the channel the answer went out on (None: not sent)
    outbox_ids: list[int] = field(default_factory=list)
    survey: bool = False


def _result(case: Case, **extra: Any) -> ActionResult:
    return ActionResult(case.code, case.status, case.unit_code, case.kind, **extra)


async def load_case(s: AsyncSession, viewer: Viewer, code: str, lock: bool = False) -> Case:
    """The case with ``code`` if the viewer may see it; ``not_found`` otherwise."""
    try:
        code = tracking.parse(code)
    except tracking.CodeError:
        raise CaseActionError("not_found", "no such case") from None
    stmt = select(Case).where(Case.code == code, case_scope(viewer))
    if lock and s.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = (await s.execute(stmt)).scalar_one_or_none()
    if case is None:
        raise CaseActionError("not_found", "no such case")
    return case


def _clean_text(text: object, limit: int, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise CaseActionError("validation_error", f"{what} must be a non-empty string")
    text = text.replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise CaseActionError("validation_error", f"{what} is longer than {limit} characters")
    return text


async def _latest_answer(s: AsyncSession, case: Case) -> str | None:
    """The staff's text of the newest answer, as the audit log holds it."""
    row = (
        await s.execute(
            select(AuditEvent.detail)
            .where(AuditEvent.case_id == case.id, AuditEvent.action.in_(("answered", "reanswered")))
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    ).first()
    return str(row[0].get("text", "")) if row and isinstance(row[0], dict) else None


def answer_route(case: Case) -> tuple[str, str] | None:
    """(channel, recipient) for the answer to a case, or None if it cannot be sent."""
    contact = (case.contact or "").strip()
    if not contact:
        return None
    if case.channel == Channel.VOICE.value:
        return (Channel.SMS.value if IRANIAN_MOBILE.match(contact) else Channel.VOICE.value, contact)
    if case.channel == Channel.WEB.value:
        if "@" in contact:
            return Channel.EMAIL.value, contact
        return (Channel.SMS.value, contact) if contact.startswith("+") else None
    return case.channel, contact


def answer_view_mac(ctx: GatewayContext, code: str) -> str:
    """A short signed token that lets the tracking page show the answer of ``code``."""
    return ctx.signer.mac("answer-view", code, 9)


def answer_link(ctx: GatewayContext, code: str, language: str | None = None) -> str:
    """The tracking page link sent with an answer (code plus the answer-view token)."""
    return f"{ctx.track_link(code, language)}&t={answer_view_mac(ctx, code)}"


async def _email_thread(s: AsyncSession, case: Case) -> dict[str, Any]:
    """In-Reply-To (the newest inbound Message-ID) and References (RFC 5322 3.6.4)."""
    rows = (
        await s.execute(
            select(Message.direction, Message.external_id)
            .where(
                Message.case_id == case.id,
                Message.channel == Channel.EMAIL.value,
                Message.direction.in_(("in", "out")),
                Message.external_id.is_not(None),
            )
            .order_by(Message.id)
        )
    ).all()
    inbound = [ext for direction, ext in rows if direction == "in"]
    if not inbound:
        return {}
    parent = inbound[-1]
    refs = [ext for _, ext in rows if ext != parent][-19:] + [parent]
    return {"in_reply_to": parent, "references": refs}


def _subject(ctx: GatewayContext, template: str, case: Case, values: dict[str, object]) -> str:
    subject = ctx.templates.render(template, case.language, **values)
    tag = f"[#{case.code}]"
    return subject if tag in subject else f"{subject} {tag}"


async def _queue_answer(
    s: AsyncSession, ctx: GatewayContext, case: Case, channel: str, recipient: str, text: str, viewer: Viewer
) -> int:
    lang = case.language
    values = ctx.templates.case_values(case, lang, answer=text, track_link=ctx.track_link(case.code, lang))
    payload: dict[str, Any] = {"link": answer_link(ctx, case.code, lang)}
    subject = ""
    if channel == Channel.EMAIL.value:
        payload.update(await _email_thread(s, case))
        subject = _subject(ctx, "answer_subject", case, values)
    row = await queue_outbound(
        s,
        channel=channel,
        purpose="answer",
        recipient=recipient,
        text=ctx.templates.render("answer", lang, **values),
        subject=subject,
        key=ctx.new_key(channel),
        case=case,
        language=lang,
        payload=payload,
        author=viewer.name,
    )
    return row.id


async def _queue_survey(s: AsyncSession, ctx: GatewayContext, case: Case, channel: str, recipient: str) -> int | None:
    invitation = await create_invitation(s, ctx, case)
    if invitation is None:
        return None
    lang = case.language
    link = ""
    if channel == Channel.EMAIL.value:
        link = survey_link(ctx, invitation, case.language)
        values = ctx.templates.case_values(case, lang, link=link)
        text, payload = ctx.templates.render("survey", lang, **values), {"link": link}
        payload.update(await _email_thread(s, case))  # threaded with the case
        subject = _subject(ctx, "survey_subject", case, values)
    else:
        # The digits survey: replies.record_survey_reply finds the invitation by channel.
        invitation.channel = channel
        text = ctx.templates.render("survey_sms", lang, **ctx.templates.case_values(case, lang))
        payload, subject = {"survey": "digits"}, ""
    # A little later than the answer, so it never overtakes it (the dispatcher sends a batch
    # concurrently and providers do not keep order).
    later = utcnow() + timedelta(seconds=ctx.config.staff.survey_delay_seconds)
    row = await queue_outbound(
        s,
        channel=channel,
        purpose="survey",
        recipient=recipient,
        text=text,
        subject=subject,
        key=ctx.new_key(channel),
        case=case,
        language=lang,
        payload=payload,
        not_before=later,
    )
    if link and row.message is not None:
        # Staff see the case's messages: never the citizen's live link (they could answer
        # their own survey with it).  The outbox row keeps the real text for sending.
        row.message.text = hide_survey_link(text, link, lang)
    return row.id


async def answer_case(
    ctx: GatewayContext, viewer: Viewer, code: str, text: object, close: object = False
) -> ActionResult:
    """Answer a case over its origin channel, mark it answered (or closed), invite the
    citizen to the survey; all in one transaction."""
    text = _clean_text(text, MAX_ANSWER_CHARS, "text")
    if not isinstance(close, bool):
        raise CaseActionError("validation_error", "close must be true or false")
    async with ctx.db.session() as s:
        case = await load_case(s, viewer, code, lock=True)
        previous = await _latest_answer(s, case) if case.answered_at else None
        route = answer_route(case)
        outbox_ids: list[int] = []
        if route is not None:
            outbox_ids.append(await _queue_answer(s, ctx, case, *route, text, viewer))
        else:  # anonymous: the answer is kept on the case, shown on the tracking page
            s.add(
                Message(
                    case_id=case.id,
                    direction="out",
                    channel=case.channel,
                    text=text,
                    author=viewer.name,
                    meta={"purpose": "answer", "unsent": True},
                )
            )
        now = utcnow()
        old_status = case.status
        case.status = Status.CLOSED.value if close else Status.ANSWERED.value
        # staff ids start at 1; a Viewer with id 0 (tools, tests) is nobody in the staff table
        case.answered_at, case.updated_at, case.answered_by = now, now, viewer.staff_id or None
        case.first_response_at = case.first_response_at or now
        case.closed_at = now if close else None
        detail: dict[str, Any] = {
            "channel": route[0] if route else None,
            "close": close,
            "from": old_status,
            "text": text,
            "staff_id": viewer.staff_id,
        }
        if previous is not None:
            detail["previous_text"] = previous
        s.add(
            AuditEvent(
                case_id=case.id,
                actor=viewer.actor,
                action="reanswered" if previous is not None else "answered",
                detail=detail,
            )
        )
        survey_id = await _queue_survey(s, ctx, case, *route) if route else None
        if survey_id is not None:
            outbox_ids.append(survey_id)
        result = _result(case, channel=route[0] if route else None, outbox_ids=outbox_ids, survey=survey_id is not None)
    ctx.dispatcher.wake()
    return result


async def assign_case(
    ctx: GatewayContext, viewer: Viewer, code: str, unit: object, note: object = None
) -> ActionResult:
    """Move a case to another unit (violation reports stay with oversight)."""
    if not isinstance(unit, str) or not unit:
        raise CaseActionError("validation_error", "unit must be a unit code")
    note_text = _clean_text(note, MAX_NOTE_CHARS, "note") if note not in (None, "") else None
    async with ctx.db.session() as s:
        case = await load_case(s, viewer, code, lock=True)
        if (await s.execute(select(Unit.id).where(Unit.code == unit))).first() is None:
            raise CaseActionError("unknown_unit", f"unknown unit {unit!r}")
        if case.kind == VIOLATION:
            raise CaseActionError("forbidden_for_kind", "violation reports stay with the oversight unit")
        old = case.unit_code
        case.unit_code, case.updated_at = unit, utcnow()
        if unit != old:
            case.assignee_id = None  # the person was responsible within the old unit
        if case.status == Status.NEW.value:
            case.status = Status.ROUTED.value
        if note_text:
            s.add(
                Message(
                    case_id=case.id,
                    direction="note",
                    channel=case.channel,
                    text=note_text,
                    author=viewer.name,
                    meta={"purpose": "note"},
                )
            )
        s.add(AuditEvent(case_id=case.id, actor=viewer.actor, action="assigned", detail={"from": old, "to": unit}))
        return _result(case)


async def add_note(ctx: GatewayContext, viewer: Viewer, code: str, text: object) -> ActionResult:
    """An internal note on a case, seen by staff only."""
    text = _clean_text(text, MAX_NOTE_CHARS, "text")
    async with ctx.db.session() as s:
        case = await load_case(s, viewer, code)
        s.add(
            Message(
                case_id=case.id,
                direction="note",
                channel=case.channel,
                text=text,
                author=viewer.name,
                meta={"purpose": "note"},
            )
        )
        case.updated_at = utcnow()
        s.add(AuditEvent(case_id=case.id, actor=viewer.actor, action="note_added", detail={"chars": len(text)}))
        return _result(case)


async def change_kind(ctx: GatewayContext, viewer: Viewer, code: str, kind: object) -> ActionResult:
    """Reclassify a case; a violation report goes to oversight and becomes confidential."""
    try:
        new_kind = Kind(kind).value
    except ValueError:
        raise CaseActionError("validation_error", f"kind must be one of {', '.join(k.value for k in Kind)}") from None
    async with ctx.db.session() as s:
        case = await load_case(s, viewer, code, lock=True)
        if not may_change_kind(viewer, case, new_kind):
            raise CaseActionError("forbidden_for_kind", "only oversight staff may reclassify a violation report")
        old = case.kind
        if old == new_kind:
            return _result(case)
        case.kind, case.updated_at = new_kind, utcnow()
        if new_kind == VIOLATION:
            case.unit_code, case.confidential = ctx.config.routing.oversight_unit, True
            case.assignee_id = None
        if case.service_code is None or new_kind == VIOLATION:
            days = await _sla_days(s, ctx, case)
            cal = work_calendar(ctx.config.calendar, ctx.config.gateway.timezone)
            case.due_at = cal.due_at(case.created_at, days)
        s.add(
            AuditEvent(
                case_id=case.id,
                actor=viewer.actor,
                action="kind_changed",
                detail={"from": old, "to": new_kind, "unit": case.unit_code},
            )
        )
        return _result(case)


async def _sla_days(s: AsyncSession, ctx: GatewayContext, case: Case) -> int:
    if case.service_code and case.kind != VIOLATION:
        days = (await s.execute(select(Service.sla_days).where(Service.code == case.service_code))).scalar_one_or_none()
        if days is not None:
            return days
    return ctx.config.sla.days_for(Kind(case.kind))
