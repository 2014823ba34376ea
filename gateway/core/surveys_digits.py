"""Digit surveys without a case, inside intake's transaction: the SMS keyword and the
telephone keypad (Article 9(5): every visitor may answer, on every channel).

* An SMS that is just a survey keyword of ``survey.keywords`` (نظرسنجی, survey), optionally
  followed by a service or unit code (the SMS parser marks it ``Intent.SURVEY_REQUEST``), opens a case-less invitation for that number (at
  most ``survey.sms_per_day`` a day, counted in the database, so across processes) and
  gets the digits survey; the digits the citizen sends back are recorded against it by
  ``intake.replies.record_survey_reply`` like any invited digits survey.
* Keypad answers from the voice menu's survey option (no tracking code given) are an open
  response of the site when the caller has no pending invitation.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.intake.contract import InboundMessage, IntakeResult, Outcome
from gateway.core.intake.sending import send_reply
from gateway.core.models import SurveyInvitation, utcnow
from gateway.core.surveys import SurveyAnswers
from gateway.core.surveys_open import SurveyTarget, add_open_response, find_target
from gateway.core.text import fold, normalize, to_ascii_digits
from gateway.core.vocab import Channel

KEYWORD_SURVEY_HOURS = 24  # how long the digits may come back


def keyword_target(config: Any, text: str) -> SurveyTarget | None:
    """The target an SMS asks a survey about, or None when it is not a survey keyword."""
    words = normalize(text).split()
    if not words or len(words) > 4:
        return None
    keywords = {fold(k).replace(" ", "") for k in config.survey.keywords}
    joined = [fold("".join(words[:n])) for n in range(1, min(len(words), 2) + 1)]
    used = next((n + 1 for n, w in enumerate(joined) if w in keywords), 0)
    if not used:
        return None
    rest = words[used:]
    if not rest:
        return find_target(config, "site")
    code = to_ascii_digits(rest[0])
    return find_target(config, "service", code) or find_target(config, "unit", rest[0]) if len(rest) == 1 else None


def start_keyword_survey(s: Session, svc: Any, msg: InboundMessage) -> IntakeResult | None:
    """Answer a survey keyword by SMS with the digits survey; None if the text is not one."""
    if msg.automatic or not msg.sender:
        return None
    target = keyword_target(svc.config, msg.text)
    if target is None or not svc.config.survey.enabled:
        return None
    now = utcnow()
    asked = s.execute(
        select(func.count())
        .select_from(SurveyInvitation)
        .where(
            SurveyInvitation.case_id.is_(None),
            SurveyInvitation.recipient == msg.sender,
            SurveyInvitation.created_at > now - timedelta(days=1),
        )
    ).scalar_one()
    if asked >= svc.config.survey.sms_per_day:
        return IntakeResult(Outcome.IGNORED, reason="survey_limit")
    s.add(
        SurveyInvitation(
            case_id=None,
            token=f"digits-{secrets.token_hex(16)}",
            channel=Channel.SMS.value,
            recipient=msg.sender,
            created_at=now,
            expires_at=now + timedelta(hours=KEYWORD_SURVEY_HOURS),
            scope=target.scope,
            unit_code=target.unit_code,
            service_code=target.service_code,
        )
    )
    text = send_reply(s, svc, msg, "survey_open_sms", None, target=f" «{target.title}»" if target.title else "")
    return IntakeResult(Outcome.SURVEY, reason="survey_sent", reply_text=text)


def record_keypad_survey(s: Session, svc: Any, msg: InboundMessage, answers: SurveyAnswers) -> IntakeResult | None:
    """Keypad answers with no tracking code and no pending invitation: an open response."""
    if msg.channel is not Channel.VOICE or msg.tracking_code or len(answers.scores) < 3:
        return None
    add_open_response(s, svc, SurveyTarget("site"), answers, channel=Channel.VOICE.value)
    return IntakeResult(Outcome.SURVEY, reason="open_survey")
