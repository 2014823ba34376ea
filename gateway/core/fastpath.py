"""The intake writer's batch fast path: plain new submissions, inserted a table at a time.

Measured here, the per-message ORM path costs ~5 ms of CPU per case (unit-of-work flushes of
six objects), which capped one writer near 150 cases/s.  Most of a batch is plain new cases
(no thread hints, no codes, no intents), so the writer first does one dedupe query and one
"recent case of this contact" query for the whole batch, plans those cases with the same
``plan_case`` the per-message path uses, and inserts each table with one multi-row INSERT.
The group runs in one savepoint; if anything in it fails, the writer falls back to the
per-message path (each message in its own savepoint), so one bad item still cannot sink the
batch.  Results are the same as the slow path's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from gateway.core import tracking
from gateway.core.context import GatewayContext
from gateway.core.messages import InboundMessage, IntakeResult, Intent, Outcome, Status
from gateway.core.models import (Attachment, AuditEvent, Base, Case, InboundKey, Message, Outbox,
                                 utcnow)
from gateway.core.plan import plan_case
from gateway.core.text import normalize

# PostgreSQL: one index probe per key.  With ``external_id IN (…)`` a planner without fresh
# statistics (a new install, the first minutes of a flood) scans every key of the source and
# filters: measured 7.5 ms per batch at 5,000 keys, growing with the table.
_PG_KEYS = text("SELECT k.channel, k.provider, k.external_id, k.outcome, k.case_id, k.message_id "
                "FROM unnest(CAST(:ids AS VARCHAR[])) AS wanted(external_id) JOIN LATERAL ("
                "SELECT * FROM inbound_keys WHERE channel = :channel AND provider = :provider "
                "AND external_id = wanted.external_id) AS k ON true")


def existing_keys(s: Session, messages: list[InboundMessage]) -> dict[tuple[str, str, str], Any]:
    """The dedupe ledger rows (channel, provider, external_id, outcome, case_id, message_id)
    for every keyed message of the batch."""
    keys = {(m.channel.value, m.provider, m.external_id) for m in messages if m.external_id}
    if not keys:
        return {}
    conn, k = s.connection(), InboundKey.__table__.c
    found: dict[tuple[str, str, str], Any] = {}
    for channel, provider in {(c, p) for c, p, _ in keys}:  # one query per source: usually one
        ids = [e for c, p, e in keys if (c, p) == (channel, provider)]
        if conn.dialect.name == "postgresql":
            rows = conn.execute(_PG_KEYS, {"ids": ids, "channel": channel, "provider": provider})
        else:  # Core columns, not ORM entities: this runs for every batch
            rows = conn.execute(select(k.channel, k.provider, k.external_id, k.outcome, k.case_id,
                                       k.message_id).where(k.channel == channel, k.provider == provider,
                                                           k.external_id.in_(ids)))
        found.update(((r.channel, r.provider, r.external_id), r) for r in rows)
    return found


def contacts_with_recent_cases(s: Session, messages: list[InboundMessage]) -> set[tuple[str, str]]:
    """(channel, contact) pairs that have an open case inside their follow-up window."""
    wanted = [m for m in messages if m.meta.get("thread_by_contact") and m.sender]
    if not wanted:
        return set()
    hours = max(int(m.meta.get("follow_up_window_hours", 72)) for m in wanted)
    rows = s.execute(select(Case.channel, Case.contact).where(
        Case.contact.in_({m.sender for m in wanted}), Case.status != Status.CLOSED.value,
        Case.updated_at >= utcnow() - timedelta(hours=hours)).distinct())
    return {(ch, contact) for ch, contact in rows.all()}


def is_plain(msg: InboundMessage, limit: int) -> bool:
    """A message that can only open a new case (no threading, intents or oversize text)."""
    if msg.intent not in (Intent.SUBMISSION, Intent.RESERVE) or msg.automatic:
        return False
    if msg.thread_refs or msg.tracking_code or msg.body_codes or msg.meta.get("reserved_key"):
        return False
    if msg.service_code or len(msg.text) > limit:
        return False
    return msg.intent is Intent.RESERVE or bool(msg.attachments) or bool(normalize(msg.text))


def fresh_codes(n: int) -> list[str]:
    """``n`` distinct new tracking codes.  Not checked against the table: with 10^9 codes
    a clash is rare, and the unique index turns it into a fast-path failure, after which
    the per-message path draws again (measured: the check cost 3 ms per batch on PostgreSQL)."""
    codes: set[str] = set()
    while len(codes) < n:
        codes.add(tracking.generate())
    return list(codes)


def insert_plain(s: Session, ctx: GatewayContext, messages: list[InboundMessage]) -> list[IntakeResult]:
    """Open one case per message with one multi-row INSERT per table; the caller holds
    the savepoint.  The rows are the same :func:`~gateway.core.plan.plan_case` gives the
    per-message path."""
    now = utcnow()
    plans = [plan_case(ctx, m, normalize(m.text), code, None, None, now)
             for m, code in zip(messages, fresh_codes(len(messages)))]
    case_ids = _insert(s, Case, [p.case for p in plans], returning=True)
    in_rows, out_rows = [], []
    for p, case_id in zip(plans, case_ids):
        in_rows.append({**p.message, "case_id": case_id})
        if p.ack_message is not None:
            out_rows.append({**p.ack_message, "case_id": case_id})
    message_ids = _insert(s, Message, in_rows + out_rows, returning=True)
    in_ids, out_ids = message_ids[:len(in_rows)], iter(message_ids[len(in_rows):])
    _insert(s, Attachment, [{**f, "message_id": mid} for p, mid in zip(plans, in_ids) for f in p.attachments])
    _insert(s, AuditEvent, [{**p.audit, "case_id": cid} for p, cid in zip(plans, case_ids)])
    _insert(s, Outbox, [{**p.ack_outbox, "case_id": cid, "message_id": next(out_ids)}
                        for p, cid in zip(plans, case_ids) if p.ack_outbox is not None])
    _insert(s, InboundKey, [{"channel": m.channel.value, "provider": m.provider,
                             "external_id": m.external_id, "outcome": Outcome.CREATED.value,
                             "case_id": cid, "message_id": mid, "created_at": now}
                            for m, cid, mid in zip(messages, case_ids, in_ids) if m.external_id])
    return [IntakeResult(Outcome.CREATED, p.case["code"], cid, mid)
            for p, cid, mid in zip(plans, case_ids, in_ids)]


def _insert(s: Session, model: type[Base], rows: list[dict[str, Any]], returning: bool = False) -> list[int]:
    """One multi-row INSERT; with ``returning``, the new ids in the order of ``rows``."""
    if not rows:
        return []
    table = model.__table__
    conn = s.connection()  # Core, not Session.execute: the ORM layer cost a quarter here
    if returning:
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(conn.execute(stmt, rows).scalars().all())
    conn.execute(insert(table), rows)
    return []
