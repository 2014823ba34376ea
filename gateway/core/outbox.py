"""The durable outbox: rows written in the same transaction as their cause.

``queue_outbound`` records an outgoing message on its case and queues it; the dispatcher
(``gateway.core.dispatcher``) sends it.  ``record_delivery`` applies a provider's delivery
report, monotonically: ``delivered`` and ``failed`` are final, and a late report never
moves a row backwards.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from gateway.core.db import Database, is_unique_violation
from gateway.core.messages import Channel, OutboundMessage
from gateway.core.models import AuditEvent, Case, Message, Outbox, utcnow
from gateway.core.security import Signer

# Order of outbox states; a report may only move a row to a higher rank.
STATUS_RANK = {"pending": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3}
FINAL = frozenset({"delivered", "failed"})


def new_idempotency_key(channel: str, signer: Signer | None = None, domain: str = "", token: str | None = None) -> str:
    """A key that stays with the row for all retries.

    For email it is our signed Message-ID (RFC 5322 section 3.6.4), so replies that quote
    it thread back to the case and forged references can be told apart.  A ``token``
    (letters, digits, dashes) makes the key stable, so queueing the same thing twice clashes
    on the outbox's unique key instead of sending twice.
    """
    token = token or secrets.token_hex(10)
    if channel == Channel.EMAIL.value and signer is not None and domain:
        return f"<{token}.{signer.mac('msgid', token, 6)}@{domain}>"
    return f"gw{token}"


def is_our_message_id(value: str, signer: Signer, domain: str) -> bool:
    """True if ``value`` is a Message-ID minted by :func:`new_idempotency_key`."""
    inner = value.strip().strip("<>")
    local, _, dom = inner.rpartition("@")
    token, _, mac = local.partition(".")
    return dom.lower() == domain.lower() and bool(token) and mac == signer.mac("msgid", token, 6)


def outbound_rows(
    *,
    channel: str,
    purpose: str,
    recipient: str,
    text: str,
    key: str,
    subject: str = "",
    html: str | None = None,
    language: str = "fa",
    payload: dict[str, Any] | None = None,
    author: str | None = None,
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Column values of an outgoing message row and its outbox row (no ids, no case yet).

    The one place outbox rows are shaped: :func:`add_outbound` turns them into ORM
    objects, the intake fast path into multi-row INSERTs.
    """
    now = now or utcnow()
    message = {
        "direction": "out",
        "channel": channel,
        "provider": "gateway",
        "external_id": key,
        "sender": None,
        "recipient": recipient,
        "subject": subject,
        "text": text,
        "automatic": False,
        "author": author,
        "meta": {"purpose": purpose},
        "created_at": now,
    }
    outbox = {
        "channel": channel,
        "purpose": purpose,
        "recipient": recipient,
        "subject": subject,
        "text": text,
        "html": html,
        "language": language,
        "payload": payload or {},
        "idempotency_key": key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "claimed_by": None,
        "claimed_at": None,
        "provider_id": None,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
        "delivered_at": None,
    }
    return message, outbox


def add_rows(s: Session, case: Case | None, message: dict[str, Any] | None, outbox: dict[str, Any]) -> Outbox:
    """Add the rows :func:`outbound_rows` shaped to a sync session (the message only when
    there is a case to hold it).  Nothing is flushed: intake flushes a case graph at once."""
    row_message = None
    if case is not None and message is not None:
        row_message = Message(case=case, **message)
        s.add(row_message)
    row = Outbox(case=case, message=row_message, **outbox)
    s.add(row)
    return row


def add_outbound(s: Session, *, case: Case | None = None, **fields: Any) -> Outbox:
    """Add an outgoing message (on its case, if any) and its outbox row to a sync session;
    keywords as :func:`outbound_rows`.  Nothing is flushed."""
    message, outbox = outbound_rows(**fields)
    return add_rows(s, case, message, outbox)


async def queue_outbound(s: AsyncSession, **fields: Any) -> Outbox:
    """Async form of :func:`add_outbound` (same keywords); flushes, so the row has an id."""
    row = add_outbound(s.sync_session, **fields)
    await s.flush()
    return row


async def queue_once(db: Database, **fields: Any) -> bool:
    """Queue one outgoing message that belongs to no case, in its own transaction
    (keywords as :func:`outbound_rows`); False if a row with its key is already queued."""
    try:
        async with db.session() as s:
            await queue_outbound(s, **fields)
    except IntegrityError as e:
        if not is_unique_violation(e):
            raise
        return False
    return True


def to_outbound(row: Outbox, case_code: str | None) -> OutboundMessage:
    """The sender's view of an outbox row."""
    return OutboundMessage(
        outbox_id=row.id,
        channel=Channel(row.channel),
        purpose=row.purpose,
        recipient=row.recipient,
        subject=row.subject,
        text=row.text,
        idempotency_key=row.idempotency_key,
        case_code=case_code,
        html=row.html,
        language=row.language,
        headers=dict(row.payload.get("headers", {})),
        payload=dict(row.payload),
        attempt=row.attempts,
    )


async def record_delivery(
    s: AsyncSession,
    *,
    status: str,
    outbox_id: int | None = None,
    provider_id: str | None = None,
    detail: str = "",
    channel: str | None = None,
) -> Outbox | None:
    """Apply a delivery report to its row; return the row, or None if unknown."""
    if status not in STATUS_RANK:
        raise ValueError(f"unknown delivery status {status!r}")
    stmt = select(Outbox)
    if outbox_id is not None:
        stmt = stmt.where(Outbox.id == outbox_id)
    elif provider_id:
        stmt = stmt.where(Outbox.provider_id == provider_id)
        if channel:
            stmt = stmt.where(Outbox.channel == channel)
    else:
        return None
    # FOR UPDATE: a report racing the dispatcher's own mark of the same row must not be
    # overwritten by it (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises anyway)
    row = (await s.execute(stmt.limit(1).with_for_update())).scalar_one_or_none()
    if row is None:
        return None
    if row.status in FINAL or STATUS_RANK[status] <= STATUS_RANK[row.status]:
        return row  # out of order or repeated: keep the better-known state
    row.status = status
    now = utcnow()
    if status == "delivered":
        row.delivered_at = now
    elif status == "failed":
        row.last_error = detail or "delivery failed"
        s.add(
            AuditEvent(
                case_id=row.case_id,
                actor="system",
                action="delivery_failed",
                detail={"outbox_id": row.id, "channel": row.channel, "detail": detail},
            )
        )
    if status in ("sent", "delivered") and row.sent_at is None:
        row.sent_at = now
    return row
