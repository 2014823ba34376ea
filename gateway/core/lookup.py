"""Read-side lookups for the citizen web: a case's public view by tracking code, the
answer gated on the citizen's contact or a signed link, and Open311 request listings.

What a tracking code alone reveals: kind, status, unit and dates,
never contact details.  The answer text is given only to someone who also proves the
contact the case came from (email compared case-insensitively, phone numbers as E.164)
or who holds the signed tracking link we sent: ``track_link_signed(ctx, code)``, whose
token is ``ctx.signer.sign("track", {"c": code})`` (no expiry: it travels in the answer
message itself, and only reveals that one case's answer).  The shorter answer-view MAC
that ``core.answers.answer_link`` puts in SMS answers is accepted as well.

Unknown codes and wrong contacts take the same path: one indexed SELECT by code, then
:func:`contact_matches` against the case's contact or a dummy value, so neither the work
done nor the reply tells them apart.  Reads use ``db.read_session()`` (no write lock).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import phonenumbers
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core.context import GatewayContext
from gateway.core.models import AuditEvent, Case, Message, utcnow
from gateway.core.text import to_ascii_digits

TRACK_PURPOSE = "track"
ANSWER_VIEW_PURPOSE = "answer-view"  # gateway.core.answers.answer_view_mac
_DUMMY_CONTACT = "\x00no-such-contact\x00"
OPEN311_LIMIT = 1000  # GeoReport v2: "first 1000 requests"
OPEN311_WINDOW = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class PublicCase:
    """The fields of a case anyone with its code may see."""

    code: str
    kind: str
    status: str
    unit_code: str
    service_code: str | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class TrackResult:
    """The outcome of a tracking lookup: ``case`` None means "no match" (kept neutral)."""

    case: PublicCase | None
    answer: str | None = None
    proved: bool = False  # the caller showed the right contact or a valid signed link


def track_token(ctx: GatewayContext, code: str) -> str:
    """The signed token that lets its holder see one case's answer."""
    return ctx.signer.sign(TRACK_PURPOSE, {"c": code})


def track_link_signed(ctx: GatewayContext, code: str) -> str:
    """The tracking link to put in answer messages: shows the answer without a contact."""
    return f"{ctx.track_link(code)}&t={quote(track_token(ctx, code))}"


def verify_track_token(ctx: GatewayContext, code: str, token: str | None) -> bool:
    """True if ``token`` is our signed tracking token for exactly this code."""
    if not token or len(token) > 200:
        return False
    # The short answer-view MAC of core.answers (12 characters, kind to SMS budgets).
    short = hmac.compare_digest(token.encode(), ctx.signer.mac(ANSWER_VIEW_PURPOSE, code, 9).encode())
    payload = ctx.signer.verify(TRACK_PURPOSE, token)
    signed = payload is not None and hmac.compare_digest(str(payload.get("c", "")), code)
    return short or signed


def normalize_contact(value: str | None, region: str = "IR") -> str | None:
    """An email address in lower case, or a phone number as E.164 (+98…); None if neither."""
    text = to_ascii_digits((value or "").strip())
    if not text or len(text) > 320:
        return None
    if "@" in text:
        return text.casefold()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_matches(given: str | None, stored: str | None) -> bool:
    """Compare a normalised contact with a case's contact in constant time.

    Called whenever a contact is given, for unknown codes and anonymous cases too (then
    against a dummy), so both neutral paths do the same work.  Channels store phone
    numbers as E.164 already; emails compare case-insensitively."""
    real = stored is not None
    stored_norm = (stored if stored is not None else _DUMMY_CONTACT).strip().casefold()
    same = hmac.compare_digest((given or _DUMMY_CONTACT).encode("utf-8"), stored_norm.encode("utf-8"))
    return same and real and given is not None


def public_view(case: Case) -> PublicCase:
    """Copy the public fields of a case row."""
    return PublicCase(
        case.code,
        case.kind,
        case.status,
        case.unit_code,
        case.service_code,
        case.created_at,
        case.updated_at,
        case.due_at,
        case.answered_at,
        case.closed_at,
    )


# What /track reads: the public fields, plus id and contact for the answer check only.
_TRACK_COLUMNS = (
    Case.code,
    Case.kind,
    Case.status,
    Case.unit_code,
    Case.service_code,
    Case.created_at,
    Case.updated_at,
    Case.due_at,
    Case.answered_at,
    Case.closed_at,
    Case.id,
    Case.contact,
)
_TRACK_BY_CODE = select(*_TRACK_COLUMNS).where(Case.code == bindparam("code"))  # built once


