"""The console dashboard: figures of the viewer's scope as stat boxes and bar tables, and
the same figures as a CSV whose headings and names are words, with the period and unit in
the file and its name."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from gateway.core import audit, reports
from gateway.core.access import case_scope
from gateway.core.models import utcnow
from gateway.core.replies import SURVEY_QUESTIONS
from gateway.core.templates import KIND_NAMES
from gateway.web import console_text as words
from gateway.web.auth import Session
from gateway.web.charts import bar_rows, jalali_day
from gateway.web.console_base import StaffPageError, ctx_of, current, language, page, unit_names


def _days(request: web.Request) -> int | None:
    raw = request.query.get("days", "")
    return int(raw) if raw.isdecimal() and 1 <= int(raw) <= 3660 else None


async def _figures(request: web.Request, session: Session) -> reports.Figures:
    if not session.viewer.sees_dashboard:
        _ = language(request)[1]
        raise StaffPageError(
            403,
            _("Dashboard for supervisors"),
            _("The dashboard is open to supervisors, managers and oversight staff."),
        )
    async with ctx_of(request).db.session() as s:
        return await reports.figures(
            s, case_scope(session.viewer), session.viewer.unit_code, reports.period_start(_days(request))
        )


def _period(request: web.Request, figs: reports.Figures) -> tuple[str, str]:
    lang, _ = language(request)
    tz = ctx_of(request).config.gateway.timezone
    start = jalali_day(figs.since, tz, lang) if figs.since else _("the first case")
    return start, jalali_day(utcnow(), tz, lang)


async def get_dashboard(request: web.Request) -> web.Response:
    session = await current(request)
    lang, _ = language(request)
    figs = await _figures(request, session)
    heads = {"label_heading": _("Item"), "value_heading": _("Value")}
    by_kind = [(KIND_NAMES[lang].get(k, k), n) for k, n in sorted(figs.by_kind.items())]
    by_channel = [(_(words.CHANNELS.get(k, k)), n) for k, n in sorted(figs.by_channel.items())]
    survey = [(_(words.QUESTIONS[q]), figs.survey_averages.get(q)) for q in SURVEY_QUESTIONS]
    start, end = _period(request, figs)
    days = request.query.get("days", "")
    return await page(
        request,
        "dashboard.html",
        session,
        figs=figs,
        days=days,
        kind_chart={**heads, "rows": bar_rows(by_kind, lang=lang)},
        channel_chart={**heads, "rows": bar_rows(by_channel, lang=lang)},
        survey_chart={**heads, "rows": bar_rows(survey, 5, lang) if figs.survey_responses else []},
        scope_name=unit_names(ctx_of(request)).get(figs.scope, figs.scope),
        period_text=_("Period: %(start)s to %(end)s") % {"start": start, "end": end},
        csv_query=urlencode({k: v for k, v in (("days", days), ("lang", lang)) if v}),
    )


async def get_dashboard_csv(request: web.Request) -> web.Response:
    session = await current(request)
    lang, _ = language(request)
    figs = await _figures(request, session)
    scope = unit_names(ctx_of(request)).get(figs.scope, figs.scope)
    body = words.dashboard_csv(figs, scope, _period(request, figs), lang, _)
    name = words.csv_filename(figs.scope, figs.since, utcnow(), _days(request))
    await audit.record(ctx_of(request).db, session.viewer.actor, "exported", what="dashboard", days=_days(request))
    # The byte-order mark makes spreadsheet programs read the file as UTF-8 (Persian names).
    return web.Response(
        text="\ufeff" + body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
