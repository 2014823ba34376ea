"""Replies the core gives by itself: status queries, survey replies by digits, help texts.

A status reply gives status, unit and dates to anyone with the code; the answer text only
to the contact the case came from.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import tracking
from gateway.core.intake.contract import InboundMessage, IntakeResult, Outcome
from gateway.core.intake.sending import send_reply as send_reply  # re-exported: used here
from gateway.core.models import AuditEvent, Case, Message, SurveyInvitation, SurveyResponse, utcnow
from gateway.core.ports import IntakeServices
from gateway.core.survey_alerts import queue_low_score_alert
from gateway.core.surveys import SurveyAnswers, invitation_attribution
from gateway.core.surveys_digits import record_keypad_survey
from gateway.core.vocab import SURVEY_QUESTIONS as SURVEY_QUESTIONS  # re-exported for older imports


def latest_answer(s: Session, case: Case) -> str | None:
    """The text of the most recent staff answer on a case."""
    row = (
        s.execute(
            select(Message.text)
            .where(
                Message.case_id == case.id, Message.direction == "out", Message.meta["purpose"].as_string() == "answer"
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
    ).first()
    return row[0] if row else None


def answer_status_query(s: Session, svc: IntakeServices, msg: InboundMessage) -> IntakeResult:
    """Look a case up by the code in the message and reply with its status."""
    try:
        code = tracking.parse(msg.tracking_code or msg.text)
    except tracking.CodeError as e:
        text = send_reply(s, svc, msg, "check_code", None)
        return IntakeResult(Outcome.REJECTED, reason=e.reason, reply_text=text)
    case = (s.execute(select(Case).where(Case.code == code))).scalar_one_or_none()
    if case is None:
        text = send_reply(s, svc, msg, "unknown_code", None, code=tracking.display(code, svc.config.gateway.language))
        return IntakeResult(Outcome.REJECTED, reason="unknown_code", reply_text=text)
    own = msg.sender is not None and (case.contact or "").casefold() == msg.sender.casefold()
    answer = latest_answer(s, case) if own and case.answered_at else None
    template = "status_answer" if answer else "status"
    text = send_reply(s, svc, msg, template, case, answer=answer)
    s.add(
        AuditEvent(
            case_id=case.id,
            actor="citizen" if own else "public",
            action="status_query",
            detail={"channel": msg.channel.value, "own": own},
        )
    )
    # reason names the template, so a voice channel knows whether the answer is in the reply
    return IntakeResult(Outcome.STATUS, case.code, case.id, reason=template, reply_text=text)


def pending_invitation(s: Session, channel: str, contact: str, code: str | None = None) -> SurveyInvitation | None:
    """The newest unanswered, unexpired survey invitation sent to ``contact`` on ``channel``;
    with a case ``code`` (the keypad survey after a status check by phone), that case's
    invitation to the same contact on any channel (the answer may have gone out by SMS)."""
    q = select(SurveyInvitation).where(
        SurveyInvitation.recipient == contact,
        SurveyInvitation.responded_at.is_(None),
        SurveyInvitation.expires_at > utcnow(),
    )
    if code:
        q = q.join(Case, Case.id == SurveyInvitation.case_id).where(Case.code == code)
    else:
        q = q.where(SurveyInvitation.channel == channel)
    return (s.execute(q.order_by(SurveyInvitation.id.desc()).limit(1))).scalar_one_or_none()


def record_survey_reply(s: Session, svc: IntakeServices, msg: InboundMessage) -> IntakeResult | None:
    """Store digits answering a pending survey (or the keypad survey without a case);
    None if there is neither."""
    if not msg.survey_answers:
        return None
    scores = [d for d in msg.survey_answers if 1 <= d <= 5]
    answers = dict(zip(SURVEY_QUESTIONS, scores))
    improper = None
    if len(msg.survey_answers) > len(SURVEY_QUESTIONS):
        improper = msg.survey_answers[len(SURVEY_QUESTIONS)] == 1  # 1 = yes, 2 = no
    code = None
    if msg.tracking_code:  # a keypad survey after a status check names its case
        try:
            code = tracking.parse(msg.tracking_code)
        except tracking.CodeError:
            code = None
    invitation = pending_invitation(s, msg.channel.value, msg.sender, code) if msg.sender else None
    if invitation is None:
        return record_keypad_survey(s, svc, msg, SurveyAnswers(answers, improper, ""))
    response = SurveyResponse(
        invitation_id=invitation.id,
        answers=answers,
        improper_request=improper,
        comment="",
        channel=msg.channel.value,
        **invitation_attribution(s, invitation),
    )
    s.add(response)
    invitation.responded_at = utcnow()
    s.flush()
    queue_low_score_alert(s, svc, response)
    case = s.get(Case, invitation.case_id) if invitation.case_id else None
    s.add(
        AuditEvent(
            case_id=invitation.case_id,
            actor="citizen",
            action="survey_response",
            detail={"channel": msg.channel.value, "answers": answers},
        )
    )
    text = send_reply(s, svc, msg, "survey_thanks", case)
    return IntakeResult(Outcome.SURVEY, case.code if case else None, invitation.case_id, reply_text=text)
