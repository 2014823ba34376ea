"""Replies of external oversight bodies to forwarded violation reports, for intake.

Kept apart from :mod:`gateway.core.forwarding` (which needs the answers and outbox) so that
intake imports only this: a mail from the body's address that quotes the forward's
Message-ID, or names a forwarded case's ``[#code]``, is added to that case as the body's
reply; it is not the citizen's, so it neither reopens the case nor gets an acknowledgement.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core import audit, tracking
from gateway.core.models import Case, Message, utcnow
from gateway.core.models_oversight import Forward


def external_reply_case(s: Session, sender: str | None, refs: list[str], codes: list[str]) -> Case | None:
    """The case an external body's mail answers: it quotes our forward's Message-ID, or
    names a forwarded case's code, and comes from that body's address."""
    if not sender or "@" not in sender:
        return None
    match = func.lower(Forward.body_email) == sender.strip().lower()
    stmt = select(Case).join(Forward, Forward.case_id == Case.id).where(match)
    if refs:
        found = s.execute(stmt.where(Forward.message_id.in_(refs[-50:]))).scalars().first()
        if found is not None:
            return found
    valid = []
    for raw in codes:
        try:
            valid.append(tracking.parse(raw))
        except tracking.CodeError:
            continue
    return s.execute(stmt.where(Case.code.in_(valid))).scalars().first() if valid else None


def record_external_reply(s: Session, case: Case, message: Message) -> None:
    """Mark the stored reply as the body's (not the citizen's) and audit it."""
    message.meta = {**(message.meta or {}), "purpose": "external_reply"}
    now = utcnow()
    for fwd in s.execute(select(Forward).where(Forward.case_id == case.id, Forward.replied_at.is_(None))).scalars():
        fwd.replied_at = now
    s.add(audit.event("external", "external_reply", case.id))
