"""Console login and logout, and text carried across an expired session.

A POST whose session has ended shows the login form carrying the typed text (see
:func:`gateway.web.console_base.current`); after login the text is parked under the new
session and the case page puts it back in its form, unsent (:func:`take_parked_text`).
Failed logins count per name from one address and per name overall, so one colleague's
typos never lock the whole office out; a locked name gets Retry-After.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.core import audit
from gateway.core.access import Viewer
from gateway.core.staff import check_password
from gateway.web.auth import LOGIN_COOKIE, SESSION_COOKIE, Session, csrf_ok, login_csrf, set_cookie
from gateway.web.console_base import (
    KEEPABLE,
    LIMITER,
    MAX_KEPT_CHARS,
    SESSIONS,
    checked_form,
    ctx_of,
    digits,
    language,
    login_form,
)

_PARKED = "staff-draft:"


def login_keys(address: str, name: str) -> list[str]:
    """The throttle's keys: this name from this address, this name, this address."""
    folded = name.casefold()
    return [f"pair:{address}|{folded}", f"name:{folded}", f"ip:{address}"]


def _kept(form: Any) -> dict[str, str]:
    """Text carried through the login form, if it names a case form we know."""
    action, text = str(form.get("keep_action", "")), str(form.get("keep_text", ""))[:MAX_KEPT_CHARS]
    return {"action": action, "text": text} if KEEPABLE.match(action) and text.strip() else {}


async def get_login(request: web.Request) -> web.Response:
    return await login_form(request)


async def post_login(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    lang, _ = language(request)
    form = await request.post()
    name, password = str(form.get("name", "")).strip()[:200], str(form.get("password", ""))[:1000]
    kept = _kept(form)
    pre = request.cookies.get(LOGIN_COOKIE) or ""
    if not pre or not csrf_ok(login_csrf(ctx, pre), form.get("csrf")):
        # A login tab left open (or its cookie gone): a fresh form, nothing typed is lost.
        return await login_form(request, _("The login page had expired. Please log in again."), 403, name, kept)
    limiter = request.app[LIMITER]
    keys = login_keys(request.remote or "", name)
    wait = await limiter.retry_after(keys)
    if wait:
        await audit.login_failed(ctx.db, name, request.remote, blocked=True)
        minutes = digits(max(1, -(-int(wait) // 60)), lang)
        response = await login_form(
            request, _("Too many failed attempts. Try again in %(n)s minutes.") % {"n": minutes}, 429, name, kept
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    member = await check_password(ctx.db, name, password) if name and password else None
    if member is None:
        await limiter.failed(keys)
        await audit.login_failed(ctx.db, name, request.remote)
        return await login_form(request, _("Wrong user name or password."), 401, name, kept)
    await limiter.succeeded(keys[:2])
    await audit.record(ctx.db, f"staff:{member.name}", "login", ip=request.remote)
    store = request.app[SESSIONS]
    await store.destroy(request.cookies.get(SESSION_COOKIE))  # never keep a presented id
    session = await store.create(Viewer.of(member))
    target = "/staff/cases"
    if kept:
        found = KEEPABLE.match(kept["action"])
        assert found is not None
        await ctx.state.put(
            _PARKED + session.sid, {"form": found.group("form"), "text": kept["text"], "code": found.group("code")}
        )
        target = f"/staff/cases/{found.group('code')}?done=restored#{'answer' if found.group('form') == 'answer' else 'note-h'}"
    response = web.HTTPSeeOther(target)
    set_cookie(ctx, response, SESSION_COOKIE, session.sid)
    response.del_cookie(LOGIN_COOKIE, path="/staff")
    raise response


async def take_parked_text(request: web.Request, session: Session, code: str) -> dict[str, str]:
    """The text parked at login for this case (once), as the case form's field."""
    state = ctx_of(request).state
    parked = await state.get(_PARKED + session.sid)
    if not parked or parked.get("code") != code or not parked.get("text"):
        return {}
    await state.put(_PARKED + session.sid, {})
    return {"draft" if parked.get("form") == "answer" else "note_draft": str(parked["text"])}


async def post_logout(request: web.Request) -> web.Response:
    session, _ = await checked_form(request)
    await request.app[SESSIONS].destroy(session.sid)
    response = web.HTTPSeeOther("/staff/login")
    response.del_cookie(SESSION_COOKIE, path="/staff")
    raise response
