"""Survey results for management (Article 9(5): used to improve processes and to reward or
discipline staff): averages per question, counts by channel and scope, per staff member
(shown only from ``survey.min_responses_per_staff`` responses, so that one citizen cannot
be singled out), "matched the announced information" per service, trends by Jalali month,
the free comments and the low-score count.

Periods are Jalali months in the office's time zone (``month_range("1405-09")``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jdatetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.config import Config
from gateway.core.models import Staff, SurveyResponse
from gateway.core.vocab import SURVEY_QUESTIONS

QUESTIONS = SURVEY_QUESTIONS[:3] + SURVEY_QUESTIONS[3:]  # the 9(5) three, then timeliness


class MonthError(ValueError):
    """A month is not ``YYYY-MM`` (Jalali)."""


def month_range(month: str, tz: str) -> tuple[datetime, datetime]:
    """UTC start and end of a Jalali month such as ``1405-09`` in time zone ``tz``."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = jdatetime.date(year, mon, 1)
    except (ValueError, TypeError):
        raise MonthError(f"not a Jalali month YYYY-MM: {month!r}") from None
    nxt = jdatetime.date(year + (mon == 12), mon % 12 + 1, 1)
    zone = ZoneInfo(tz)
    start = datetime.combine(first.togregorian(), datetime.min.time(), zone)
    end = datetime.combine(nxt.togregorian(), datetime.min.time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def jalali_month(when: datetime, tz: str) -> str:
    """``YYYY-MM`` (Jalali) of a moment in time zone ``tz``."""
    local = jdatetime.datetime.fromgregorian(datetime=when.astimezone(ZoneInfo(tz)))
    return f"{local.year:04d}-{local.month:02d}"


def previous_month(when: datetime, tz: str) -> str:
    """The Jalali month before the one ``when`` falls in."""
    local = jdatetime.date.fromgregorian(date=when.astimezone(ZoneInfo(tz)).date())
    first = jdatetime.date(local.year, local.month, 1)
    prev = first.togregorian() - timedelta(days=1)
    j = jdatetime.date.fromgregorian(date=prev)
    return f"{j.year:04d}-{j.month:02d}"


def _avg(values: list[int]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


@dataclass(slots=True)
class StaffFigure:
    staff_id: int
    name: str
    unit_code: str
    responses: int
    averages: dict[str, float | None]


@dataclass(slots=True)
class SurveyResults:
    """Figures for one period and scope."""

    responses: int = 0
    averages: dict[str, float | None] = field(default_factory=dict)
    improper_share: float | None = None
    by_channel: dict[str, int] = field(default_factory=dict)
    by_scope: dict[str, int] = field(default_factory=dict)
    staff: list[StaffFigure] = field(default_factory=list)
    staff_hidden: int = 0  # staff members with fewer than the minimum responses
    services: list[tuple[str, int, float | None]] = field(default_factory=list)  # code, n, match
    months: list[tuple[str, int, float | None]] = field(default_factory=list)  # month, n, overall
    comments: list[dict[str, Any]] = field(default_factory=list)
    low: int = 0


@dataclass(slots=True)
class ResultsQuery:
    """What to count: a unit (None: every response), a period, the rules."""

    unit_code: str | None
    start: datetime | None
    end: datetime | None
    min_staff: int
    threshold: int
    tz: str
    max_comments: int = 200


Row = tuple[SurveyResponse, str | None, str | None]  # a response, its staff name and unit


def query_for(config: Config, role: str, unit_code: str, month: str = "") -> ResultsQuery:
    """The query a staff member's survey page, CSV or API call runs: their unit's responses
    (an admin's: every unit's), of one Jalali ``month`` (``YYYY-MM``) or else the last 365
    days, under the config's minimum and alert threshold.  MonthError for a bad month."""
    cfg, tz = config.survey, config.gateway.timezone
    start, end = month_range(month, tz) if month else (datetime.now(UTC) - timedelta(days=365), None)
    unit = None if role == "admin" else unit_code
    return ResultsQuery(unit, start, end, cfg.min_responses_per_staff, cfg.alert_threshold, tz)


def results_json(res: SurveyResults) -> dict[str, Any]:
    """The figures for the API: what the CSV carries, as JSON (no citizens' comments)."""
    return {
        "responses": res.responses,
        "low_scores": res.low,
        "improper_request_share": res.improper_share,
        "averages": res.averages,
        "by_channel": res.by_channel,
        "by_scope": res.by_scope,
        "staff": [
            {
                "staff_id": f.staff_id,
                "name": f.name,
                "unit": f.unit_code,
                "responses": f.responses,
                "averages": f.averages,
            }
            for f in res.staff
        ],
        "staff_hidden_below_minimum": res.staff_hidden,
        "services": [{"code": c, "responses": n, "information_match": avg} for c, n, avg in res.services],
        "months": [{"month": m, "responses": n, "overall": avg} for m, n, avg in res.months],
    }


async def survey_results(s: AsyncSession, q: ResultsQuery) -> SurveyResults:
    """Compute the figures of ``q`` from the responses in the database."""
    return summarise(await load_rows(s, q), q)


async def load_rows(s: AsyncSession, q: ResultsQuery) -> list[Row]:
    """The responses ``q`` counts, oldest first, with their staff member's name and unit."""
    stmt = (
        select(SurveyResponse, Staff.name, Staff.unit_code)
        .outerjoin(Staff, Staff.id == SurveyResponse.staff_id)
        .order_by(SurveyResponse.id)
    )
    if q.unit_code is not None:
        stmt = stmt.where(SurveyResponse.unit_code == q.unit_code)
    if q.start is not None:
        stmt = stmt.where(SurveyResponse.created_at >= q.start)
    if q.end is not None:
        stmt = stmt.where(SurveyResponse.created_at < q.end)
    return [(r[0], r[1], r[2]) for r in (await s.execute(stmt)).all()]


def summarise(rows: list[Row], q: ResultsQuery) -> SurveyResults:
    """The figures of already loaded responses (with their staff member's name and unit)."""
    out = SurveyResults(responses=len(rows))
    scores: dict[str, list[int]] = defaultdict(list)
    per_staff: dict[int, tuple[str, str, list[SurveyResponse]]] = {}
    per_service: dict[str, list[int]] = defaultdict(list)
    per_month: dict[str, list[float]] = defaultdict(list)
    improper = [r.improper_request for r, _, _ in rows if r.improper_request is not None]
    for resp, name, unit in rows:
        answers = {k: int(v) for k, v in (resp.answers or {}).items()}
        for k, v in answers.items():
            scores[k].append(v)
        out.by_channel[resp.channel] = out.by_channel.get(resp.channel, 0) + 1
        out.by_scope[resp.scope] = out.by_scope.get(resp.scope, 0) + 1
        if resp.staff_id is not None:
            per_staff.setdefault(resp.staff_id, (name or "?", unit or "", []))[2].append(resp)
        if resp.service_code and "information_match" in answers:
            per_service[resp.service_code].append(answers["information_match"])
        if answers:
            per_month[jalali_month(resp.created_at, q.tz)].append(statistics.fmean(answers.values()))
        if q.threshold and any(v <= q.threshold for v in answers.values()):
            out.low += 1
        if resp.comment.strip() and len(out.comments) < q.max_comments:
            out.comments.append(
                {
                    "at": resp.created_at,
                    "scope": resp.scope,
                    "unit": resp.unit_code,
                    "service": resp.service_code,
                    "text": resp.comment,
                }
            )
    out.averages = {k: _avg(scores.get(k, [])) for k in QUESTIONS}
    out.improper_share = round(sum(improper) / len(improper), 3) if improper else None
    for staff_id, (name, unit, responses) in sorted(per_staff.items(), key=lambda x: x[1][0]):
        if len(responses) < q.min_staff:
            out.staff_hidden += 1
            continue
        avgs = {k: _avg([int(r.answers[k]) for r in responses if k in (r.answers or {})]) for k in QUESTIONS}
        out.staff.append(StaffFigure(staff_id, name, unit, len(responses), avgs))
    out.services = [(code, len(v), _avg(v)) for code, v in sorted(per_service.items())]
    out.months = [(m, len(v), round(statistics.fmean(v), 2)) for m, v in sorted(per_month.items())]
    return out


def results_csv_rows(res: SurveyResults) -> list[tuple[str, str, str]]:
    """(section, key, value) rows of the figures, for CSV exports."""

    def num(v: object) -> str:
        return "" if v is None else str(v)

    rows = [
        ("total", "responses", str(res.responses)),
        ("total", "low_scores", str(res.low)),
        ("total", "improper_request_share", num(res.improper_share)),
    ]
    rows += [("question", k, num(v)) for k, v in res.averages.items()]
    rows += [("channel", k, str(v)) for k, v in sorted(res.by_channel.items())]
    rows += [("scope", k, str(v)) for k, v in sorted(res.by_scope.items())]
    for f in res.staff:
        rows.append(("staff", f"{f.name}:responses", str(f.responses)))
        rows += [("staff", f"{f.name}:{k}", num(v)) for k, v in f.averages.items()]
    rows.append(("staff", "hidden_below_minimum", str(res.staff_hidden)))
    rows += [("service_information_match", code, f"{num(avg)} ({n})") for code, n, avg in res.services]
    rows += [("month", m, f"{num(avg)} ({n})") for m, n, avg in res.months]
    return rows
