"""The staff console under ``/staff``: Persian, RTL, Jalali dates, no JavaScript needed.

Pages: login, inbox (filters, overdue highlighted), case (thread, audio player, answer
form with saved replies, assign, note, kind), dashboard (SVG charts, CSV export).  Every
POST carries the session's CSRF token and answers with a redirect (POST-redirect-GET).
The work itself is done by ``gateway.core.answers`` exactly as for the JSON API.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from gateway.core import answers, inbox, reports
from gateway.core.access import Viewer, case_scope
from gateway.core.context import GatewayContext
from gateway.core.models import Unit, utcnow
from gateway.core.replies import SURVEY_QUESTIONS
from gateway.core.sla import run_digests
from gateway.core.staff import check_password
from gateway.core.templates import KIND_NAMES, STATUS_NAMES
from gateway.web import api
from gateway.web.auth import (LOGIN_COOKIE, SESSION_COOKIE, LoginLimiter, Session, SessionStore,
                              csrf_ok, login_csrf, set_cookie)
from gateway.web.charts import bar_chart, jalali_time

CHANNEL_NAMES = {"email": "ایمیل", "sms": "پیامک", "voice": "پیام صوتی", "web": "وب"}
PURPOSE_NAMES = {"ack": "رسید", "answer": "پاسخ", "survey": "نظرسنجی", "status": "وضعیت",
                 "help": "راهنما", "digest": "گزارش روزانه"}
QUESTION_NAMES = {"workflow": "روند و مراحل کار", "information_match": "انطباق با اطلاعات اعلام‌شده",
                  "staff_behaviour": "رفتار کارکنان", "timeliness": "به‌موقع بودن"}
ERRORS_FA = {"not_found": "پرونده یافت نشد.", "validation_error": "ورودی نادرست است.",
             "unknown_unit": "واحد انتخاب‌شده وجود ندارد.",
             "forbidden_for_kind": "این کار برای این نوع پرونده مجاز نیست."}
DONE_FA = {"answered": "پاسخ ثبت و برای ارسال در صف قرار گرفت.", "assigned": "پرونده ارجاع شد.",
           "noted": "یادداشت ثبت شد.", "kind": "نوع پرونده تغییر کرد."}
SESSIONS = web.AppKey("staff_sessions", SessionStore)
LIMITER = web.AppKey("staff_login_limiter", LoginLimiter)
CSP = ("default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _ctx(request: web.Request) -> GatewayContext:
    return api.context(request)


async def current(request: web.Request) -> Session:
    """The logged-in session, or a redirect to the login page."""
    session = await request.app[SESSIONS].load(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise web.HTTPSeeOther("/staff/login")
    return session


async def page(request: web.Request, name: str, session: Session | None,
               status: int = 200, **values: Any) -> web.Response:
    base = {"viewer": session.viewer if session else None, "csrf": session.csrf if session else "",
            "kinds": KIND_NAMES["fa"], "statuses": STATUS_NAMES["fa"], "channels": CHANNEL_NAMES,
            "purposes": PURPOSE_NAMES}
    return await aiohttp_jinja2.render_template_async(f"staff/{name}", request, {**base, **values},
                                                      status=status)


async def checked_form(request: web.Request) -> tuple[Session, Any]:
    """The session and form of a console POST, after the CSRF check."""
    session = await current(request)
    form = await request.post()
    if not csrf_ok(session.csrf, form.get("csrf")):
        raise web.HTTPForbidden(text="CSRF token missing or wrong")
    return session, form


# -- login / logout ---------------------------------------------------------------------
async def login_form(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    ctx = _ctx(request)
    pre = request.cookies.get(LOGIN_COOKIE) or ""
    if len(pre) != 32 or not pre.isalnum():
        import secrets
        pre = secrets.token_hex(16)
    response = await page(request, "login.html", None, status=status, error=error,
                          login_csrf=login_csrf(ctx, pre))
    set_cookie(ctx, response, LOGIN_COOKIE, pre, max_age=3600)
    return response


async def get_login(request: web.Request) -> web.Response:
    return await login_form(request)


async def post_login(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    form = await request.post()
    pre = request.cookies.get(LOGIN_COOKIE) or ""
    if not pre or not csrf_ok(login_csrf(ctx, pre), form.get("csrf")):
        raise web.HTTPForbidden(text="CSRF token missing or wrong")
    name, password = str(form.get("name", "")).strip()[:200], str(form.get("password", ""))[:1000]
    limiter = request.app[LIMITER]
    keys = [f"ip:{request.remote}", f"name:{name.casefold()}"]
    if limiter.blocked(keys):
        return await login_form(request, "تلاش‌های ناموفق زیاد بود؛ چند دقیقه بعد دوباره امتحان کنید.", 429)
    member = await check_password(ctx.db, name, password) if name and password else None
    if member is None:
        limiter.failed(keys)
        return await login_form(request, "نام کاربری یا گذرواژه نادرست است.", 401)
    limiter.succeeded(keys[1])
    store = request.app[SESSIONS]
    await store.destroy(request.cookies.get(SESSION_COOKIE))  # never keep a presented id
    session = await store.create(Viewer.of(member))
    response = web.HTTPSeeOther("/staff/cases")
    set_cookie(ctx, response, SESSION_COOKIE, session.sid)
    response.del_cookie(LOGIN_COOKIE, path="/staff")
    raise response


async def post_logout(request: web.Request) -> web.Response:
    session, _ = await checked_form(request)
    await request.app[SESSIONS].destroy(session.sid)
    response = web.HTTPSeeOther("/staff/login")
    response.del_cookie(SESSION_COOKIE, path="/staff")
    raise response


# -- inbox and case ---------------------------------------------------------------------
async def get_home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/staff/cases")


async def get_inbox(request: web.Request) -> web.Response:
    session = await current(request)
    error = ""
    try:
        flt = inbox.CaseFilter.from_query(request.query)
    except inbox.FilterError:
        flt, error = inbox.CaseFilter(), "فیلتر نادرست است."
    async with _ctx(request).db.session() as s:
        items, cursor = await inbox.list_cases(s, session.viewer, flt, utcnow())
    query = {k: v for k, v in request.query.items() if k != "cursor" and v}
    next_url = f"/staff/cases?{urlencode({**query, 'cursor': cursor})}" if cursor else None
    return await page(request, "inbox.html", session, cases=items, flt=flt, next_url=next_url,
                      error=error)


async def case_page(request: web.Request, session: Session, error: str = "",
                    status: int = 200) -> web.Response:
    ctx = _ctx(request)
    code = request.match_info["code"]
    async with ctx.db.session() as s:
        try:
            case = await answers.load_case(s, session.viewer, code)
        except answers.CaseActionError:
            raise web.HTTPNotFound(text="پرونده یافت نشد") from None
        detail = await inbox.case_detail(s, session.viewer, case, utcnow())
        units = (await s.execute(select(Unit.code, Unit.name).order_by(Unit.name))).all()
    replies = {n: ctx.templates.raw(n, "fa") for n in ctx.templates.names("fa") if n.startswith("reply_")}
    chosen = request.query.get("template", "")
    draft = replies.get(chosen, "")
    return await page(request, "case.html", session, status=status, case=detail, units=units,
                      replies=replies, draft=draft, error=error,
                      done=DONE_FA.get(request.query.get("done", ""), ""))


async def get_case(request: web.Request) -> web.Response:
    return await case_page(request, await current(request))


async def _act(request: web.Request, action: str) -> web.Response:
    session, form = await checked_form(request)
    ctx, code, v = _ctx(request), request.match_info["code"], session.viewer
    try:
        if action == "answered":
            await answers.answer_case(ctx, v, code, form.get("text"), form.get("close") == "1")
        elif action == "assigned":
            await answers.assign_case(ctx, v, code, form.get("unit"), form.get("note") or None)
        elif action == "noted":
            await answers.add_note(ctx, v, code, form.get("text"))
        else:
            await answers.change_kind(ctx, v, code, form.get("kind"))
    except answers.CaseActionError as e:
        if e.code == "not_found":
            raise web.HTTPNotFound(text="پرونده یافت نشد") from None
        return await case_page(request, session, ERRORS_FA.get(e.code, e.message), 422)
    if action == "assigned":  # the case may now be outside this viewer's scope
        raise web.HTTPSeeOther(f"/staff/cases?{urlencode({'done': action})}")
    raise web.HTTPSeeOther(f"/staff/cases/{code}?done={action}")


async def post_answer(request: web.Request) -> web.Response:
    return await _act(request, "answered")


async def post_assign(request: web.Request) -> web.Response:
    return await _act(request, "assigned")


async def post_note(request: web.Request) -> web.Response:
    return await _act(request, "noted")


async def post_kind(request: web.Request) -> web.Response:
    return await _act(request, "kind")


async def get_attachment(request: web.Request) -> web.Response:
    session = await current(request)
    try:
        return await api.attachment_response(_ctx(request), session.viewer, request.match_info["code"],
                                             request.match_info["attachment_id"])
    except answers.CaseActionError:
        raise web.HTTPNotFound(text="پیوست یافت نشد") from None


# -- dashboard --------------------------------------------------------------------------
async def _figures(request: web.Request, session: Session) -> reports.Figures:
    if not session.viewer.sees_dashboard:
        raise web.HTTPForbidden(text="داشبورد مخصوص سرپرستان است")
    raw = request.query.get("days", "")
    days = int(raw) if raw.isdigit() and 1 <= int(raw) <= 3660 else None
    async with _ctx(request).db.session() as s:
        return await reports.figures(s, case_scope(session.viewer), session.viewer.unit_code,
                                     reports.period_start(days))


async def get_dashboard(request: web.Request) -> web.Response:
    session = await current(request)
    figs = await _figures(request, session)
    kinds = bar_chart([(KIND_NAMES["fa"].get(k, k), n) for k, n in sorted(figs.by_kind.items())])
    chans = bar_chart([(CHANNEL_NAMES.get(k, k), n) for k, n in sorted(figs.by_channel.items())])
    survey = bar_chart([(QUESTION_NAMES[q], figs.survey_averages.get(q) or 0) for q in SURVEY_QUESTIONS],
                       maximum=5)
    return await page(request, "dashboard.html", session, figs=figs, kind_chart=kinds,
                      channel_chart=chans, survey_chart=survey, days=request.query.get("days", ""))


async def get_dashboard_csv(request: web.Request) -> web.Response:
    session = await current(request)
    figs = await _figures(request, session)
    return web.Response(text=reports.to_csv(figs), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="report.csv"'})


# -- mounting ---------------------------------------------------------------------------
async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(("/staff", "/api/v1")):
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/staff"):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")


def setup_staff(app: web.Application) -> None:
    """Mount the staff API and console, and run the daily SLA digest with the app."""
    from gateway.web.app import CTX
    ctx = app[CTX]
    api.setup_api(app)
    app[SESSIONS] = SessionStore(ctx)
    app[LIMITER] = LoginLimiter(ctx.config.staff.login_max_failures,
                                ctx.config.staff.login_window_minutes * 60)
    aiohttp_jinja2.get_env(app).filters["jalali_time"] = lambda v: jalali_time(v, ctx.config.gateway.timezone)
    app.on_response_prepare.append(_security_headers)
    app.cleanup_ctx.append(_digest_task)
    r = app.router
    r.add_get("/staff", get_home)
    r.add_get("/staff/login", get_login)
    r.add_post("/staff/login", post_login)
    r.add_post("/staff/logout", post_logout)
    r.add_get("/staff/cases", get_inbox)
    r.add_get("/staff/cases/{code}", get_case)
    r.add_post("/staff/cases/{code}/answer", post_answer)
    r.add_post("/staff/cases/{code}/assign", post_assign)
    r.add_post("/staff/cases/{code}/notes", post_note)
    r.add_post("/staff/cases/{code}/kind", post_kind)
    r.add_get("/staff/cases/{code}/attachments/{attachment_id}", get_attachment)
    r.add_get("/staff/dashboard", get_dashboard)
    r.add_get("/staff/dashboard.csv", get_dashboard_csv)


async def _digest_task(app: web.Application) -> AsyncIterator[None]:
    from gateway.web.app import CTX
    task = asyncio.create_task(run_digests(app[CTX]), name="sla-digest")
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
