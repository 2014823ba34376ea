"""Bar charts and date-time display for the staff console.

A chart is a small table (label, value) whose value cells also draw a bar with CSS, its
length a class in 5% steps (the console's Content-Security-Policy allows no inline styles;
``templates/staff/_chart.html``): screen readers read the table, text keeps its real size
on phones, values never sit on top of bars, and pages need no JavaScript or chart code.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import jdatetime

from gateway.core.text import to_persian_digits


def bar_rows(
    items: list[tuple[str, float | None]], maximum: float | None = None, lang: str = "fa"
) -> list[dict[str, object]]:
    """One row per item: label, the value as shown (a dash when there is none), bar share."""
    top = maximum or max((v for _, v in items if v), default=0) or 1
    rows = []
    for label, value in items:
        if value is None:
            shown, percent = "—", 0.0
        else:
            shown = f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
            percent = round(100 * min(value, top) / top, 1)
        rows.append(
            {
                "label": label,
                "shown": to_persian_digits(shown) if lang == "fa" else shown,
                "percent": percent,
                "step": 5 * round(percent / 5),
            }
        )
    return rows


def jalali_time(value: datetime | None, tz: str = "Asia/Tehran", lang: str = "fa") -> str:
    """A Jalali date and time, e.g. ۱۴۰۵/۰۹/۰۷ ۱۴:۰۵ (Latin digits in English)."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz))
    shown = jdatetime.datetime.fromgregorian(datetime=local).strftime("%Y/%m/%d %H:%M")
    return to_persian_digits(shown) if lang == "fa" else shown


def jalali_day(value: datetime | None, tz: str = "Asia/Tehran", lang: str = "fa") -> str:
    """A Jalali date, e.g. ۱۴۰۵/۰۹/۰۷ (Latin digits in English)."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz))
    shown = jdatetime.date.fromgregorian(date=local.date()).strftime("%Y/%m/%d")
    return to_persian_digits(shown) if lang == "fa" else shown
