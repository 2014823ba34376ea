"""Replies the core queues by itself to the sender of a message (help, status, survey
thanks, ...): a template rendered in the case's or the office's language and queued in the
outbox in the writer's transaction.  Apart from ``replies`` so that the survey modules,
which ``replies`` builds on, can send too without an import circle.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.core.intake.contract import InboundMessage
from gateway.core.models import Case
from gateway.core.outbox import add_outbound
from gateway.core.ports import IntakeServices


def send_reply(
    s: Session,
    svc: IntakeServices,
    msg: InboundMessage,
    template: str,
    case: Case | None,
    language: str | None = None,
    **values: object,
) -> str:
    """Render a template and (if the message wants replies) queue it to the sender."""
    lang = language or (case.language if case else svc.config.gateway.language)
    if case is not None:
        values = svc.templates.case_values(case, lang, **values)
    text = svc.templates.render(template, lang, **values)
    if msg.acknowledge and msg.sender and not msg.automatic:
        payload: dict[str, object] = {"auto_submitted": "auto-replied"}
        if msg.external_id:  # threaded to what it answers (RFC 5322 section 3.6.4)
            payload["in_reply_to"] = msg.external_id
            payload["references"] = [*msg.thread_refs[-20:], msg.external_id]
        add_outbound(
            s,
            channel=msg.channel.value,
            purpose=template,
            recipient=msg.sender,
            text=text,
            key=svc.new_key(msg.channel.value),
            case=case,
            language=lang,
            subject=reply_subject(svc, msg, lang),
            payload=payload,
        )
    return text


def reply_subject(svc: IntakeServices, msg: InboundMessage, language: str) -> str:
    """``Re:`` and the subject of the message answered, or a subject of our own."""
    original = " ".join((msg.subject or "").split())
    if not original:
        return svc.templates.render("auto_reply_subject", language)
    return original if original.lower().startswith("re:") else f"Re: {original}"
