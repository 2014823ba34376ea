"""Dashboard figures for managers (the console's dashboard, ``gateway report``, CSV export).

For one scope (a viewer's cases, or one unit, or everything): cases by kind and by
channel, open and overdue counts, median first-response time, and the survey average of
each Article 9(5) question with the share of "asked for something against the rules".
Counting is done by the database; the median is taken in Python over the response times
of the period (SQLite has no percentile function).
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.inbox import OPEN, overdue_clause
from gateway.core.models import Case, SurveyInvitation, SurveyResponse, utcnow
from gateway.core.vocab import SURVEY_QUESTIONS

MAX_SAMPLES = 200_000  # response times read for the median


@dataclass(slots=True)
class Figures:
    """The dashboard's numbers for one scope and period."""

    scope: str
    since: datetime | None
    total: int = 0
    open: int = 0
    overdue: int = 0
    answered: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    median_first_response_hours: float | None = None
    survey_responses: int = 0
    survey_averages: dict[str, float | None] = field(default_factory=dict)
    improper_request_share: float | None = None
    appeals: int = 0  # cases reopened by a citizen's appeal ("not satisfied")
    appeals_open: int = 0


async def _grouped(s: AsyncSession, column: object, where: list[ColumnElement[bool]]) -> dict[str, int]:
    rows = await s.execute(select(column, func.count()).where(*where).group_by(column))  # type: ignore[call-overload]
    return {str(k): int(n) for k, n in rows.all()}


async def figures(
    s: AsyncSession,
    scope: ColumnElement[bool] | None = None,
    scope_name: str = "all",
    since: datetime | None = None,
    now: datetime | None = None,
) -> Figures:
    """Compute the figures for the cases selected by ``scope`` created since ``since``."""
    now = now or utcnow()
    where = [scope if scope is not None else true()]
    if since is not None:
        where.append(Case.created_at >= since)
    out = Figures(scope=scope_name, since=since)
    out.by_kind = await _grouped(s, Case.kind, where)
    out.by_channel = await _grouped(s, Case.channel, where)
    statuses = await _grouped(s, Case.status, where)
    out.total = sum(statuses.values())
    out.open = sum(statuses.get(st, 0) for st in OPEN)
    out.answered = out.total - out.open
    out.overdue = (
        await s.execute(select(func.count()).select_from(Case).where(*where, overdue_clause(now)))
    ).scalar_one()
    appealed = await _grouped(s, Case.status, [*where, Case.appealed_at.is_not(None)])
    out.appeals = sum(appealed.values())
    out.appeals_open = sum(appealed.get(st, 0) for st in OPEN)
    pairs = (
        await s.execute(
            select(Case.created_at, Case.first_response_at)
            .where(*where, Case.first_response_at.is_not(None))
            .limit(MAX_SAMPLES)
        )
    ).all()
    hours = [(fr - cr).total_seconds() / 3600 for cr, fr in pairs if fr is not None]
    out.median_first_response_hours = round(statistics.median(hours), 2) if hours else None
    answers = (
        await s.execute(
            select(SurveyResponse.answers, SurveyResponse.improper_request)
            .join(SurveyInvitation, SurveyInvitation.id == SurveyResponse.invitation_id)
            .join(Case, Case.id == SurveyInvitation.case_id)
            .where(*where)
        )
    ).all()
    out.survey_responses = len(answers)
    for q in SURVEY_QUESTIONS:
        scores = [int(a[q]) for a, _ in answers if isinstance(a, dict) and q in a]
        out.survey_averages[q] = round(statistics.fmean(scores), 2) if scores else None
    flags = [imp for _, imp in answers if imp is not None]
    out.improper_request_share = round(sum(flags) / len(flags), 3) if flags else None
    return out


def period_start(days: int | None, now: datetime | None = None) -> datetime | None:
    """The start of a period of ``days`` days ending now (None: all time)."""
    return (now or utcnow()) - timedelta(days=days) if days else None


def rows(f: Figures) -> list[tuple[str, str, str]]:
    """The figures as (section, key, value) rows, for CSV and tables."""

    def num(v: float | int | None) -> str:
        return "" if v is None else str(v)

    out = [
        ("cases", "total", num(f.total)),
        ("cases", "open", num(f.open)),
        ("cases", "answered_or_closed", num(f.answered)),
        ("cases", "overdue", num(f.overdue)),
        ("cases", "appeals", num(f.appeals)),
        ("cases", "appeals_open", num(f.appeals_open)),
        ("response", "median_first_response_hours", num(f.median_first_response_hours)),
    ]
    out += [("kind", k, num(v)) for k, v in sorted(f.by_kind.items())]
    out += [("channel", k, num(v)) for k, v in sorted(f.by_channel.items())]
    out += [("survey", "responses", num(f.survey_responses))]
    out += [("survey", q, num(f.survey_averages.get(q))) for q in SURVEY_QUESTIONS]
    out += [("survey", "improper_request_share", num(f.improper_request_share))]
    return out


def to_csv(f: Figures) -> str:
    """The figures as CSV with a header row ``scope,section,key,value``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["scope", "section", "key", "value"])
    for section, key, value in rows(f):
        w.writerow([f.scope, section, key, value])
    return buf.getvalue()


def to_table(f: Figures) -> str:
    """The figures as an aligned plain-text table."""
    lines = [f"scope: {f.scope}" + (f"  since {f.since:%Y-%m-%d}" if f.since else "")]
    lines += [f"{section:9} {key:32} {value}" for section, key, value in rows(f)]
    return "\n".join(lines)
