"""The per-message path: what intake does with one message, inside the writer's
transaction (one savepoint).

Order: status query / survey reply intents; the dedupe ledger; threading (a case the
channel reserved, our Message-IDs, an explicit code, codes in the body, a recent case of
the same contact when the channel asks for it); a new case (planned by ``planning``).  A
code from someone who is not the case's citizen opens a new case that references the old
one.  Every look-up is a ``ledger`` function, the same the batch path uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import external_replies, tracking
from gateway.core.intake import ledger
from gateway.core.intake.contract import InboundMessage, IntakeResult, Intent, Outcome
from gateway.core.intake.planning import ServiceInfo, plan_case, plan_message
from gateway.core.intake.replies import answer_status_query, record_survey_reply, send_reply
from gateway.core.models import Attachment, AuditEvent, Case, InboundKey, Message, Service, utcnow
from gateway.core.outbox import add_rows
from gateway.core.ports import IntakeServices
from gateway.core.surveys import cancel_unsent_survey
from gateway.core.surveys_digits import start_keyword_survey
from gateway.core.text import fold, normalize
from gateway.core.vocab import Status

__all__ = ["find_thread", "new_code", "open_case", "process"]


@dataclass(slots=True)
class _Draft:
    """An outcome whose rows may not be flushed yet (ids are read after the one flush)."""

    outcome: Outcome
    case: Case | None = None
    message: Message | None = None
    reason: str | None = None

    def result(self) -> IntakeResult:
        return IntakeResult(
            self.outcome,
            self.case.code if self.case else None,
            self.case.id if self.case else None,
            self.message.id if self.message else None,
            self.reason,
        )


def duplicate(seen: ledger.Seen, code: str | None) -> IntakeResult:
    """The result for a message whose key the ledger already holds."""
    return IntakeResult(Outcome.DUPLICATE, code, seen.case_id, seen.message_id, reason=f"already {seen.outcome}")


def process(s: Session, svc: IntakeServices, msg: InboundMessage) -> IntakeResult:
    """Carry out one inbound message; the caller owns the savepoint and the commit."""
    key = ledger.key_of(msg)
    if key is not None and (seen := ledger.seen_keys(s, [key]).get(key)) is not None:
        code = ledger.case_codes(s, [seen.case_id]).get(seen.case_id) if seen.case_id is not None else None
        return duplicate(seen, code)
    outcome = _dispatch(s, svc, msg)
    if key is not None:
        if isinstance(outcome, _Draft):
            row = InboundKey(case=outcome.case, message=outcome.message, outcome=outcome.outcome.value)
        else:
            row = InboundKey(case_id=outcome.case_id, message_id=outcome.message_id, outcome=outcome.outcome.value)
        row.channel, row.provider, row.external_id = key
        s.add(row)
    s.flush()  # one flush for the whole graph; a concurrent twin's key clashes here
    return outcome.result() if isinstance(outcome, _Draft) else outcome


def _dispatch(s: Session, svc: IntakeServices, msg: InboundMessage) -> IntakeResult | _Draft:
    if msg.intent is Intent.STATUS_QUERY:
        return answer_status_query(s, svc, msg)
    if msg.intent is Intent.SURVEY_RESPONSE:
        result = record_survey_reply(s, svc, msg)
        if result is not None:
            return result
    if msg.intent is Intent.SURVEY_REQUEST:
        started = start_keyword_survey(s, svc, msg)
        if started is not None:
            return started
    text = normalize(msg.text)
    if not text and not msg.attachments and msg.intent is not Intent.RESERVE:
        if msg.automatic:
            return IntakeResult(Outcome.IGNORED, reason="automatic")
        if msg.sender and msg.acknowledge:
            send_reply(s, svc, msg, "help", None)
        return IntakeResult(Outcome.REJECTED, reason="empty")
    if (msg.thread_refs or msg.tracking_code) and not msg.automatic:
        # a reply of an external oversight body to a forwarded violation report
        body_case = external_replies.external_reply_case(
            s, msg.sender, msg.thread_refs, [msg.tracking_code] if msg.tracking_code else []
        )
        if body_case is not None:
            message = add_message(s, svc, body_case, msg, text)
            external_replies.record_external_reply(s, body_case, message)
            return _Draft(Outcome.APPENDED, body_case, message)
    case, related = find_thread(s, msg)
    if case is not None:
        message = add_message(s, svc, case, msg, text)
        _reopen_if_needed(s, case, msg)
        return _Draft(Outcome.APPENDED, case, message)
    if msg.automatic:
        return IntakeResult(Outcome.IGNORED, reason="automatic")
    return open_case(s, svc, msg, text, related)


def find_thread(s: Session, msg: InboundMessage) -> tuple[Case | None, Case | None]:
    """Return (case to append to, case to reference) for a message."""
    reserved = ledger.reserved_case(s, msg)
    if reserved is not None:
        # Voice: the case this call reserved over FastAGI, so an anonymous caller's
        # recording still appends.
        return reserved, None
    candidates: list[Case] = []
    ours = ledger.cases_quoting(s, msg.thread_refs)
    if ours and msg.automatic:
        # Robot mail that quotes one of our (signed, unguessable) Message-IDs, such as a
        # bounce from mailer-daemon or an out-of-office reply, is kept on that case;
        # it is never answered and never reopens it.
        return ours[0], None
    candidates += ours
    codes = ([msg.tracking_code] if msg.tracking_code else []) + list(msg.body_codes)
    candidates += ledger.cases_by_codes(s, codes)
    for case in candidates:
        if _same_contact(case.contact, msg.sender):
            return case, None
    if not candidates:
        recent = ledger.recent_case_of_contact(s, msg)
        if recent is not None:
            return recent, None
    return None, (candidates[0] if candidates else None)


def _same_contact(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a.strip().casefold() == b.strip().casefold()  # type: ignore[union-attr]


def add_message(s: Session, svc: IntakeServices, case: Case, msg: InboundMessage, text: str) -> Message:
    """Store an inbound message (and its attachments) on an existing case."""
    now = utcnow()
    values, files = plan_message(svc, msg, text, now, svc.store.writer(s))
    message = Message(case=case, **values)
    s.add(message)
    for f in files:
        s.add(Attachment(message=message, **f))
    if not msg.automatic and len(case.search_text) < 20000:
        case.search_text = (case.search_text + " " + fold(values["text"]))[:20000]
    case.updated_at = now
    return message


def _reopen_if_needed(s: Session, case: Case, msg: InboundMessage) -> None:
    if msg.automatic or case.status not in (Status.ANSWERED.value, Status.CLOSED.value):
        return
    s.add(
        AuditEvent(
            case=case, actor="citizen", action="reopened", detail={"from": case.status, "channel": msg.channel.value}
        )
    )
    case.status, case.closed_at = Status.ROUTED.value, None
    cancel_unsent_survey(s, case)  # no survey for an answer the citizen has answered back to


def new_code(s: Session, attempts: int = 20) -> str:
    """A fresh tracking code not yet in use (a clash is retried)."""
    for _ in range(attempts):
        code = tracking.generate()
        if (s.execute(select(Case.id).where(Case.code == code))).first() is None:
            return code
    raise RuntimeError("could not find a free tracking code")


def open_case(s: Session, svc: IntakeServices, msg: InboundMessage, text: str, related: Case | None) -> _Draft:
    """Open a new case from its plan (classify, route, due date, acknowledgement)."""
    service = None
    if msg.service_code:
        row = (s.execute(select(Service).where(Service.code == msg.service_code))).scalar_one_or_none()
        service = ServiceInfo(row.code, row.unit_code, row.sla_days) if row else None
    plan = plan_case(
        svc,
        msg,
        text,
        new_code(s),
        service,
        (related.id, related.code) if related else None,
        utcnow(),
        svc.store.writer(s),
    )
    case = Case(**plan.case)
    message = Message(case=case, **plan.message)
    s.add_all([case, message, AuditEvent(case=case, **plan.audit)])
    s.add_all([Attachment(message=message, **f) for f in plan.attachments])
    if plan.ack_outbox is not None:
        add_rows(s, case, plan.ack_message, plan.ack_outbox)
    return _Draft(Outcome.CREATED, case, message)
