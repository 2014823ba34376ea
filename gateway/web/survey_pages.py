"""Open survey pages (Article 9(5)): ``/survey`` (the site), ``/survey/service/{code}``,
``/survey/unit/{code}``; no case or link needed.

Each form carries a signed visit token (one response per visit) and an optional staff desk
code (``?staff=`` prefills it).  ``?kiosk=1`` is the entrance tablet: after a response the
thank-you page sends the browser back to a fresh, empty form (an HTTP ``Refresh`` header,
so no script is needed).  Responses are limited per client address across processes (the
shared limiter, ``ctx.limiter``); the
addresses in ``survey.kiosk_addresses`` get ``survey.kiosk_per_hour`` instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.core.intake.replies import SURVEY_QUESTIONS
from gateway.core.surveys import MAX_COMMENT_CHARS, SurveyError, validate_answers
from gateway.core.surveys_open import SurveyTarget, find_target, new_visit, record_open_response
from gateway.web.i18n import pick_language
from gateway.web.public import SURVEY_MAX_BODY, _new_case_offer, app_context, render
from gateway.web.ratelimit import client_key
from gateway.web.survey_texts import SURVEY_TEXTS

KIOSK_RESET_SECONDS = 6
FORM_ERRORS = ("answer_all", "comment_too_long", "bad_staff", "staff_other_unit", "visit_expired")


def _target(request: web.Request) -> SurveyTarget | None:
    scope = request.match_info.get("scope", "site")
    return find_target(app_context(request.app).config, scope, request.match_info.get("code"))


def _kiosk(request: web.Request) -> bool:
    return request.query.get("kiosk") == "1"


async def _page(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    lang, _ = pick_language(request, app_context(request.app).config.gateway.language)
    return await render(request, template, {"st": SURVEY_TEXTS[lang], **values}, status)


async def _form(
    request: web.Request, target: SurveyTarget, form: dict[str, str], error: str | None = None, status: int = 200
) -> web.Response:
    ctx = app_context(request.app)
    return await _page(
        request,
        "survey_open.html",
        status,
        target=target,
        form=form,
        error=error,
        questions=SURVEY_QUESTIONS,
        max_comment=MAX_COMMENT_CHARS,
        visit=new_visit(ctx),
        kiosk=_kiosk(request),
    )


async def open_survey_page(request: web.Request) -> web.Response:
    """GET: the questions, with a new visit token."""
    target = _target(request)
    if target is None:
        return await _page(request, "message.html", 404, message="not_found")
    staff = request.query.get("staff", "")[:20]
    return await _form(request, target, {"staff": staff} if staff else {})


async def _limited(request: web.Request) -> float:
    ctx = app_context(request.app)
    cfg = ctx.config.survey
    client = client_key(request, ctx.config.web.trust_forwarded_for)
    kiosk = client in cfg.kiosk_addresses
    limit = cfg.kiosk_per_hour if kiosk else cfg.open_per_client_per_hour
    allowed, wait = await ctx.limiter.hit(f"survey:{client}", limit=limit, window=3600)
    return 0.0 if allowed else max(wait, 1.0)


async def open_survey_post(request: web.Request) -> web.Response:
    """POST: store one response per visit; the kiosk page goes back to a fresh form."""
    target = _target(request)
    if target is None:
        return await _page(request, "message.html", 404, message="not_found")
    if (request.content_length or 0) > SURVEY_MAX_BODY:
        return await _page(request, "survey_done.html", 413, problem="too_large", offer={})
    form = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
    shown = {**form, "comment": form.get("comment", "")[:MAX_COMMENT_CHARS]}
    if len(form.get("comment", "")) > MAX_COMMENT_CHARS:
        return await _form(request, target, shown, "comment_too_long", 400)
    try:
        answers = validate_answers(form)
    except SurveyError:
        return await _form(request, target, shown, "answer_all", 400)
    wait = await _limited(request)
    if wait:
        resp = await _form(request, target, shown, "rate_limited", 429)
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    channel = "kiosk" if _kiosk(request) else "web"
    try:
        await record_open_response(
            app_context(request.app),
            target,
            answers,
            channel=channel,
            staff_code=form.get("staff", "")[:20],
            visit=form.get("visit", ""),
        )
    except SurveyError as e:
        if e.reason in FORM_ERRORS:
            return await _form(request, target, shown, e.reason, 400)
        return await _page(request, "survey_done.html", 409, problem="answered", offer={})
    return await _thanks(request)


async def _thanks(request: web.Request) -> web.Response:
    kiosk = _kiosk(request)
    offer = {} if kiosk else _new_case_offer(app_context(request.app))
    resp = await _page(request, "survey_done.html", problem=None, offer=offer, kiosk=kiosk, again=_again_url(request))
    if kiosk:
        # the HTTP Refresh header: the tablet shows an empty form again, no script needed
        resp.headers["Refresh"] = f"{KIOSK_RESET_SECONDS}; url={_again_url(request)}"
    return resp


def _again_url(request: web.Request) -> str:
    keep = {k: v for k, v in request.query.items() if k in ("kiosk", "lang")}
    return f"{request.path}?{urlencode(keep)}" if keep else request.path


def setup_survey_pages(app: web.Application) -> None:
    """Mount the open survey pages."""
    for path in ("/survey", "/survey/{scope:service|unit}/{code}"):
        app.router.add_get(path, open_survey_page)
        app.router.add_post(path, open_survey_post)
