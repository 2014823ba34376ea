"""Survey pages of the staff console.

``/staff/surveys`` (supervisors: their unit; admins: every response): averages per
question, per staff member from ``survey.min_responses_per_staff`` responses, "matched the
announced information" per service, the trend by Jalali month, channels and the free
comments; ``/staff/surveys.csv`` the same as CSV.  ``/staff/surveys/paper`` (every staff
member): key in a paper form; the response is marked ``paper`` and records who entered it.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from gateway.core.intake.replies import SURVEY_QUESTIONS
from gateway.core.survey_results import MonthError, SurveyResults, query_for, results_csv_rows, survey_results
from gateway.core.surveys import MAX_COMMENT_CHARS, SurveyError, validate_answers
from gateway.core.surveys_open import desk_code, find_target, new_visit, record_open_response
from gateway.web import console_text as words
from gateway.web.auth import Session
from gateway.web.charts import bar_rows
from gateway.web.console_base import StaffPageError, checked_form, ctx_of, current, language, page
from gateway.web.translations import N_

SURVEY_CHANNELS = {
    "web": N_("Web"),
    "kiosk": N_("Kiosk"),
    "paper": N_("Paper"),
    "email": N_("Email"),
    "sms": N_("SMS"),
    "voice": N_("Telephone"),
}
PAPER_ERRORS = {
    "answer_all": N_("Give each of the four questions a score."),
    "bad_staff": N_("This staff code is not known."),
    "staff_other_unit": N_("This staff code belongs to another unit than the one chosen."),
    "bad_target": N_("Choose the service or unit."),
    "comment_too_long": N_("The comment is longer than 4000 characters."),
    "visit_expired": N_("The form had expired; enter it again."),
    "answered": N_("This form has already been entered."),
}


async def _results(request: web.Request, session: Session) -> tuple[SurveyResults, str]:
    viewer = session.viewer
    _ = language(request)[1]
    if not viewer.sees_dashboard:
        raise StaffPageError(
            403,
            _("Survey results for supervisors"),
            _("Survey results are open to supervisors, managers and oversight staff."),
        )
    ctx = ctx_of(request)
    month = request.query.get("month", "")[:7]
    try:
        q = query_for(ctx.config, viewer.role, viewer.unit_code, month)
    except MonthError:
        raise StaffPageError(
            400, _("Wrong month"), _("Write the month as year-month of the Persian calendar, e.g. 1405-09.")
        ) from None
    async with ctx.db.read_session() as s:
        return await survey_results(s, q), month


async def get_survey_results(request: web.Request) -> web.Response:
    """GET /staff/surveys: the figures with charts."""
    session = await current(request)
    res, month = await _results(request, session)
    ctx = ctx_of(request)
    lang, _ = language(request)
    questions = words.translated(words.QUESTIONS, _)
    rows = bar_rows([(questions[q], res.averages.get(q)) for q in SURVEY_QUESTIONS], 5, lang)
    chart = {"rows": rows if res.responses else [], "label_heading": _("Question"), "value_heading": _("Average")}
    services = {s.code: s.title for s in ctx.config.services}
    return await page(
        request,
        "surveys.html",
        session,
        res=res,
        month=month,
        chart=chart,
        questions=questions,
        services=services,
        channel_names=words.translated(SURVEY_CHANNELS, _),
        min_staff=ctx.config.survey.min_responses_per_staff,
    )


async def get_survey_csv(request: web.Request) -> web.Response:
    """GET /staff/surveys.csv."""
    session = await current(request)
    res, _ = await _results(request, session)
    buf = io.StringIO()
    csv.writer(buf).writerows([("section", "key", "value"), *results_csv_rows(res)])
    return web.Response(
        text=buf.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="surveys.csv"'},
    )


def _targets(request: web.Request) -> list[tuple[str, str]]:
    cfg, _ = ctx_of(request).config, language(request)[1]
    return (
        [("site", _("The whole office (site survey)"))]
        + [
            (f"service:{s.code}", _("Service: %(title)s (%(code)s)") % {"title": s.title, "code": s.code})
            for s in cfg.services
        ]
        + [(f"unit:{u.code}", _("Unit: %(name)s") % {"name": u.name}) for u in cfg.units]
    )


async def _paper_page(
    request: web.Request, session: Session, form: dict[str, Any], error: str = "", status: int = 200
) -> web.Response:
    ctx = ctx_of(request)
    _ = language(request)[1]
    done = _("The paper form was entered.") if request.query.get("done") == "1" else ""
    return await page(
        request,
        "survey_paper.html",
        session,
        status=status,
        form=form,
        targets=_targets(request),
        questions=words.translated(words.QUESTIONS, _),
        error=_(error) if error else "",
        done=done,
        visit=new_visit(ctx),
        my_code=desk_code(session.viewer.staff_id),
        max_comment=MAX_COMMENT_CHARS,
    )


async def get_paper(request: web.Request) -> web.Response:
    """GET /staff/surveys/paper: the entry form."""
    return await _paper_page(request, await current(request), {})


async def post_paper(request: web.Request) -> web.Response:
    """POST /staff/surveys/paper: one paper response, marked paper, with who entered it."""
    session, raw = await checked_form(request)
    form = {k: str(v) for k, v in raw.items() if isinstance(v, str) and k != "csrf"}
    scope, _, code = form.get("target", "").partition(":")
    target = find_target(ctx_of(request).config, scope, code or None)
    try:
        if target is None:
            raise SurveyError("bad_target")
        if len(form.get("comment", "")) > MAX_COMMENT_CHARS:
            raise SurveyError("comment_too_long")
        await record_open_response(
            ctx_of(request),
            target,
            validate_answers(form),
            channel="paper",
            staff_code=form.get("staff", "")[:20],
            visit=form.get("visit", ""),
            entered_by=session.viewer.staff_id,
        )
    except SurveyError as e:
        reason = "answer_all" if e.reason == "bad_answers" else e.reason
        return await _paper_page(request, session, form, PAPER_ERRORS.get(reason, reason), 400)
    raise web.HTTPSeeOther("/staff/surveys/paper?done=1")


def setup_console_surveys(app: web.Application) -> None:
    """Mount the survey pages of the console."""
    app.router.add_get("/staff/surveys", get_survey_results)
    app.router.add_get("/staff/surveys.csv", get_survey_csv)
    app.router.add_get("/staff/surveys/paper", get_paper)
    app.router.add_post("/staff/surveys/paper", post_paper)
