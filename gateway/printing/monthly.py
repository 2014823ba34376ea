"""``gateway report --month 1405-09``: the monthly survey report for management, as PDF
and CSV, from the same figures as the dashboard (``gateway.core.survey_results``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta

from gateway.core.config import Config
from gateway.core.db import Database
from gateway.core.survey_results import ResultsQuery, SurveyResults, load_rows, month_range, results_csv_rows, summarise
from gateway.printing.pdf import render_pdf
from gateway.printing.poster import QUESTION_FA

MONTHS_FA = ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند")
CHANNELS_FA = {"web": "وب", "kiosk": "کیوسک", "paper": "فرم کاغذی", "email": "ایمیل", "sms": "پیامک", "voice": "تلفن"}
TREND_MONTHS = 6


@dataclass(slots=True)
class MonthlyReport:
    month: str
    results: SurveyResults
    units: list[tuple[str, str, SurveyResults]]  # code, name, figures
    trend: list[tuple[str, int, float | None]]
    pdf: bytes = b""
    csv: str = ""


def month_title(month: str) -> str:
    """``1405-09`` as ``آذر ۱۴۰۵``."""
    year, mon = month.split("-")
    from gateway.core.text import to_persian_digits

    return f"{MONTHS_FA[int(mon) - 1]} {to_persian_digits(year)}"


async def build_monthly(db: Database, config: Config, month: str) -> MonthlyReport:
    """Figures of one Jalali month (every unit), the trend of the months before, PDF and CSV."""
    tz, cfg = config.gateway.timezone, config.survey
    start, end = month_range(month, tz)
    q = ResultsQuery(None, start, end, cfg.min_responses_per_staff, cfg.alert_threshold, tz)
    trend_q = ResultsQuery(
        None, start - timedelta(days=31 * (TREND_MONTHS - 1)), end, cfg.min_responses_per_staff, cfg.alert_threshold, tz
    )
    async with db.read_session() as s:
        rows = await load_rows(s, q)
        trend = summarise(await load_rows(s, trend_q), trend_q).months[-TREND_MONTHS:]
    report = MonthlyReport(month, summarise(rows, q), [], trend)
    for unit in config.units:
        mine = [r for r in rows if r[0].unit_code == unit.code]
        if mine:
            report.units.append((unit.code, unit.name, summarise(mine, q)))
    report.csv = monthly_csv(report)
    return report


def monthly_csv(report: MonthlyReport) -> str:
    """The report's figures as CSV rows (section, key, value)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["month", "section", "key", "value"])
    for row in results_csv_rows(report.results):
        w.writerow([report.month, *row])
    for m, n, avg in report.trend:
        w.writerow([report.month, "trend", m, f"{'' if avg is None else avg} ({n})"])
    for code, _, res in report.units:
        for section, key, value in results_csv_rows(res):
            if section in ("total", "question"):
                w.writerow([report.month, f"unit:{code}:{section}", key, value])
    return buf.getvalue()


def render_monthly_pdf(report: MonthlyReport, config: Config) -> bytes:
    """The report as an A4 PDF in Persian (blocking)."""
    services = {s.code: s.title for s in config.services}
    return render_pdf(
        "monthly.html",
        r=report.results,
        units=report.units,
        trend=report.trend,
        title=month_title(report.month),
        month=report.month,
        questions=QUESTION_FA,
        services=services,
        channels=CHANNELS_FA,
        min_staff=config.survey.min_responses_per_staff,
        threshold=config.survey.alert_threshold,
        month_title=month_title,
    )
