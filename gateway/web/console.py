"""The staff console under ``/staff``: Persian (RTL, Jalali dates) or English, no
JavaScript needed.

Pages: login (:mod:`console_login`), inbox (filters, sort by due date, overdue highlighted),
case (thread, audio player, answer form with saved replies, refer, note, kind), dashboard
(:mod:`console_dashboard`).  Shared rendering, language and error pages live in
:mod:`console_base`.  Every POST carries the session's CSRF token and answers with a
redirect (POST-redirect-GET); a form that fails comes back with what was typed.  The work
itself is done by ``gateway.core.answers`` exactly as for the JSON API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy import select

from gateway.core import answers, assignment, audit, inbox
from gateway.core.models import Unit, utcnow
from gateway.web import api
from gateway.web import console_text as words
from gateway.web.auth import LoginLimiter, Session, SessionStore
from gateway.web.charts import jalali_day, jalali_time
from gateway.web.console_base import (
    LIMITER,
    MAX_KEPT_CHARS,
    SESSIONS,
    StaffPageError,
    checked_form,
    ctx_of,
    current,
    digits,
    error_pages,
    language,
    page,
    security_headers,
    unit_names,
)
from gateway.web.console_dashboard import get_dashboard, get_dashboard_csv
from gateway.web.console_login import get_login, post_login, post_logout, take_parked_text
from gateway.web.console_oversight import setup_oversight_pages
from gateway.web.keys import app_context
from gateway.web.translations import translations


def _not_found(request: web.Request) -> StaffPageError:
    _ = language(request)[1]
    return StaffPageError(404, _("Case not found"), _("There is no case with this code in your unit's cases."))


async def get_home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/staff/cases")


async def get_inbox(request: web.Request) -> web.Response:
    session = await current(request)
    _ = language(request)[1]
    error = ""
    try:
        flt = inbox.CaseFilter.from_query(request.query)
    except inbox.FilterError:
        flt, error = inbox.CaseFilter(), _("A filter has a wrong value; showing all cases.")
    async with ctx_of(request).db.session() as s:
        items, cursor = await inbox.list_cases(s, session.viewer, flt, utcnow())
    query = {k: v for k, v in request.query.items() if k not in ("cursor", "done", "code", "unit") and v}
    next_url = f"/staff/cases?{urlencode({**query, 'cursor': cursor})}" if cursor else None
    return await page(
        request, "inbox.html", session, cases=items, flt=flt, next_url=next_url, error=error, done=_done_text(request)
    )


def _done_text(request: web.Request) -> str:
    """The confirmation of the action just done (POST-redirect-GET carries its name)."""
    lang, _ = language(request)
    key = request.query.get("done", "")
    if key not in words.DONE:
        return ""
    code, unit = request.query.get("code", ""), request.query.get("unit", "")
    return _(words.DONE[key]) % {
        "code": digits(code, lang) if code.isdigit() else "",
        "unit": unit_names(ctx_of(request)).get(unit, ""),
    }


async def case_page(
    request: web.Request, session: Session, error: str = "", status: int = 200, draft: str = "", note_draft: str = ""
) -> web.Response:
    ctx = ctx_of(request)
    lang, _ = language(request)
    code = request.match_info["code"]
    async with ctx.db.session() as s:
        try:
            case = await answers.load_case(s, session.viewer, code)
        except answers.CaseActionError:
            raise _not_found(request) from None
        detail = await inbox.case_detail(s, session.viewer, case, utcnow(), files_page=_files_page(request))
        audit.case_viewed(s, session.viewer, case, "console")
        units = (await s.execute(select(Unit.code, Unit.name).order_by(Unit.name))).all()
        people = await assignment.unit_people(s, case)
    for event in detail["events"]:
        event["actor_shown"] = words.actor_name(event["actor"], _)
    bodies = [
        (b.code, b.name)
        for b in ctx.config.oversight.external
        if session.viewer.is_oversight and detail["kind"] in {k.value for k in b.accepts}
    ]
    return await page(
        request,
        "case.html",
        session,
        status=status,
        case=detail,
        units=units,
        people=people,
        bodies=bodies,
        replies=_saved_replies(ctx, lang),
        draft=draft,
        note_draft=note_draft,
        error=error,
        done=_done_text(request),
    )


def _files_page(request: web.Request) -> int:
    """Which page of attachments to show (``?files=N``, from 1)."""
    value = request.query.get("files", "1")
    return min(int(value), 100_000) if value.isdecimal() and int(value) > 0 else 1


def _saved_replies(ctx: Any, lang: str) -> dict[str, str]:
    names = [n for n in ctx.templates.names("fa") if n.startswith("reply_")]
    return {n: ctx.templates.raw(n, lang) or ctx.templates.raw(n, "fa") for n in names}


async def get_case(request: web.Request) -> web.Response:
    session = await current(request)
    parked = await take_parked_text(request, session, request.match_info["code"])
    return await case_page(request, session, **parked)


async def post_draft(request: web.Request) -> web.Response:
    """Add a saved reply to the answer being written (nothing is sent or stored)."""
    session, form = await checked_form(request)
    lang = language(request)[0]
    text = str(form.get("text", ""))[:MAX_KEPT_CHARS].rstrip()
    reply = _saved_replies(ctx_of(request), lang).get(str(form.get("template", "")), "")
    draft = f"{text}\n\n{reply}" if text and reply else (text or reply)
    return await case_page(request, session, draft=draft)


async def _act(request: web.Request, action: str) -> web.Response:
    session, form = await checked_form(request)
    ctx, code, v = ctx_of(request), request.match_info["code"], session.viewer
    _ = language(request)[1]
    try:
        if action == "answered":
            await answers.answer_case(ctx, v, code, form.get("text"), form.get("close") == "1")
        elif action == "assigned":
            await answers.assign_case(ctx, v, code, form.get("unit"), form.get("note") or None)
        elif action == "noted":
            await answers.add_note(ctx, v, code, form.get("text"))
        elif action == "assignee":
            await assignment.set_assignee(ctx, v, code, form.get("assignee") or None)
        else:
            await answers.change_kind(ctx, v, code, form.get("kind"))
    except answers.CaseActionError as e:
        if e.code == "not_found":
            raise _not_found(request) from None
        typed = str(form.get("text", ""))[:MAX_KEPT_CHARS]
        kept = {"answered": {"draft": typed}, "noted": {"note_draft": typed}}.get(action, {})
        return await case_page(request, session, _(words.ERRORS.get(e.code, e.message)), 422, **kept)
    if action == "assigned":  # the case may now be outside this viewer's scope
        done = {"done": action, "code": code, "unit": str(form.get("unit", ""))}
        raise web.HTTPSeeOther(f"/staff/cases?{urlencode(done)}")
    raise web.HTTPSeeOther(f"/staff/cases/{code}?done={action}")


async def post_answer(request: web.Request) -> web.Response:
    return await _act(request, "answered")


async def post_assign(request: web.Request) -> web.Response:
    return await _act(request, "assigned")


async def post_note(request: web.Request) -> web.Response:
    return await _act(request, "noted")


async def post_kind(request: web.Request) -> web.Response:
    return await _act(request, "kind")


async def post_assignee(request: web.Request) -> web.Response:
    return await _act(request, "assignee")


async def get_attachment(request: web.Request) -> web.Response:
    session = await current(request)
    _ = language(request)[1]
    try:
        return await api.attachment_response(
            ctx_of(request), session.viewer, request.match_info["code"], request.match_info["attachment_id"]
        )
    except answers.CaseActionError:
        raise StaffPageError(
            404,
            _("Attachment not found"),
            _("This file is not part of a case you can see."),
            f"/staff/cases/{request.match_info['code']}",
        ) from None


def setup_staff(app: web.Application) -> None:
    """Mount the staff API and console (the daily digest runs in the scheduler role)."""
    ctx = app_context(app)
    api.setup_api(app)
    app[SESSIONS] = SessionStore(ctx)
    app[LIMITER] = LoginLimiter(ctx, ctx.config.staff.login_max_failures, ctx.config.staff.login_window_minutes * 60)
    tz = ctx.config.gateway.timezone
    env = aiohttp_jinja2.get_env(app)
    env.filters["digits"] = jinja2.pass_context(lambda c, v: digits(v, c.get("lang", "fa")))
    env.filters["moment"] = lambda v, lang="fa": jalali_time(v, tz, lang)
    env.filters["day"] = lambda v, lang="fa": jalali_day(v, tz, lang)
    env.filters["size"] = lambda v, lang="fa": words.human_size(int(v or 0), lang, translations(lang).gettext)
    app.middlewares.append(error_pages)
    app.on_response_prepare.append(security_headers)
    r = app.router
    r.add_get("/staff", get_home)
    r.add_get("/staff/login", get_login)
    r.add_post("/staff/login", post_login)
    r.add_post("/staff/logout", post_logout)
    r.add_get("/staff/cases", get_inbox)
    r.add_get("/staff/cases/{code}", get_case)
    r.add_post("/staff/cases/{code}/answer", post_answer)
    r.add_post("/staff/cases/{code}/draft", post_draft)
    r.add_post("/staff/cases/{code}/assign", post_assign)
    r.add_post("/staff/cases/{code}/notes", post_note)
    r.add_post("/staff/cases/{code}/kind", post_kind)
    r.add_post("/staff/cases/{code}/assignee", post_assignee)
    r.add_get("/staff/cases/{code}/attachments/{attachment_id}", get_attachment)
    r.add_get("/staff/dashboard", get_dashboard)
    r.add_get("/staff/dashboard.csv", get_dashboard_csv)
    from gateway.web.console_surveys import setup_console_surveys  # it imports this module

    setup_console_surveys(app)
    setup_oversight_pages(app, case_page)
