"""Citizen pages: tracking (``/track``, ``GET /api/v1/track/{code}``), the survey
(``/s/{token}``) and the service catalogue (``/services``).

Persian and RTL by default, English with ``?lang=en``; plain HTML forms that work without
JavaScript.  Lookups are rate limited per client (:mod:`gateway.web.ratelimit`).  On
``/track`` a code alone shows kind, status, unit and dates; the answer needs the contact
the case came from (POST, so it stays out of URLs and logs) or the signed link we sent.
A POST whose code is unknown gets a neutral "nothing matches" page; a wrong contact for a
known code keeps the public case card (the code alone shows it anyway) and says the contact
does not match, keeping what was typed.  Both paths do the same work (one lookup, one
constant-time comparison).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from gateway.core import tracking
from gateway.core.context import GatewayContext
from gateway.core.lookup import PublicCase, TrackResult, track_case
from gateway.core.models import Case
from gateway.core.replies import SURVEY_QUESTIONS
from gateway.core.surveys import MAX_COMMENT_CHARS, SurveyError, invitation_for_token, record_response, validate_answers
from gateway.core.text import fold
from gateway.web.i18n import LANG_COOKIE, page_texts, pick_language
from gateway.web.keys import app_context
from gateway.web.open311 import setup_open311
from gateway.web.ratelimit import TRACK_LIMITER, WebLimit, client_key, retry_after

SURVEY_MAX_BODY = 64 * 1024  # 4000 Persian characters percent-encoded are ~24 KB
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # survey and tracking tokens must not leak onwards
    "Cache-Control": "no-store",
}
SURVEY_STATUS = {"invalid": 404, "expired": 410, "answered": 409, "too_large": 413}


def _ctx(request: web.Request) -> GatewayContext:
    return app_context(request.app)


async def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """Render a citizen page in the visitor's language, with our security headers."""
    ctx = _ctx(request)
    lang, chosen = pick_language(request, ctx.config.gateway.language)
    query = {k: v for k, v in request.query.items() if k != "lang"}
    data: dict[str, Any] = {**page_texts(lang), **context, "units": _unit_names(ctx)}
    other = data["other_lang"]
    data["switch_url"] = f"{request.path}?{urlencode({**query, 'lang': other})}"
    resp = await aiohttp_jinja2.render_template_async(f"public/{template}", request, data, status=status)
    resp.headers.update(PAGE_HEADERS)
    if chosen:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    return resp


def _unit_names(ctx: GatewayContext) -> dict[str, str]:
    return {u.code: u.name for u in ctx.config.units}


async def _limited(request: web.Request) -> float:
    ctx = _ctx(request)
    client = client_key(request, ctx.config.web.trust_forwarded_for)
    return await request.app[TRACK_LIMITER].take(ctx.limiter, client)


# -- tracking ------------------------------------------------------------------------


async def track_page(request: web.Request) -> web.Response:
    """GET /track: the form, or a code's public status (answer too with a signed link)."""
    raw = request.query.get("code", "")
    if not raw.strip():
        return await render(request, "track.html", {"code": ""})
    return await _track(request, raw, None, request.query.get("t"))


async def track_post(request: web.Request) -> web.Response:
    """POST /track: code and contact; the answer if the contact is the case's own."""
    form = await request.post()
    raw, contact = str(form.get("code", "")), str(form.get("contact", ""))[:320]
    return await _track(request, raw, contact, str(form.get("t", "")) or None)


async def _track(request: web.Request, raw: str, contact: str | None, token: str | None) -> web.Response:
    wait = await _limited(request)
    if wait:
        resp = await render(
            request, "track.html", {"code": raw[:40], "error": "rate_limited", "wait": wait_text(wait)}, 429
        )
        resp.headers.update(retry_after(wait))
        return resp
    try:
        code = tracking.parse(raw[:64])
    except tracking.CodeError as e:
        key = "check_code" if e.reason == "check_digit" else "bad_format"
        return await render(request, "track.html", {"code": raw[:40], "error": key}, 400)
    result = await track_case(_ctx(request), code, contact, token)
    if result.case is None:
        return await render(
            request, "track.html", {"code": raw[:40], "error": "no_match"}, 200 if contact is not None else 404
        )
    page = _case_context(result, code, token)
    if contact is not None and not result.proved:
        page.update(error="contact_mismatch", contact=contact)
    return await render(request, "track.html", page)


