"""What every staff console page shares: the language, page rendering, the session check
(which keeps typed text across an expired session), and error pages.

The language is ``?lang=``, the ``lang`` cookie, the browser's Accept-Language, then the
configured one; words come from gettext catalogues (:mod:`gateway.web.translations`).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from gateway.core.context import GatewayContext
from gateway.core.templates import KIND_NAMES, STATUS_NAMES
from gateway.core.text import to_persian_digits
from gateway.web import api
from gateway.web import console_text as words
from gateway.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    Session,
    SessionStore,
    csrf_ok,
    login_csrf,
    set_cookie,
)
from gateway.web.i18n import LANG_COOKIE, pick_language
from gateway.web.translations import translations

SESSIONS = web.AppKey("staff_sessions", SessionStore)
LIMITER = web.AppKey("staff_login_limiter", LoginLimiter)
CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Text a POST may carry across an expired session: the answer or the note of a case.
KEEPABLE = re.compile(r"^/staff/cases/(?P<code>[0-9]{10})/(?P<form>answer|notes)$")
MAX_KEPT_CHARS = 20000


class StaffPageError(web.HTTPException):
    """A console error shown as a page in the staff member's language, with a way back."""

    def __init__(self, status: int, title: str, message: str, back_url: str = "/staff/cases") -> None:
        self.status_code = status
        super().__init__()
        self.title, self.message, self.back_url = title, message, back_url


class Respond(Exception):
    """Answer the request with this finished page (raised deep inside a handler)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__()
        self.response = response


def ctx_of(request: web.Request) -> GatewayContext:
    """The gateway context of the app."""
    return api.context(request)


def language(request: web.Request) -> tuple[str, Any]:
    """The page language and its translate function."""
    lang, _chosen = pick_language(request, ctx_of(request).config.gateway.language)
    return lang, translations(lang).gettext


def digits(value: object, lang: str) -> str:
    """A number in the page's digits."""
    return to_persian_digits(str(value)) if lang == "fa" else str(value)


def unit_names(ctx: GatewayContext) -> dict[str, str]:
    """Unit code to name, from the config."""
    return {u.code: u.name for u in ctx.config.units}


async def page(
    request: web.Request, template: str, session: Session | None, status: int = 200, **values: Any
) -> web.Response:
    """Render a console page in the chosen language."""
    ctx = ctx_of(request)
    lang, chosen = pick_language(request, ctx.config.gateway.language)
    _ = translations(lang).gettext
    query = {k: v for k, v in request.query.items() if k != "lang"}
    other = "en" if lang == "fa" else "fa"
    here = request.path if request.method == "GET" else "/staff/cases"
    base = {
        "viewer": session.viewer if session else None,
        "csrf": session.csrf if session else "",
        "lang": lang,
        "dir": "rtl" if lang == "fa" else "ltr",
        "other_lang": other,
        "switch_url": f"{here}?{urlencode({**query, 'lang': other})}",
        "_": _,
        "gettext": _,
        "ngettext": translations(lang).ngettext,
        "kinds": KIND_NAMES[lang],
        "statuses": STATUS_NAMES[lang],
        "channels": words.translated(words.CHANNELS, _),
        "purposes": words.translated(words.PURPOSES, _),
        "event_names": words.translated(words.EVENTS, _),
        "unit_names": unit_names(ctx),
    }
    response = await aiohttp_jinja2.render_template_async(
        f"staff/{template}", request, {**base, **values}, status=status
    )
    if chosen:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


async def login_form(
    request: web.Request, error: str = "", status: int = 200, name: str = "", kept: dict[str, str] | None = None
) -> web.Response:
    """The login page; ``kept`` carries text typed before the session ended."""
    ctx = ctx_of(request)
    pre = request.cookies.get(LOGIN_COOKIE) or ""
    if len(pre) != 32 or not pre.isalnum():
        pre = secrets.token_hex(16)
    response = await page(
        request,
        "login.html",
        None,
        status=status,
        error=error,
        name=name,
        kept=kept or {},
        login_csrf=login_csrf(ctx, pre),
    )
    set_cookie(ctx, response, LOGIN_COOKIE, pre, max_age=3600)
    return response


async def current(request: web.Request) -> Session:
    """The logged-in session; otherwise the login page, keeping any answer or note typed."""
    session = await request.app[SESSIONS].load(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        return session
    if request.method == "POST" and KEEPABLE.match(request.path):
        text = str((await request.post()).get("text", ""))[:MAX_KEPT_CHARS]
        if text.strip():
            raise Respond(await login_form(request, "", 401, kept={"action": request.path, "text": text}))
    raise web.HTTPSeeOther("/staff/login")


def back_to(path: str) -> str:
    """The page a console POST came from (its case, or the inbox)."""
    found = re.match(r"^/staff/cases/([0-9]{10})/", path)
    return f"/staff/cases/{found.group(1)}" if found else "/staff/cases"


async def checked_form(request: web.Request) -> tuple[Session, Any]:
    """The session and form of a console POST, after the CSRF check."""
    session = await current(request)
    form = await request.post()
    if not csrf_ok(session.csrf, form.get("csrf")):
        _ = language(request)[1]
        raise StaffPageError(
            403,
            _("This form has expired"),
            _(
                "The page was open for too long or in another window, so nothing was done. "
                "Go back, reload the page and try again."
            ),
            back_to(request.path),
        )
    return session, form


@web.middleware
async def error_pages(request: web.Request, handler: Any) -> web.StreamResponse:
    """Console errors (403, 404, expired forms) as pages in the staff member's language."""
    if not request.path.startswith("/staff"):
        return await handler(request)
    try:
        return await handler(request)
    except Respond as e:
        return e.response
    except StaffPageError as e:
        return await error_page(request, e.status_code, e.title, e.message, e.back_url)
    except web.HTTPNotFound:
        _ = language(request)[1]
        return await error_page(
            request, 404, _("Page not found"), _("There is no console page at this address."), "/staff/cases"
        )


async def error_page(request: web.Request, status: int, title: str, message: str, back_url: str) -> web.Response:
    """An error page with a way back."""
    _ = language(request)[1]
    session = await request.app[SESSIONS].load(request.cookies.get(SESSION_COOKIE))
    back_label = _("Back to the case") if back_url.count("/") == 3 else _("Back to the cases")
    return await page(
        request,
        "error.html",
        session,
        status=status,
        title=title,
        message=message,
        back_url=back_url,
        back_label=back_label,
    )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No caching, no framing, no scripts on console and API answers."""
    if request.path.startswith(("/staff", "/api/v1")):
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/staff"):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
