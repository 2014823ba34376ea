"""What a citizen may do to their own case after filing it: add information or files,
and, once it has been answered, appeal ("I am not satisfied", with a reason).

The caller (the portal) has already checked that the citizen proved the case's contact or
holds the signed link; these functions only take the case's code.  Each action is one
transaction: the citizen's message (and attachments, stored before the commit), the
dedupe-ledger row that makes a resent form a no-op, the audit event, the case's new state
and a notice to the unit's email through the outbox.

An appeal reopens the case (``routed``), moves it to the appeal unit (``appeal_unit`` of
the case's unit in ``[[units]]``, else the unit itself) and sets ``appeal_level`` from
``portal.appeal_level``: at ``supervisor`` only supervisors, oversight and admins of
that unit see it (:mod:`gateway.core.access`).  A violation report stays with oversight.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.context import GatewayContext
from gateway.core.intake.single import add_message
from gateway.core.messages import Channel, InboundMessage, Kind, Status
from gateway.core.models import AuditEvent, Case, InboundKey, Unit, utcnow
from gateway.core.outbox import add_outbound
from gateway.core.ports import IntakeServices
from gateway.core.text import normalize

PROVIDER = "portal-followup"
APPEALABLE = (Status.ANSWERED.value, Status.CLOSED.value)
NOTICE = {
    "fa": (
        "پیام تازهٔ شهروند در پرونده {code}",
        "شهروند به پرونده {code} {what} افزود. متن را در کارتابل ببینید:\n{link}",
    ),
    "en": (
        "New message from the citizen on case {code}",
        "The citizen added {what} to case {code}. Read it in the console:\n{link}",
    ),
}
WHAT = {
    "fa": {"info": "اطلاعات تازه", "appeal": "اعتراض به پاسخ (درخواست رسیدگی مجدد)"},
    "en": {"info": "new information", "appeal": "an appeal against the answer"},
}


class FollowUpError(Exception):
    """The action cannot be done: ``reason`` is ``not_found`` or ``not_answered``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FollowUpResult:
    """What was done: the case code, its status and unit now, and whether it was a resend."""

    code: str
    status: str
    unit_code: str
    duplicate: bool = False


async def add_information(ctx: GatewayContext, msg: InboundMessage, code: str) -> FollowUpResult:
    """Append the citizen's message (``msg``: channel web, ``external_id`` the form's nonce)
    to case ``code`` and tell the unit."""
    return await _act(ctx, msg, code, appeal=False)


async def file_appeal(ctx: GatewayContext, msg: InboundMessage, code: str) -> FollowUpResult:
    """Reopen an answered case as an appeal with the citizen's reason (``msg.text``)."""
    return await _act(ctx, msg, code, appeal=True)


async def _act(ctx: GatewayContext, msg: InboundMessage, code: str, appeal: bool) -> FollowUpResult:
    msg.attachment_digests = [await ctx.store.put(a.data) for a in msg.attachments]
    async with ctx.db.session() as s:
        result = await s.run_sync(_act_sync, ctx, msg, code, appeal)
    dispatcher = getattr(ctx, "dispatcher", None)
    if dispatcher is not None and not result.duplicate:
        dispatcher.wake()  # the unit's notice goes out now, not at the next poll
    return result


def _act_sync(s: Session, ctx: GatewayContext, msg: InboundMessage, code: str, appeal: bool) -> FollowUpResult:
    stmt = select(Case).where(Case.code == code)
    if s.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = s.execute(stmt).scalar_one_or_none()
    if case is None:
        raise FollowUpError("not_found")
    key = (Channel.WEB.value, PROVIDER, msg.external_id or "")
    seen = (
        s.execute(
            select(InboundKey.case_id).where(
                InboundKey.channel == key[0], InboundKey.provider == key[1], InboundKey.external_id == key[2]
            )
        ).scalar_one_or_none()
        if msg.external_id
        else None
    )
    if seen is not None:
        return FollowUpResult(case.code, case.status, case.unit_code, duplicate=True)
    if appeal and case.status not in APPEALABLE:
        raise FollowUpError("not_answered")
    services = IntakeServices(ctx.config, ctx.templates, ctx.addresses, ctx.store)
    message = add_message(s, services, case, msg, normalize(msg.text))
    message.meta = {**(message.meta or {}), "purpose": "appeal" if appeal else "follow_up"}
    before = (case.status, case.unit_code)
    if appeal:
        _reopen_as_appeal(s, ctx, case)
    elif case.status in APPEALABLE:
        case.status, case.closed_at = Status.ROUTED.value, None
    s.add(
        AuditEvent(
            case=case,
            actor="citizen",
            action="appealed" if appeal else "followed_up",
            detail={
                "from_status": before[0],
                "from_unit": before[1],
                "unit": case.unit_code,
                "files": len(msg.attachments),
            },
        )
    )
    if msg.external_id:
        s.add(
            InboundKey(
                channel=key[0], provider=key[1], external_id=key[2], outcome="appended", case=case, message=message
            )
        )
    _notify_unit(s, ctx, case, "appeal" if appeal else "info")
    s.flush()
    return FollowUpResult(case.code, case.status, case.unit_code)


def _reopen_as_appeal(s: Session, ctx: GatewayContext, case: Case) -> None:
    now = utcnow()
    if case.kind != Kind.VIOLATION_REPORT.value:
        unit = next((u for u in ctx.config.units if u.code == case.unit_code), None)
        case.unit_code = unit.appeal_unit if unit and unit.appeal_unit else case.unit_code
    case.status, case.closed_at = Status.ROUTED.value, None
    case.appeal_level, case.appealed_at, case.updated_at = ctx.config.portal.appeal_level, now, now


def _notify_unit(s: Session, ctx: GatewayContext, case: Case, what: str) -> None:
    """An email to the unit's address (if it has one): no citizen text, only the code."""
    email = s.execute(select(Unit.email).where(Unit.code == case.unit_code)).scalar_one_or_none()
    if not email:
        return
    lang = ctx.config.gateway.language
    subject, text = NOTICE[lang]
    link = f"{ctx.config.gateway.public_base_url}/staff/cases/{case.code}"
    values = {"code": case.code, "what": WHAT[lang][what], "link": link}
    add_outbound(
        s,
        channel=Channel.EMAIL.value,
        purpose="notice",
        recipient=email,
        subject=subject.format(**values),
        text=text.format(**values),
        key=ctx.new_key(Channel.EMAIL.value),
        language=lang,
        payload={"auto_submitted": "auto-generated"},
    )
