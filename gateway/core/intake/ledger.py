"""The look-ups intake makes before it writes: the dedupe ledger and the threading hints.

Each function takes a batch (a list of messages, a list of ids or codes) and answers with
one query, so the batch fast path asks once per batch and the per-message path asks the
same functions with a batch of one: the two paths cannot drift apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gateway.core import tracking
from gateway.core.intake.contract import InboundMessage
from gateway.core.models import Case, InboundKey, Message, utcnow
from gateway.core.vocab import Status

#: (channel, provider, external_id): the dedupe key of an inbound message.
Key = tuple[str, str, str]


class Seen(NamedTuple):
    """What the ledger recorded for a key: the outcome and the rows it made."""

    outcome: str
    case_id: int | None
    message_id: int | None


# PostgreSQL: one index probe per key.  With ``external_id IN (…)`` a planner without fresh
# statistics (a new install, the first minutes of a flood) scans every key of the source and
# filters: measured 7.5 ms per batch at 5,000 keys, growing with the table.  The LIMIT keeps
# the sub-query apart (a key is unique): flattened into a join, a table never analysed yet
# (rows estimated at 1) was walked once per wanted key, 6.9 ms for 6 keys at 7,400 rows.
_PG_KEYS = text(
    "SELECT k.channel, k.provider, k.external_id, k.outcome, k.case_id, k.message_id "
    "FROM unnest(CAST(:ids AS VARCHAR[])) AS wanted(external_id) JOIN LATERAL ("
    "SELECT * FROM inbound_keys WHERE channel = :channel AND provider = :provider "
    "AND external_id = wanted.external_id LIMIT 1) AS k ON true"
)


def key_of(msg: InboundMessage) -> Key | None:
    """The dedupe key of a message; None when the channel gave no id."""
    return (msg.channel.value, msg.provider, msg.external_id) if msg.external_id else None


def seen_keys(s: Session, keys: Iterable[Key]) -> dict[Key, Seen]:
    """What the ledger holds for each of ``keys`` already recorded; one query per source
    (usually one)."""
    wanted = set(keys)
    if not wanted:
        return {}
    conn, k = s.connection(), InboundKey.__table__.c
    found: dict[Key, Seen] = {}
    for channel, provider in {(c, p) for c, p, _ in wanted}:
        ids = [e for c, p, e in wanted if (c, p) == (channel, provider)]
        if conn.dialect.name == "postgresql":
            rows = conn.execute(_PG_KEYS, {"ids": ids, "channel": channel, "provider": provider})
        else:  # Core columns, not ORM entities: this runs for every batch
            rows = conn.execute(
                select(k.channel, k.provider, k.external_id, k.outcome, k.case_id, k.message_id).where(
                    k.channel == channel, k.provider == provider, k.external_id.in_(ids)
                )
            )
        found.update(((r.channel, r.provider, r.external_id), Seen(r.outcome, r.case_id, r.message_id)) for r in rows)
    return found


def case_codes(s: Session, case_ids: Iterable[int | None]) -> dict[int, str]:
    """Tracking codes of the given cases (for duplicate results)."""
    ids = {i for i in case_ids if i is not None}
    if not ids:
        return {}
    return {i: c for i, c in s.execute(select(Case.id, Case.code).where(Case.id.in_(ids)))}


def lock_contacts(s: Session, messages: list[InboundMessage]) -> None:
    """PostgreSQL: take a transaction lock per contact that threads by contact, in one
    order, before looking for its recent case.  Two processes (or two drainers) holding
    texts of one number then write one after the other, and the second finds the first's
    case instead of opening another.  SQLite needs none: its one writer serialises."""
    if s.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({_lock_key(m.channel.value, m.sender) for m in messages if m.thread_by_contact and m.sender})
    if keys:
        s.execute(_PG_LOCK, {"keys": keys})


def _lock_key(channel: str, contact: str) -> int:
    digest = hashlib.blake2b(f"contact:{channel}:{contact}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_PG_LOCK = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS o"
)


def contacts_with_recent_cases(s: Session, messages: list[InboundMessage]) -> set[tuple[str, str]]:
    """(channel, contact) pairs, among the messages that thread by contact, that have an
    open case updated inside the longest of their follow-up windows."""
    wanted = {m.sender: m.follow_up_window_hours for m in messages if m.thread_by_contact and m.sender}
    if not wanted:
        return set()
    hours = max(wanted.values())
    rows = s.execute(
        select(Case.channel, Case.contact)
        .where(
            Case.contact.in_(wanted),
            Case.status != Status.CLOSED.value,
            Case.updated_at >= utcnow() - timedelta(hours=hours),
        )
        .distinct()
    )
    return {(ch, contact) for ch, contact in rows.all() if contact is not None}


def recent_case_of_contact(s: Session, msg: InboundMessage) -> Case | None:
    """The contact's open case on this channel updated inside the message's window."""
    if not (msg.thread_by_contact and msg.sender):
        return None
    return s.execute(
        select(Case)
        .where(
            Case.contact == msg.sender,
            Case.channel == msg.channel.value,
            Case.status != Status.CLOSED.value,
            Case.updated_at >= utcnow() - timedelta(hours=msg.follow_up_window_hours),
        )
        .order_by(Case.updated_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def reserved_case(s: Session, msg: InboundMessage) -> Case | None:
    """The case this channel reserved under ``msg.reserved_key`` (voice over FastAGI)."""
    if not msg.reserved_key:
        return None
    seen = seen_keys(s, [(msg.channel.value, msg.provider, msg.reserved_key)])
    row = next(iter(seen.values()), None)
    return s.get(Case, row.case_id) if row is not None and row.case_id is not None else None


def cases_quoting(s: Session, refs: list[str]) -> list[Case]:
    """Cases holding one of our outgoing messages whose id is in ``refs`` (the last 50)."""
    if not refs:
        return []
    rows = s.execute(
        select(Case)
        .join(Message, Message.case_id == Case.id)
        .where(Message.direction == "out", Message.external_id.in_(refs[-50:]))
    )
    return list(rows.scalars().unique())


def cases_by_codes(s: Session, raw_codes: list[str]) -> list[Case]:
    """Cases named by the valid codes among ``raw_codes``, in the order given."""
    codes: list[str] = []
    for raw in raw_codes:
        try:
            codes.append(tracking.parse(raw))
        except tracking.CodeError:
            continue
    if not codes:
        return []
    found = {c.code: c for c in s.execute(select(Case).where(Case.code.in_(codes))).scalars()}
    return [found[c] for c in codes if c in found]
