"""Who is calling: API bearer tokens, console sessions, CSRF tokens, login throttling.

Console sessions live server-side (``ctx.state`` under ``staff-session:<sha256(id)>``)
and carry the member's ``session_epoch`` from login: a password change, a token revoke or
a deactivation bumps it, which ends every session of that member at once, in every process;
the cookie holds only a random id (HttpOnly, SameSite=Lax, Secure on https).  Logging in
always mints a new id and drops the one presented, so a planted cookie is worthless
(session fixation, OWASP ASVS 3.2.1).  Every console POST carries the session's CSRF token
in a form field; the login form uses a double-submit token bound to a short-lived
pre-login cookie.  Failed logins are counted per client address and per name in the shared
limiter (every process together) and answered 429 over ``staff.login_max_failures``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from gateway.core.access import Viewer
from gateway.core.context import GatewayContext
from gateway.core.staff import staff_by_id, staff_for_token

SESSION_COOKIE = "gw_staff"
LOGIN_COOKIE = "gw_login"
SESSION_PREFIX = "staff-session:"


def _key(sid: str) -> str:
    return SESSION_PREFIX + hashlib.sha256(sid.encode()).hexdigest()


def cookie_secure(ctx: GatewayContext) -> bool:
    """Whether cookies get the Secure flag (``staff.cookie_secure``)."""
    mode = ctx.config.staff.cookie_secure
    return mode == "always" or (mode == "auto" and ctx.config.gateway.public_base_url.startswith("https:"))


def set_cookie(
    ctx: GatewayContext, response: web.StreamResponse, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/staff", httponly=True, samesite="Lax", secure=cookie_secure(ctx)
    )


@dataclass(slots=True)
class Session:
    """A logged-in console session."""

    sid: str
    viewer: Viewer
    csrf: str


class SessionStore:
    """Server-side console sessions in the state table."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx

    async def create(self, viewer: Viewer) -> Session:
        """A brand-new session (never reuses an id the client sent)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = time.time() + self.ctx.config.staff.session_hours * 3600
        member = await staff_by_id(self.ctx.db, viewer.staff_id)
        epoch = member.session_epoch if member is not None else -1
        await self.ctx.state.put(_key(sid), {"staff_id": viewer.staff_id, "csrf": csrf, "exp": expires, "epoch": epoch})
        return Session(sid, viewer, csrf)

    async def load(self, sid: str | None) -> Session | None:
        """The live session for a cookie value, or None."""
        if not sid or len(sid) > 100:
            return None
        data = await self.ctx.state.get(_key(sid))
        if not data or float(data.get("exp", 0)) < time.time():
            return None
        member = await staff_by_id(self.ctx.db, int(data["staff_id"]))
        # a password change, token revoke or deactivation since login ends the session
        if member is None or data.get("epoch") != member.session_epoch:
            return None
        return Session(sid, Viewer.of(member), str(data["csrf"]))

    async def destroy(self, sid: str | None) -> None:
        """End a session (its row stays, emptied, so the id can never come back)."""
        if sid and len(sid) <= 100 and await self.ctx.state.get(_key(sid)) is not None:
            await self.ctx.state.put(_key(sid), {"exp": 0})


def login_csrf(ctx: GatewayContext, pre: str) -> str:
    """The login form's token: bound to the pre-login cookie by our key."""
    return ctx.signer.mac("login-csrf", pre, 18)


def csrf_ok(expected: str, given: object) -> bool:
    """Constant-time comparison of a submitted CSRF token."""
    return (
        isinstance(given, str)
        and bool(given)
        and hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))
    )


class LoginLimiter:
    """Failed logins per key, counted in the shared limiter (every process together).

    Keys are ``kind:value``: a name from one address (``pair:``) may fail ``max_failures``
    times in the window, a name from anywhere (``name:``) four times that, one address over
    all names (``ip:``) ten times that: colleagues behind one office address are not locked
    out by someone else's typos, and guessing from many addresses or names still stops.
    """

    FACTORS = {"pair": 1, "name": 4, "ip": 10}

    def __init__(self, ctx: GatewayContext, max_failures: int, window_seconds: float) -> None:
        self.ctx, self.max_failures, self.window = ctx, max_failures, window_seconds

    def _limit(self, key: str) -> int:
        return self.max_failures * self.FACTORS.get(key.partition(":")[0], 1)

    async def retry_after(self, keys: list[str]) -> float:
        """Seconds until every key is below its limit again (0: not blocked)."""
        verdicts = await asyncio.gather(
            *(self.ctx.limiter.peek(f"login:{k}", self._limit(k), self.window) for k in keys)
        )
        return max((v.retry_after for v in verdicts if not v.allowed), default=0.0)

    async def blocked(self, keys: list[str]) -> bool:
        """True if any key has used up its failures in the window."""
        return await self.retry_after(keys) > 0

    async def failed(self, keys: list[str]) -> None:
        """Count one failure for each key."""
        await asyncio.gather(*(self.ctx.limiter.hit(f"login:{k}", self._limit(k), self.window) for k in keys))

    async def succeeded(self, keys: list[str] | str) -> None:
        """Forget the failures of these keys (a name that just logged in)."""
        await asyncio.gather(
            *(self.ctx.limiter.reset(f"login:{k}", self.window) for k in ([keys] if isinstance(keys, str) else keys))
        )


async def bearer_viewer(ctx: GatewayContext, request: web.Request) -> Viewer | None:
    """The staff member behind ``Authorization: Bearer <token>``, if valid and not revoked."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    member = await staff_for_token(ctx.db, token)
    return Viewer.of(member) if member is not None else None
