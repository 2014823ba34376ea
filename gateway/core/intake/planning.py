"""What a new case consists of, as plain column values: the one place that decides kind,
unit, due date, language, stored text and acknowledgement for a new submission.

Pure: no database, no clock (``now`` is passed in).  Both intake paths use it: the
per-message path (``single``) turns a :class:`CasePlan` into ORM objects, the batch fast
path (``batch``) into multi-row INSERTs.  :func:`is_plain` decides which path a message
may take.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from gateway.core.calendar import work_calendar
from gateway.core.intake.contract import InboundMessage, Intent
from gateway.core.outbox import outbound_rows
from gateway.core.ports import IntakeServices
from gateway.core.routing import RouteInput, classify, route
from gateway.core.store import safe_filename
from gateway.core.text import fold, normalize, strip_format
from gateway.core.vocab import Kind, Status

_PERSIAN_LETTERS = re.compile("[\u0600-\u06ff]")
_LATIN_LETTERS = re.compile("[A-Za-z]")


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """The parts of a service card that intake needs."""

    code: str
    unit: str
    sla_days: int


@dataclass(slots=True)
class CasePlan:
    """Column values for a new case and the rows that come with it (no ids yet)."""

    case: dict[str, Any]
    message: dict[str, Any]
    attachments: list[dict[str, Any]]
    audit: dict[str, Any]
    ack_message: dict[str, Any] | None
    ack_outbox: dict[str, Any] | None


def is_plain(msg: InboundMessage, limit: int) -> bool:
    """A message that can only open a new case (no threading, intents or oversize text)."""
    if msg.intent not in (Intent.SUBMISSION, Intent.RESERVE) or msg.automatic:
        return False
    if msg.thread_refs or msg.tracking_code or msg.body_codes or msg.reserved_key:
        return False
    if msg.service_code or len(msg.text) > limit:
        return False
    return msg.intent is Intent.RESERVE or bool(msg.attachments) or bool(normalize(msg.text))


def guess_language(text: str, default: str) -> str:
    """Persian if the text has Persian/Arabic letters, English if only Latin ones."""
    if _PERSIAN_LETTERS.search(text):
        return "fa"
    return "en" if _LATIN_LETTERS.search(text) else default


def plan_message(
    svc: IntakeServices, msg: InboundMessage, text: str, now: datetime, put: Callable[[bytes], str] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Values of an inbound message row and its attachment rows.

    A text longer than ``intake.max_text_chars`` is stored cut, and the whole text goes
    along as ``message.txt`` (stored with ``put``): nothing is lost.
    """
    limit = svc.config.intake.max_text_chars
    meta = dict(msg.meta)
    files = [
        (a.filename, a.content_type, len(a.data), digest, a.inline)
        for a, digest in zip(msg.attachments, msg.attachment_digests)
    ]
    if len(text) > limit:
        if put is None:
            raise ValueError("an oversize text needs a file store")
        whole = text.encode("utf-8")
        files.append(("message.txt", "text/plain; charset=utf-8", len(whole), put(whole), False))
        meta["truncated_from_chars"] = len(text)
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    message = {
        "direction": "in",
        "channel": msg.channel.value,
        "provider": msg.provider,
        "external_id": msg.external_id,
        "sender": msg.sender,
        "recipient": msg.recipient,
        "subject": strip_format(msg.subject) if msg.subject else msg.subject,
        "text": text,
        "automatic": msg.automatic,
        "author": None,
        "meta": meta,
        "created_at": msg.received_at or now,
    }
    attachments = [
        {
            "filename": safe_filename(name),
            "size": size,
            "sha256": digest,
            "inline": inline,
            "content_type": ctype[:127] or "application/octet-stream",
        }
        for name, ctype, size, digest, inline in files
    ]
    return message, attachments


def plan_case(
    svc: IntakeServices,
    msg: InboundMessage,
    text: str,
    code: str,
    service: ServiceInfo | None,
    related: tuple[int, str] | None,
    now: datetime,
    put: Callable[[bytes], str] | None = None,
) -> CasePlan:
    """Classify, route, date and acknowledge a new case (pure: no database access)."""
    cfg = svc.config
    subject = msg.subject or ""
    whole = f"{subject}\n{text}" if subject else text  # no leading blank: folds stay on the fast path
    kind = classify(whole, msg.kind_hint, cfg.intake.kind_keywords)
    unit = route(
        RouteInput(kind, msg.channel, msg.recipient, msg.service_code, text),
        cfg.routing.rules,
        cfg.default_unit,
        cfg.routing.oversight_unit,
    )
    if kind is not Kind.VIOLATION_REPORT:
        unit = msg.unit_hint or (service.unit if service else unit)
    sla_days = service.sla_days if service is not None else cfg.sla.days_for(kind)
    language = msg.language or guess_language(f"{subject} {text}", cfg.gateway.language)
    message, attachments = plan_message(svc, msg, text, now, put)
    case = {
        "code": code,
        "kind": kind.value,
        "status": Status.ROUTED.value,
        "channel": msg.channel.value,
        "contact": msg.sender,
        "contact_name": msg.sender_name,
        "unit_code": unit,
        "service_code": service.code if service else None,
        "subject": (normalize(subject) or text[:80])[:500],
        "language": language,
        "confidential": kind is Kind.VIOLATION_REPORT,
        "anonymous": msg.sender is None,
        "related_case_id": related[0] if related else None,
        "search_text": fold(whole.replace("\n", " ", 1) if subject else text)[:20000],
        "created_at": now,
        "updated_at": now,
        "due_at": work_calendar(cfg.calendar, cfg.gateway.timezone).due_at(now, sla_days),
        "reporter_consent": kind is Kind.VIOLATION_REPORT and msg.reporter_consent,
        "first_response_at": None,
        "answered_at": None,
        "closed_at": None,
    }
    audit = {
        "actor": "system",
        "action": "created",
        "at": now,
        "detail": {
            "kind": kind.value,
            "unit": unit,
            "channel": msg.channel.value,
            "related": related[1] if related else None,
        },
    }
    ack_message = ack_outbox = None
    if msg.acknowledge and msg.sender:
        ack_message, ack_outbox = plan_ack(svc, msg, case, now)
    return CasePlan(case, message, attachments, audit, ack_message, ack_outbox)


def plan_ack(
    svc: IntakeServices, msg: InboundMessage, case: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The acknowledgement with the tracking code, on the citizen's channel (or
    ``msg.ack_channel``), threaded to the message it answers."""
    channel = (msg.ack_channel or msg.channel).value
    lang = case["language"]
    values = svc.templates.case_values(SimpleNamespace(**case), lang, track_link=svc.track_link(case["code"], lang))
    payload: dict[str, Any] = {"auto_submitted": "auto-replied"}
    if msg.external_id and channel == msg.channel.value:
        payload["in_reply_to"] = msg.external_id
        payload["references"] = [*msg.thread_refs[-20:], msg.external_id]
    return outbound_rows(
        channel=channel,
        purpose="ack",
        recipient=msg.sender or "",
        subject=svc.templates.render("ack_subject", lang, **values),
        text=svc.templates.render("ack", lang, **values),
        key=svc.new_key(channel),
        language=lang,
        payload=payload,
        now=now,
    )
