"""Low survey scores alert the unit's supervisors (Article 9(5): results are used).

A response with any score at or below ``survey.alert_threshold`` queues one email per
supervisor of the response's unit (active staff with role ``supervisor`` and an email),
or to the unit's own address when it has no such supervisor, through the outbox in the
same transaction as the response.  The alert names the unit, service, channel, scores and
comment; never the citizen's contact.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.config import Config
from gateway.core.models import Staff, SurveyResponse, Unit
from gateway.core.outbox import add_outbound


class Services(Protocol):
    """What an alert needs: the gateway context, or intake's services."""

    @property
    def config(self) -> Config: ...

    def new_key(self, channel: str) -> str: ...


QUESTION_FA = {
    "workflow": "روند و مراحل کار",
    "information_match": "انطباق با اطلاعات اعلام‌شده",
    "staff_behaviour": "رفتار کارکنان",
    "timeliness": "به‌موقع بودن",
}


def is_low(ctx: Services, response: SurveyResponse) -> bool:
    """True when one of the response's scores is at or below the alert threshold."""
    limit = ctx.config.survey.alert_threshold
    return limit > 0 and any(int(v) <= limit for v in (response.answers or {}).values())


def alert_recipients(s: Session, unit_code: str | None) -> list[str]:
    """Email addresses of the unit's active supervisors, else the unit's own address."""
    if not unit_code:
        return []
    found = (
        s.execute(
            select(Staff.email)
            .where(
                Staff.unit_code == unit_code,
                Staff.role == "supervisor",
                Staff.active.is_(True),
                Staff.email.is_not(None),
            )
            .order_by(Staff.id)
        )
        .scalars()
        .all()
    )
    if found:
        return [e for e in found if e]
    unit_mail = s.execute(select(Unit.email).where(Unit.code == unit_code)).scalar_one_or_none()
    return [unit_mail] if unit_mail else []


def alert_text(ctx: Services, s: Session, response: SurveyResponse) -> tuple[str, str]:
    """Subject and body of the alert (Persian, the office's language)."""
    unit = s.execute(select(Unit.name).where(Unit.code == response.unit_code)).scalar_one_or_none()
    member = s.get(Staff, response.staff_id) if response.staff_id else None
    staff = member.name if member is not None else "-"
    lines = [f"{QUESTION_FA.get(q, q)}: {v}" for q, v in (response.answers or {}).items()]
    body = "\n".join(
        [
            "یک پاسخ نظرسنجی با امتیاز پایین ثبت شد.",
            f"واحد: {unit or response.unit_code}",
            f"خدمت: {response.service_code or '-'}",
            f"کارمند: {staff}",
            f"مسیر: {response.channel}",
            *lines,
            f"توضیح شهروند: {response.comment or '-'}",
        ]
    )
    return f"هشدار نظرسنجی: امتیاز پایین ({unit or response.unit_code})", body


def queue_low_score_alert(s: Session, ctx: Services, response: SurveyResponse) -> int:
    """Queue the alert emails for a low-scoring response; returns how many were queued."""
    if not is_low(ctx, response):
        return 0
    recipients = alert_recipients(s, response.unit_code)
    if not recipients:
        return 0
    subject, body = alert_text(ctx, s, response)
    for address in recipients:
        add_outbound(
            s,
            channel="email",
            purpose="notice",
            recipient=address,
            text=body,
            subject=subject,
            key=ctx.new_key("email"),
            language="fa",
            payload={"survey_response": response.id},
        )
    return len(recipients)
