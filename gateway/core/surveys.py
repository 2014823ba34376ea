"""Survey invitations and responses (Article 9(5)): workflow and steps, match with the
information announced before (the service card), staff behaviour, timeliness, each 1-5;
a yes/no "were you asked for anything against the rules?"; a free comment.

An invitation is made once per answered case, never for automatic or no-reply addresses,
and at most once per ``survey.cooldown_days`` to the same citizen.  Its link is
``{public_base_url}/s/{token}`` where the token is signed and carries its expiry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from gateway.core.context import GatewayContext
from gateway.core.errors import SurveyError as SurveyError  # re-exported: raised here
from gateway.core.models import AuditEvent, Case, Outbox, Staff, SurveyInvitation, SurveyResponse, utcnow
from gateway.core.survey_alerts import queue_low_score_alert
from gateway.core.vocab import SURVEY_QUESTIONS

MAX_COMMENT_CHARS = 4000
_NO_REPLY = re.compile(r"(?i)^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounce[s]?)([+.\-@]|$)")


@dataclass(frozen=True, slots=True)
class SurveyAnswers:
    """One validated response."""

    scores: dict[str, int]
    improper_request: bool | None
    comment: str


def is_no_reply(address: str | None) -> bool:
    """True for addresses that must never get a survey (no-reply, daemons)."""
    return not address or bool(_NO_REPLY.match(address.strip()))


async def create_invitation(s: AsyncSession, ctx: GatewayContext, case: Case) -> SurveyInvitation | None:
    """Make the case's one invitation, unless surveys are off, the contact is a robot or
    no-reply address, or the citizen had one within the cooldown."""
    cfg = ctx.config.survey
    if not cfg.enabled or case.contact is None or is_no_reply(case.contact):
        return None
    if (await s.execute(select(SurveyInvitation.id).where(SurveyInvitation.case_id == case.id))).first() is not None:
        return None
    now = utcnow()
    if (
        cfg.cooldown_days
        and (
            await s.execute(
                select(SurveyInvitation.id)
                .where(
                    SurveyInvitation.recipient == case.contact,
                    SurveyInvitation.created_at > now - timedelta(days=cfg.cooldown_days),
                )
                .limit(1)
            )
        ).first()
    ):
        return None
    expires = now + timedelta(days=cfg.expiry_days)
    inv = SurveyInvitation(
        case_id=case.id, token="", channel=case.channel, recipient=case.contact, created_at=now, expires_at=expires
    )
    s.add(inv)
    await s.flush()
    inv.token = ctx.signer.sign("survey", {"i": inv.id}, ttl_seconds=cfg.expiry_days * 86400)
    return inv


def survey_link(ctx: GatewayContext, invitation: SurveyInvitation, language: str | None = None) -> str:
    """The public survey URL for an invitation (in the citizen's language)."""
    return f"{ctx.config.gateway.public_base_url}/s/{invitation.token}{ctx.lang_param(language, True)}"


def hide_survey_link(text: str, link: str, language: str) -> str:
    """``text`` with the survey link replaced by a placeholder (what staff may see)."""
    return text.replace(link, "[پیوند نظرسنجی]" if language == "fa" else "[survey link]")


def cancel_unsent_survey(s: Session, case: Case) -> int:
    """A reopened case gets no survey for the earlier answer: its survey rows still
    waiting in the outbox are cancelled and their unanswered invitation removed (the next
    answer invites again).  Returns the rows cancelled."""
    rows = (
        s.execute(
            select(Outbox).where(Outbox.case_id == case.id, Outbox.purpose == "survey", Outbox.status == "pending")
        )
        .scalars()
        .all()
    )
    for row in rows:
        row.status, row.last_error = "cancelled", "case reopened before the survey was sent"
    if rows:
        s.execute(
            delete(SurveyInvitation).where(SurveyInvitation.case_id == case.id, SurveyInvitation.responded_at.is_(None))
        )
    return len(rows)


async def invitation_for_token(s: AsyncSession, ctx: GatewayContext, token: str) -> SurveyInvitation:
    """The invitation behind a link token; :class:`SurveyError` if forged or expired."""
    if len(token) > 200:
        raise SurveyError("invalid")
    payload = ctx.signer.verify("survey", token)
    if payload is None:
        # Tell "expired" apart from "forged" only for authentic tokens.
        raise SurveyError("expired" if _authentic_but_expired(ctx, token) else "invalid")
    inv = await s.get(SurveyInvitation, int(payload.get("i", 0)))
    if inv is None or inv.token != token:
        raise SurveyError("invalid")
    if inv.expires_at < utcnow():
        raise SurveyError("expired")
    return inv


def _authentic_but_expired(ctx: GatewayContext, token: str) -> bool:
    data, _, sig = token.partition(".")
    return bool(data) and sig == ctx.signer.mac("survey", data)


def validate_answers(form: dict[str, Any]) -> SurveyAnswers:
    """Check a submitted form: each question 1-5, yes/no optional, comment capped."""
    scores: dict[str, int] = {}
    for q in SURVEY_QUESTIONS:
        raw = str(form.get(q, "")).strip()
        if not raw.isdecimal() or not 1 <= int(raw) <= 5:
            raise SurveyError("bad_answers")
        scores[q] = int(raw)
    improper_raw = str(form.get("improper_request", "")).strip().lower()
    improper = {"yes": True, "no": False, "1": True, "0": False}.get(improper_raw)
    comment = str(form.get("comment", ""))[:MAX_COMMENT_CHARS]
    return SurveyAnswers(scores, improper, comment)


async def record_response(
    s: AsyncSession, ctx: GatewayContext, invitation: SurveyInvitation, answers: SurveyAnswers, channel: str = "web"
) -> SurveyResponse:
    """Store the one response of an invitation; a second one raises ``answered``."""
    if invitation.responded_at is not None:
        raise SurveyError("answered")
    who = await s.run_sync(lambda sync: invitation_attribution(sync, invitation))
    resp = SurveyResponse(
        invitation_id=invitation.id,
        answers=answers.scores,
        improper_request=answers.improper_request,
        comment=answers.comment,
        channel=channel,
        **who,
    )
    s.add(resp)
    invitation.responded_at = utcnow()
    s.add(
        AuditEvent(
            case_id=invitation.case_id,
            actor="citizen",
            action="survey_response",
            detail={"channel": channel, "answers": answers.scores, "improper_request": answers.improper_request},
        )
    )
    await s.flush()  # the unique invitation_id catches a concurrent double submit
    await s.run_sync(lambda sync: queue_low_score_alert(sync, ctx, resp))
    return resp


def invitation_attribution(s: Session, invitation: SurveyInvitation) -> dict[str, Any]:
    """Scope, unit, service and staff member a response to ``invitation`` counts for: for
    a case, the staff member who gave the latest answer; else the invitation's target."""
    case = s.get(Case, invitation.case_id) if invitation.case_id else None
    if case is None:
        return {
            "scope": invitation.scope or "site",
            "unit_code": invitation.unit_code,
            "service_code": invitation.service_code,
        }
    return case_attribution(s, case)


def case_attribution(s: Session, case: Case) -> dict[str, Any]:
    """Unit, service and answering staff member of a case."""
    staff_id = getattr(case, "answered_by", None) or _answerer_from_audit(s, case)
    return {"scope": "case", "unit_code": case.unit_code, "service_code": case.service_code, "staff_id": staff_id}


def _answerer_from_audit(s: Session, case: Case) -> int | None:
    actor = s.execute(
        select(AuditEvent.actor)
        .where(AuditEvent.case_id == case.id, AuditEvent.action.in_(("answered", "reanswered")))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if not actor or not actor.startswith("staff:"):
        return None
    return s.execute(select(Staff.id).where(Staff.name == actor[6:])).scalar_one_or_none()
