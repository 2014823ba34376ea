"""Working days of the Iranian calendar, for due dates, reminders and escalation.

A day is a working day unless it is a weekend day (``calendar.weekend``: Friday, and
Thursday where the office closes then), an official holiday of Iran, or one of the
office's own closures (``calendar.closures``).  Official holidays come from the
``holidays`` library: its Iran calendar has the solar (Persian calendar) holidays, the
lunar (Islamic) ones with the dates Iran announced for past years and, for years not yet
announced, an estimate one day after the Umm al-Qura date, plus the special closures the
government declared.  An estimated lunar holiday that falls elsewhere is corrected in
config: the real day in ``closures``, the wrong one in ``open_days``.

A case due after N working days is due at the end (23:59:59 office time) of the Nth
working day after the day it arrived; the day of arrival does not count.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from gateway.core.config import CalendarSection

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_SCAN_DAYS = 3660  # a calendar that never opens (every day closed) is a config mistake


class WorkCalendar:
    """Which days the office works, and due dates counted in working days."""

    def __init__(self, cfg: CalendarSection, timezone: str) -> None:
        self.tz = ZoneInfo(timezone)
        self.weekend = frozenset(WEEKDAYS.index(d) for d in cfg.weekend)
        self.closures = frozenset(cfg.closures)
        self.open_days = frozenset(cfg.open_days)
        self._official = holidays.country_holidays("IR", language="en_US") if cfg.official_holidays else None

    def holiday_name(self, day: date) -> str | None:
        """The official holiday on ``day`` (English name), if any."""
        if self._official is None or day in self.open_days:
            return None
        return self._official.get(day)

    def is_working_day(self, day: date) -> bool:
        """True if the office works on ``day`` (a local date)."""
        if day in self.closures:
            return False
        if day in self.open_days:
            return True
        return day.weekday() not in self.weekend and self.holiday_name(day) is None

    def add_working_days(self, day: date, n: int) -> date:
        """The Nth working day after ``day`` (``day`` itself if n is 0)."""
        for _ in range(MAX_SCAN_DAYS):
            if n <= 0:
                return day
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        raise ValueError("no working day within ten years: check calendar.weekend and closures")

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 if end <= start)."""
        return sum(1 for i in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(days=i)))

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def due_at(self, created: datetime, days: int) -> datetime:
        """The end of the ``days``th working day after ``created`` (UTC-aware)."""
        day = self.add_working_days(self.local_date(created), max(days, 0))
        return datetime.combine(day, time(23, 59, 59), self.tz).astimezone(ZoneInfo("UTC"))

    def after_working_days(self, moment: datetime, days: int) -> datetime:
        """The same local time of day ``days`` working days after ``moment``."""
        local = moment.astimezone(self.tz)
        day = self.add_working_days(local.date(), days)
        return datetime.combine(day, local.timetz()).astimezone(ZoneInfo("UTC"))


@lru_cache(maxsize=8)
def _cached(
    weekend: tuple[str, ...], official: bool, closures: tuple[date, ...], open_days: tuple[date, ...], timezone: str
) -> WorkCalendar:
    cfg = CalendarSection(
        weekend=list(weekend),
        official_holidays=official,
        closures=list(closures),
        open_days=list(open_days),
    )
    return WorkCalendar(cfg, timezone)


def work_calendar(cfg: CalendarSection, timezone: str) -> WorkCalendar:
    """The (cached) calendar of a config: the holiday tables are built once per process."""
    return _cached(tuple(cfg.weekend), cfg.official_holidays, tuple(cfg.closures), tuple(cfg.open_days), timezone)
