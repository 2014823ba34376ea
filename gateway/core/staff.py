"""Staff accounts and API tokens (tokens are stored hashed and can be revoked)."""

from __future__ import annotations

from sqlalchemy import select

from gateway.core.db import Database
from gateway.core.models import ApiToken, Staff, Unit, utcnow
from gateway.core.security import hash_token, new_token

ROLES = ("staff", "supervisor", "oversight", "admin")


class StaffError(ValueError):
    """A staff command cannot be carried out; the message says why."""


async def add_staff(db: Database, name: str, unit: str, role: str = "staff",
                    email: str | None = None) -> str:
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
        return (await s.execute(select(Staff).join(ApiToken, ApiToken.staff_id == Staff.id).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None),
            Staff.active.is_(True)))).scalar_one_or_none()


async def revoke_token(db: Database, token: str) -> bool:
    """Revoke a token; True if it existed and was live."""
    async with db.session() as s:
        row = (await s.execute(select(ApiToken).where(
            ApiToken.token_hash == hash_token(token)))).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True