async def case_by_code(s: AsyncSession | AsyncConnection, code: str) -> tuple[PublicCase, int, str | None] | None:
    """One indexed SELECT on the unique ``cases.code``: (public view, id, contact)."""
    row = (await s.execute(_TRACK_BY_CODE, {"code": code})).first()
    if row is None:
        return None
    return PublicCase(*row[:10]), row[10], row[11]


async def answer_text(s: AsyncSession | AsyncConnection, case_id: int) -> str | None:
    """The newest staff answer of a case, as the staff member wrote it (the audit log keeps
    it; the sent message also carries the channel's opening line), else the sent text."""
    staff_text = (
        await s.execute(
            select(AuditEvent.detail)
            .where(AuditEvent.case_id == case_id, AuditEvent.action.in_(("answered", "reanswered")))
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    ).scalar()
    if isinstance(staff_text, dict) and str(staff_text.get("text", "")).strip():
        return str(staff_text["text"])
    row = (
        await s.execute(
            select(Message.text)
            .where(
                Message.case_id == case_id, Message.direction == "out", Message.meta["purpose"].as_string() == "answer"
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
    ).first()
    return row[0] if row else None


async def track_case(
    ctx: GatewayContext, code: str, contact: str | None = None, token: str | None = None
) -> TrackResult:
    """Look a (parsed, valid) code up; give the answer only to a proven caller (or to the
    code holder of an anonymous case, which has no contact to prove).

    With a contact, the unknown-code path and the wrong-contact path both run the SELECT,
    the normalisation and :func:`contact_matches`, and answer alike."""
    given = normalize_contact(contact) if contact is not None else None
    async with ctx.db.read_engine.connect() as s:  # Core, no ORM session: the hot path
        found = await case_by_code(s, code)
        matched = False
        if contact is not None:
            matched = contact_matches(given, found[2] if found else None)
        signed = verify_track_token(ctx, code, token) if token else False
        if found is None:
            return TrackResult(None)
        view, case_id, case_contact = found
        # An anonymous citizen (no email or number on the case: a voice call without caller
        # id, an anonymous web report) has nothing but the code to prove with, so for such
        # cases the code alone shows the answer (the code is 1 in 10^9 and rate limited).
        proved = matched or signed or case_contact is None
        answer = await answer_text(s, case_id) if proved and view.answered_at else None
        return TrackResult(view, answer, proved)


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A case as an Open311 service request, with the location its first message gave."""

    case: PublicCase
    description: str | None
    meta: dict[str, object]


async def open311_requests(
    ctx: GatewayContext,
    *,
    codes: list[str] | None = None,
    service_codes: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    statuses: list[str] | None = None,
) -> list[RequestRow]:
    """Cases listed by Open311 GET requests (channel ``web``, never confidential ones);
    ``codes`` overrides the other filters, as the spec says."""
    stmt: Select[Case] = select(Case).where(Case.confidential.is_(False))
    if codes:
        stmt = stmt.where(Case.code.in_(codes[:OPEN311_LIMIT]))
    else:
        end = end or utcnow()
        start = start or end - OPEN311_WINDOW
        stmt = stmt.where(
            Case.channel == "web", Case.service_code.is_not(None), Case.created_at >= start, Case.created_at <= end
        )
        if service_codes:
            stmt = stmt.where(Case.service_code.in_(service_codes))
        if statuses:
            stmt = stmt.where(Case.status.in_(statuses))
    stmt = stmt.order_by(Case.created_at.desc()).limit(OPEN311_LIMIT)
    async with ctx.db.read_session() as s:
        cases = list((await s.execute(stmt)).scalars())
        firsts = await _first_messages(s, [c.id for c in cases])
    rows = []
    for c in cases:
        first = firsts.get(c.id)
        from_open311 = first is not None and first.provider == "open311"
        rows.append(
            RequestRow(
                public_view(c),
                first.text if first is not None and from_open311 else None,
                dict(first.meta) if first is not None and from_open311 else {},
            )
        )
    return rows


async def _first_messages(s: AsyncSession, case_ids: list[int]) -> dict[int, Message]:
    if not case_ids:
        return {}
    rows = await s.execute(
        select(Message).where(Message.case_id.in_(case_ids), Message.direction == "in").order_by(Message.id)
    )
    out: dict[int, Message] = {}
    for m in rows.scalars():
        out.setdefault(m.case_id, m)
    return out
