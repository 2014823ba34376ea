"""Staff accounts, API tokens (stored hashed, revocable) and console passwords (argon2id)."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.db import Database, rows_changed
from gateway.core.errors import StaffError as StaffError  # re-exported: raised here
from gateway.core.models import ApiToken, Staff, Unit, utcnow
from gateway.core.security import hash_token, new_token

ROLES = ("staff", "supervisor", "oversight", "admin")
NOTIFY_CHOICES = ("immediate", "digest", "none")


async def add_staff(
    db: Database, name: str, unit: str, role: str = "staff", email: str | None = None, by: str = "cli"
) -> str:
    """Create a staff member with a first API token; return the token (shown once)."""
    if role not in ROLES:
        raise StaffError(f"unknown role {role!r} (one of: {', '.join(ROLES)})")
    async with db.session() as s:
        if (await s.execute(select(Unit.id).where(Unit.code == unit))).first() is None:
            raise StaffError(f"unknown unit {unit!r}")
        if (await s.execute(select(Staff.id).where(Staff.name == name))).first() is not None:
            raise StaffError(f"a staff member named {name!r} already exists")
        member = Staff(name=name, unit_code=unit, role=role, email=email)
        s.add(member)
        await s.flush()
        token = new_token()
        s.add(ApiToken(staff_id=member.id, token_hash=hash_token(token), label="initial"))
        s.add(audit.event(by, "staff_added", name=name, unit=unit, role=role))
    return token


async def issue_token(db: Database, name: str, label: str = "") -> str:
    """A new API token for an existing staff member."""
    async with db.session() as s:
        member = (await s.execute(select(Staff).where(Staff.name == name))).scalar_one_or_none()
        if member is None:
            raise StaffError(f"no staff member named {name!r}")
        token = new_token()
        s.add(ApiToken(staff_id=member.id, token_hash=hash_token(token), label=label))
    return token


async def staff_for_token(db: Database, token: str) -> Staff | None:
    """The active staff member a bearer token belongs to, if it is valid and not revoked."""
    async with db.session() as s:
        return (
            await s.execute(
                select(Staff)
                .join(ApiToken, ApiToken.staff_id == Staff.id)
                .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None), Staff.active.is_(True))
            )
        ).scalar_one_or_none()


async def revoke_token(db: Database, token: str, by: str = "cli") -> bool:
    """Revoke a token; True if it existed and was live."""
    async with db.session() as s:
        row = (await s.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        await _end_sessions(s, row.staff_id)
        name = (await s.execute(select(Staff.name).where(Staff.id == row.staff_id))).scalar_one()
        s.add(audit.event(by, "tokens_revoked", name=name, count=1))
        return True


# -- console passwords (argon2id), revocation, listing ------------------------------
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as much as a wrong
    password.  Made on first use, not at import (an argon2 hash: ~0.5 s of start-up)."""
    return _hasher.hash("citizen-gateway dummy password")


MIN_PASSWORD_CHARS = 10


async def set_password(db: Database, name: str, password: str, by: str = "cli") -> None:
    """Set a staff member's console password (stored as an argon2id hash)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise StaffError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    hashed = await asyncio.to_thread(_hasher.hash, password)
    async with db.session() as s:
        member = (await s.execute(select(Staff).where(Staff.name == name))).scalar_one_or_none()
        if member is None:
            raise StaffError(f"no staff member named {name!r}")
        member.password_hash = hashed
        member.session_epoch += 1  # console sessions of the old password end at once
        s.add(audit.event(by, "password_set", name=name))


async def check_password(db: Database, name: str, password: str) -> Staff | None:
    """The active staff member if ``password`` is theirs; rehashes outdated hashes."""
    async with db.session() as s:
        member = (await s.execute(select(Staff).where(Staff.name == name, Staff.active.is_(True)))).scalar_one_or_none()
    if member is not None and member.password_hash:
        stored = member.password_hash
    else:
        stored = await asyncio.to_thread(_dummy_hash)
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if member is None or not member.password_hash:
        return None
    if _hasher.check_needs_rehash(stored):
        new_hash = await asyncio.to_thread(_hasher.hash, password)
        async with db.session() as s:
            await s.execute(update(Staff).where(Staff.id == member.id).values(password_hash=new_hash))
    return member


async def staff_by_id(db: Database, staff_id: int) -> Staff | None:
    """An active staff member by id."""
    async with db.session() as s:
        return (await s.execute(select(Staff).where(Staff.id == staff_id, Staff.active.is_(True)))).scalar_one_or_none()


async def revoke_all_tokens(db: Database, name: str, by: str = "cli") -> int:
    """Revoke every live API token of a staff member; return how many."""
    async with db.session() as s:
        member = (await s.execute(select(Staff).where(Staff.name == name))).scalar_one_or_none()
        if member is None:
            raise StaffError(f"no staff member named {name!r}")
        res = await s.execute(
            update(ApiToken)
            .where(ApiToken.staff_id == member.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await _end_sessions(s, member.id)
        count = rows_changed(res)
        s.add(audit.event(by, "tokens_revoked", name=name, count=count))
        return count


async def _end_sessions(s: AsyncSession, staff_id: int) -> None:
    """End every console session of a member (sessions carry the epoch they began in)."""
    await s.execute(update(Staff).where(Staff.id == staff_id).values(session_epoch=Staff.session_epoch + 1))


async def deactivate_staff(db: Database, name: str, by: str = "cli") -> None:
    """Deactivate a member: no login, no API, and their console sessions end at once."""
    async with db.session() as s:
        member = (await s.execute(select(Staff).where(Staff.name == name))).scalar_one_or_none()
        if member is None:
            raise StaffError(f"no staff member named {name!r}")
        member.active = False
        member.session_epoch += 1
        s.add(audit.event(by, "staff_deactivated", name=name))


async def set_notify(db: Database, name: str, choice: str) -> None:
    """How a staff member hears of new cases: "immediate", "digest" or "none"."""
    if choice not in NOTIFY_CHOICES:
        raise StaffError(f"notify must be one of {', '.join(NOTIFY_CHOICES)}")
    async with db.session() as s:
        res = await s.execute(update(Staff).where(Staff.name == name).values(notify=choice))
        if not rows_changed(res):
            raise StaffError(f"no staff member named {name!r}")


async def list_staff(db: Database) -> list[dict[str, object]]:
    """Every staff member with role, unit, whether a password is set and live token count."""
    async with db.session() as s:
        live = (
            select(ApiToken.staff_id, func.count().label("n"))
            .where(ApiToken.revoked_at.is_(None))
            .group_by(ApiToken.staff_id)
            .subquery()
        )
        rows = await s.execute(
            select(Staff, func.coalesce(live.c.n, 0))
            .outerjoin(live, live.c.staff_id == Staff.id)
            .order_by(Staff.unit_code, Staff.name)
        )
        return [
            {
                "name": m.name,
                "unit": m.unit_code,
                "role": m.role,
                "active": m.active,
                "password": bool(m.password_hash),
                "tokens": int(n),
                "notify": m.notify,
            }
            for m, n in rows.all()
        ]