def _case_context(result: TrackResult, code: str, token: str | None) -> dict[str, Any]:
    assert result.case is not None
    case = result.case
    overdue = (
        case.answered_at is None
        and case.status != "closed"
        and case.due_at is not None
        and _aware(case.due_at) < datetime.now(UTC)
    )
    return {
        "code": code,
        "case": case,
        "answer": result.answer,
        "proved": result.proved,
        "token": token if result.proved and token else "",
        "overdue": overdue,
    }


def _aware(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite gives them back naive."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def wait_text(seconds: float) -> dict[str, int]:
    """The wait of a refused request, in whole minutes or seconds, as the page says it."""
    whole = max(1, math.ceil(seconds))
    return {"minutes": math.ceil(whole / 60)} if whole >= 90 else {"seconds": whole}


async def track_api(request: web.Request) -> web.Response:
    """GET /api/v1/track/{code}: the public fields as JSON."""
    wait = await _limited(request)
    if wait:
        return web.json_response({"error": "rate_limited"}, status=429, headers=retry_after(wait))
    try:
        code = tracking.parse(request.match_info["code"][:64])
    except tracking.CodeError as e:
        message = "check the code" if e.reason == "check_digit" else "a tracking code has 10 digits"
        return web.json_response({"error": e.reason, "message": message}, status=400)
    result = await track_case(_ctx(request), code)
    if result.case is None:
        return web.json_response({"error": "not_found"}, status=404)
    return web.json_response(
        public_json(result.case, _unit_names(_ctx(request))), headers={"Cache-Control": "no-store"}
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def public_json(case: PublicCase, units: dict[str, str]) -> dict[str, Any]:
    """The JSON form of a case's public fields."""
    return {
        "code": case.code,
        "kind": case.kind,
        "status": case.status,
        "unit": {"code": case.unit_code, "name": units.get(case.unit_code, case.unit_code)},
        "service_code": case.service_code,
        "received_at": _iso(case.created_at),
        "updated_at": _iso(case.updated_at),
        "due_at": _iso(case.due_at),
        "answered_at": _iso(case.answered_at),
        "closed_at": _iso(case.closed_at),
    }


# -- survey --------------------------------------------------------------------------


def _new_case_offer(ctx: GatewayContext) -> dict[str, str]:
    cfg = ctx.config
    email = (cfg.email.smtp.addresses or [cfg.email.from_address])[0]
    return {"email": email, "sms": cfg.sms.numbers[0] if cfg.sms.numbers else ""}


async def _survey_problem(request: web.Request, reason: str) -> web.Response:
    return await render(
        request,
        "survey_done.html",
        {"problem": reason, "offer": _new_case_offer(_ctx(request))},
        SURVEY_STATUS.get(reason, 400),
    )


async def survey_page(request: web.Request) -> web.Response:
    """GET /s/{token}: the Article 9(5) questions."""
    ctx = _ctx(request)
    async with ctx.db.read_session() as s:
        try:
            inv = await invitation_for_token(s, ctx, request.match_info["token"])
        except SurveyError as e:
            return await _survey_problem(request, e.reason)
        if inv.responded_at is not None:
            return await _survey_problem(request, "answered")
        case = await s.get(Case, inv.case_id)
    return await render(request, "survey.html", _survey_context(case, {}, None))


def _survey_context(case: Case | None, form: dict[str, str], error: str | None) -> dict[str, Any]:
    missing = [q for q in SURVEY_QUESTIONS if not _scored(form.get(q))] if error == "answer_all" else []
    return {
        "case_code": case.code if case else "",
        "questions": SURVEY_QUESTIONS,
        "form": form,
        "error": error,
        "missing": missing,
        "max_comment": MAX_COMMENT_CHARS,
    }


def _scored(value: str | None) -> bool:
    return bool(value) and value.strip().isdecimal() and 1 <= int(value.strip()) <= 5


async def survey_post(request: web.Request) -> web.Response:
    """POST /s/{token}: store the one response; a replay gets "already answered"."""
    ctx = _ctx(request)
    if (request.content_length or 0) > SURVEY_MAX_BODY:
        return await _survey_problem(request, "too_large")
    form = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        async with ctx.db.session() as s:
            try:
                inv = await invitation_for_token(s, ctx, request.match_info["token"])
                if inv.responded_at is not None:
                    raise SurveyError("answered")
                case = await s.get(Case, inv.case_id)
                error = _survey_form_error(form)
                if error is None:
                    await record_response(s, ctx, inv, validate_answers(form))
            except SurveyError as e:
                return await _survey_problem(request, e.reason)
    except IntegrityError:  # a concurrent twin of this submission committed first
        return await _survey_problem(request, "answered")
    if error is not None:
        shown = {**form, "comment": form.get("comment", "")[:MAX_COMMENT_CHARS]}
        return await render(request, "survey.html", _survey_context(case, shown, error), 400)
    return await render(request, "survey_done.html", {"problem": None, "offer": _new_case_offer(ctx)})


def _survey_form_error(form: dict[str, str]) -> str | None:
    if len(form.get("comment", "")) > MAX_COMMENT_CHARS:
        return "comment_too_long"
    try:
        validate_answers(form)
    except SurveyError:
        return "answer_all"
    return None


# -- service catalogue ---------------------------------------------------------------


async def services_page(request: web.Request) -> web.Response:
    """GET /services: the service identity cards, searchable (Persian-aware folding)."""
    ctx = _ctx(request)
    query = request.query.get("q", "")[:200]
    words = [_word_keys(w) for w in fold(query).split()]
    units = _unit_names(ctx)
    found = []
    for sv in ctx.config.services:
        hay = [
            _word_keys(h)
            for h in fold(
                " ".join([sv.code, sv.title, sv.description, units.get(sv.unit, sv.unit), *sv.keywords])
            ).split()
        ]
        if all(any(h[0].startswith(w[0]) or w[1] & h[1] for h in hay) for w in words):
            found.append(sv)
    return await render(request, "services.html", {"q": query, "services": found})


# Persian plural and attached suffixes, longest first (شکایات ~ شکایت, راه‌های ~ راه).
_SUFFIXES = ("های", "ها", "ات", "ان", "ی")


def _word_keys(word: str) -> tuple[str, set[str]]:
    """A folded word and its search keys: itself, minus a plural or attached suffix, minus
    a final ت or ه (Arabic plurals in ات drop it: شکایت, شکایات)."""
    word = word.strip(".,:;!?،؛؟«»()[]-")
    keys = {word}
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            keys.add(word[: -len(suffix)])
            break
    if word.endswith(("ت", "ه")) and len(word) > 3:
        keys.add(word[:-1])
    return word, keys


async def service_page(request: web.Request) -> web.Response:
    """GET /services/{code}: one service identity card."""
    ctx = _ctx(request)
    code = request.match_info["code"]
    sv = next((x for x in ctx.config.services if x.code == code), None)
    if sv is None:
        return await render(request, "message.html", {"message": "not_found"}, 404)
    return await render(request, "service.html", {"sv": sv})


def setup_public(app: web.Application) -> None:
    """Mount the citizen pages, the tracking API and Open311 on the app."""
    ctx = app_context(app)
    cfg = ctx.config.web
    app[TRACK_LIMITER] = WebLimit.bucket("track", cfg.track_burst, cfg.track_per_minute)
    app.router.add_get("/track", track_page)
    app.router.add_post("/track", track_post)
    app.router.add_get("/api/v1/track/{code}", track_api)
    app.router.add_get("/s/{token}", survey_page)
    app.router.add_post("/s/{token}", survey_post)
    app.router.add_get("/services", services_page)
    app.router.add_get("/services/{code}", service_page)
    setup_open311(app)
