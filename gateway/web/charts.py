"""Server-rendered SVG bar charts and date-time display for the staff console.

Charts are plain data (bar geometry) filled into ``templates/staff/_chart.html``, so pages
need no JavaScript and no third-party chart code.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import jdatetime

from gateway.core.text import to_persian_digits

BAR_HEIGHT, GAP, LABEL_WIDTH, PLOT_WIDTH = 22, 8, 190, 260


def bar_chart(items: list[tuple[str, float]], maximum: float | None = None) -> dict[str, object]:
    """Geometry of a horizontal bar chart (right-to-left: labels on the right)."""
    top = maximum or max((v for _, v in items), default=0) or 1
    bars = []
    for i, (label, value) in enumerate(items):
        width = round((PLOT_WIDTH - 40) * min(value, top) / top, 1)
        shown = f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        bars.append({"label": label, "value": to_persian_digits(shown), "width": width,
                     "x": PLOT_WIDTH - width, "y": i * (BAR_HEIGHT + GAP)})
    return {"bars": bars, "width": PLOT_WIDTH + LABEL_WIDTH,
            "height": max(len(items), 1) * (BAR_HEIGHT + GAP), "bar_height": BAR_HEIGHT}


def jalali_time(value: datetime | None, tz: str = "Asia/Tehran") -> str:
    """A Jalali date and time with Persian digits, e.g. ۱۴۰۵/۰۹/۰۷ ۱۴:۰۵."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz))
    return to_persian_digits(jdatetime.datetime.fromgregorian(datetime=local).strftime("%Y/%m/%d %H:%M"))
