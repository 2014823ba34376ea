"""What intake does with one message, inside the writer's transaction (one savepoint).

Order: status query / survey reply intents; the dedupe ledger; threading (our Message-IDs,
an explicit code, codes in the body, a recent case of the same contact when the channel asks
for it); a new case (classify, route, due date, acknowledgement).  A code from someone who
is not the case's citizen opens a new case that references the old one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import tracking
from gateway.core.context import GatewayContext
from gateway.core.messages import (InboundAttachment, InboundMessage, IntakeResult, Intent, Kind,
                                   Outcome, Status)
from gateway.core.models import (Attachment, AuditEvent, Case, InboundKey, Message, Service,
                                 utcnow)
from gateway.core.outbox import add_outbound
from gateway.core.replies import answer_status_query, record_survey_reply, send_reply
from gateway.core.routing import RouteInput, classify, route
from gateway.core.store import safe_filename
from gateway.core.text import fold, normalize

_PERSIAN_LETTERS = re.compile("[\u0600-\u06ff]")
_LATIN_LETTERS = re.compile("[A-Za-z]")


def guess_language(text: str, default: str) -> str:
    """Persian if the text has Persian/Arabic letters, English if only Latin ones."""
    if _PERSIAN_LETTERS.search(text):
        return "fa"
    return "en" if _LATIN_LETTERS.search(text) else default


@dataclass(slots=True)
class _Draft:
    """An outcome whose rows may not be flushed yet (ids are read after the one flush)."""

    outcome: Outcome
    case: Case | None = None
    message: Message | None = None
    reason: str | None = None

    def result(self) -> IntakeResult:
        return IntakeResult(self.outcome, self.case.code if self.case else None,
                            self.case.id if self.case else None,
                            self.message.id if self.message else None, self.reason)


def process(s: Session, ctx: GatewayContext, msg: InboundMessage) -> IntakeResult:
    """Carry out one inbound message; the caller owns the savepoint and the commit."""
    if msg.external_id:
        seen = (s.execute(select(InboundKey).where(
            InboundKey.channel == msg.channel.value, InboundKey.provider == msg.provider,
            InboundKey.external_id == msg.external_id))).scalar_one_or_none()
        if seen is not None:
            code = (s.get(Case, seen.case_id)).code if seen.case_id else None
            return IntakeResult(Outcome.DUPLICATE, code, seen.case_id, seen.message_id,
                                reason=f"already {seen.outcome}")
    outcome = _dispatch(s, ctx, msg)
    if msg.external_id:
        if isinstance(outcome, _Draft):
            key = InboundKey(case=outcome.case, message=outcome.message, outcome=outcome.outcome.value)
        else:
            key = InboundKey(case_id=outcome.case_id, message_id=outcome.message_id,
                             outcome=outcome.outcome.value)
        key.channel, key.provider, key.external_id = msg.channel.value, msg.provider, msg.external_id
        s.add(key)
    s.flush()  # one flush for the whole graph; a concurrent twin's key clashes here
    return outcome.result() if isinstance(outcome, _Draft) else outcome


def _dispatch(s: Session, ctx: GatewayContext,
                    msg: InboundMessage) -> IntakeResult | _Draft:
    if msg.intent is Intent.STATUS_QUERY:
        return answer_status_query(s, ctx, msg)
    if msg.intent is Intent.SURVEY_RESPONSE:
        result = record_survey_reply(s, ctx, msg)
        if result is not None:
            return result
    text = normalize(msg.text)
    if not text and not msg.attachments and msg.intent is not Intent.RESERVE:
        if msg.automatic:
            return IntakeResult(Outcome.IGNORED, reason="automatic")
        if msg.sender and msg.acknowledge:
            send_reply(s, ctx, msg, "help", None)
        return IntakeResult(Outcome.REJECTED, reason="empty")
    case, related = find_thread(s, ctx, msg)
    if case is not None:
        message = add_message(s, ctx, case, msg, text)
        _reopen_if_needed(s, case, msg)
        return _Draft(Outcome.APPENDED, case, message)
    if msg.automatic:
        return IntakeResult(Outcome.IGNORED, reason="automatic")
    return open_case(s, ctx, msg, text, related)


def find_thread(s: Session, ctx: GatewayContext,
                      msg: InboundMessage) -> tuple[Case | None, Case | None]:
    """Return (case to append to, case to reference) for a message."""
    reserved = msg.meta.get("reserved_key")
    if reserved:
        # Voice: the case this call reserved over FastAGI (its key is set by our channel code
        # only, never by citizen input), so an anonymous caller's recording still appends.
        case_id = (s.execute(select(InboundKey.case_id).where(
            InboundKey.channel == msg.channel.value, InboundKey.provider == msg.provider,
            InboundKey.external_id == str(reserved)))).scalar_one_or_none()
        if case_id is not None:
            return s.get(Case, case_id), None
    candidates: list[Case] = []
    if msg.thread_refs:
        rows = s.execute(select(Case).join(Message, Message.case_id == Case.id).where(
            Message.direction == "out", Message.external_id.in_(msg.thread_refs[-50:])))
        candidates += list(rows.scalars().unique())
    codes = ([msg.tracking_code] if msg.tracking_code else []) + list(msg.body_codes)
    for raw in codes:
        try:
            code = tracking.parse(raw)
        except tracking.CodeError:
            continue
        found = (s.execute(select(Case).where(Case.code == code))).scalar_one_or_none()
        if found is not None:
            candidates.append(found)
    for case in candidates:
        if _same_contact(case.contact, msg.sender):
            return case, None
    if not candidates and msg.meta.get("thread_by_contact") and msg.sender:
        hours = int(msg.meta.get("follow_up_window_hours", 72))
        recent = (s.execute(select(Case).where(
            Case.contact == msg.sender, Case.channel == msg.channel.value,
            Case.status != Status.CLOSED.value,
            Case.updated_at >= utcnow() - timedelta(hours=hours))
            .order_by(Case.updated_at.desc()).limit(1))).scalar_one_or_none()
        if recent is not None:
            return recent, None
    return None, (candidates[0] if candidates else None)


def _same_contact(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a.strip().casefold() == b.strip().casefold()


def add_message(s: Session, ctx: GatewayContext, case: Case, msg: InboundMessage,
                      text: str) -> Message:
    """Store an inbound message (and its attachments) on a case."""
    limit = ctx.config.intake.max_text_chars
    attachments = list(msg.attachments)
    meta = dict(msg.meta)
    if len(text) > limit:
        # Keep everything: the stored text is cut, the whole text goes along as a file.
        attachments.append(_full_text_attachment(text))
        meta["truncated_from_chars"] = len(text)
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    message = Message(case=case, direction="in", channel=msg.channel.value,
                      provider=msg.provider, external_id=msg.external_id, sender=msg.sender,
                      recipient=msg.recipient, subject=msg.subject, text=text,
                      automatic=msg.automatic, meta=meta, created_at=msg.received_at or utcnow())
    s.add(message)
    digests = list(msg.attachment_digests)
    for i, att in enumerate(attachments):
        # stored by the writer before the batch; the cut-text file is stored here (rare)
        digest = digests[i] if i < len(digests) else ctx.store.put_sync(att.data)
        s.add(Attachment(message=message, filename=safe_filename(att.filename),
                         content_type=att.content_type[:127] or "application/octet-stream",
                         size=len(att.data), sha256=digest, inline=att.inline))
    if not msg.automatic and len(case.search_text) < 20000:
        case.search_text = (case.search_text + " " + fold(text))[:20000]
    case.updated_at = utcnow()
    return message


def _full_text_attachment(text: str) -> InboundAttachment:
    return InboundAttachment("message.txt", "text/plain; charset=utf-8", text.encode("utf-8"))


def _reopen_if_needed(s: Session, case: Case, msg: InboundMessage) -> None:
    if msg.automatic or case.status not in (Status.ANSWERED.value, Status.CLOSED.value):
        return
    s.add(AuditEvent(case=case, actor="citizen", action="reopened",
                     detail={"from": case.status, "channel": msg.channel.value}))
    case.status, case.closed_at = Status.ROUTED.value, None


def new_code(s: Session, attempts: int = 20) -> str:
    """A fresh tracking code not yet in use (a clash is retried)."""
    for _ in range(attempts):
        code = tracking.generate()
        if (s.execute(select(Case.id).where(Case.code == code))).first() is None:
            return code
    raise RuntimeError("could not find a free tracking code")


def open_case(s: Session, ctx: GatewayContext, msg: InboundMessage, text: str,
              related: Case | None, code: str | None = None) -> _Draft:
    """Open a new case: classify, route, set the due date, acknowledge.

    Only ``s.add`` is used when ``code`` is given and the message names no service, so the
    batch fast path (gateway.core.fastpath) can run this with a row collector.
    """
    cfg = ctx.config
    kind = classify(f"{msg.subject or ''}\n{text}", msg.kind_hint, cfg.intake.kind_keywords)
    service = None
    if msg.service_code:
        service = (s.execute(select(Service).where(Service.code == msg.service_code))).scalar_one_or_none()
    unit = route(RouteInput(kind, msg.channel, msg.recipient, msg.service_code, text),
                 cfg.routing.rules, cfg.default_unit, cfg.routing.oversight_unit)
    if msg.unit_hint and kind is not Kind.VIOLATION_REPORT:
        unit = msg.unit_hint
    elif service is not None and kind is not Kind.VIOLATION_REPORT:
        unit = service.unit_code
    now = utcnow()
    sla_days = service.sla_days if service is not None else cfg.sla.days.get(kind, 10)
    language = msg.meta.get("language") or guess_language(f"{msg.subject or ''} {text}", cfg.gateway.language)
    case = Case(code=code or new_code(s), kind=kind.value, status=Status.ROUTED.value,
                channel=msg.channel.value, contact=msg.sender, contact_name=msg.sender_name,
                unit_code=unit, service_code=service.code if service else None,
                subject=(normalize(msg.subject or "") or text[:80])[:500], language=language,
                confidential=kind is Kind.VIOLATION_REPORT, anonymous=msg.sender is None,
                related_case_id=related.id if related else None,
                search_text=fold(f"{msg.subject or ''} {text}")[:20000], created_at=now,
                updated_at=now, due_at=now + timedelta(days=sla_days))
    s.add(case)
    message = add_message(s, ctx, case, msg, text)
    s.add(AuditEvent(case=case, actor="system", action="created",
                     detail={"kind": kind.value, "unit": unit, "channel": msg.channel.value,
                             "related": related.code if related else None}))
    if msg.acknowledge and msg.sender:
        queue_ack(s, ctx, case, msg)
    return _Draft(Outcome.CREATED, case, message)


def queue_ack(s: Session, ctx: GatewayContext, case: Case, msg: InboundMessage) -> None:
    """Queue the acknowledgement with the tracking code, on the citizen's channel."""
    channel = str(msg.meta.get("ack_channel") or msg.channel.value)
    lang = case.language
    values = ctx.templates.case_values(case, lang, track_link=ctx.track_link(case.code))
    payload: dict[str, object] = {"auto_submitted": "auto-replied"}
    if msg.external_id and channel == msg.channel.value:
        payload["in_reply_to"] = msg.external_id
        payload["references"] = [*msg.thread_refs[-20:], msg.external_id]
    add_outbound(s, channel=channel, purpose="ack", recipient=msg.sender or "",
                         text=ctx.templates.render("ack", lang, **values),
                         subject=ctx.templates.render("ack_subject", lang, **values),
                         key=ctx.new_key(channel), case=case, language=lang, payload=payload)
