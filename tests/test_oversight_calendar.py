"""Due dates in working days of the Iranian calendar, across Nowruz 1405 and Fridays.

The expected dates are written out by hand from the official calendar of 1405 (time.ir):
29 Esfand 1404 (Fri 2026-03-20) oil nationalisation day; 1-4 Farvardin (2026-03-21..24)
Nowruz, with Eid al-Fitr on 1-2 Farvardin; 12 Farvardin (Wed 2026-04-01) Islamic Republic
Day; 13 Farvardin (Thu 2026-04-02) Nature Day.  Not computed by the code under test.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from gateway.core.calendar import WorkCalendar
from gateway.core.config import CalendarSection
from gateway.core.messages import Channel, InboundMessage
from gateway.core.models import Case
from gateway.core.templates import format_date

TEHRAN = ZoneInfo("Asia/Tehran")


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), TEHRAN).replace(hour=hour, minute=minute)


FRI = ["friday"]
THU_FRI = ["thursday", "friday"]
TABLE = [
    # created (Tehran), working days, weekend, closures, open days -> due date (Tehran)
    pytest.param(at("2026-03-18"), 5, FRI, [], [], "2026-03-29", id="wed-5-across-friday-and-nowruz"),
    pytest.param(at("2026-03-18"), 5, THU_FRI, [], [], "2026-03-31", id="thursday-weekend-too"),
    pytest.param(at("2026-03-19"), 1, FRI, [], [], "2026-03-25", id="thu-1-skips-friday-holiday-and-nowruz"),
    pytest.param(at("2026-03-28"), 4, FRI, [], [], "2026-04-04", id="sat-4-skips-12-13-farvardin-and-friday"),
    pytest.param(at("2026-03-28"), 4, FRI, ["2026-03-30"], [], "2026-04-05", id="office-closure-from-config"),
    pytest.param(at("2026-03-28"), 4, FRI, [], ["2026-04-01"], "2026-04-01", id="open-day-overrides-a-holiday"),
    pytest.param(at("2026-03-13"), 1, FRI, [], [], "2026-03-14", id="arrived-on-friday"),
    pytest.param(at("2026-03-18", 0, 30), 5, FRI, [], [], "2026-03-29", id="just-after-midnight-tehran"),
    pytest.param(at("2026-03-17", 23, 50), 5, FRI, [], [], "2026-03-28", id="just-before-midnight-tehran"),
    pytest.param(at("2026-03-18"), 0, FRI, [], [], "2026-03-18", id="zero-days-end-of-today"),
    pytest.param(at("2026-03-15"), 10, FRI, [], [], "2026-03-31", id="ten-days-over-nowruz"),
]


@pytest.mark.parametrize("created, days, weekend, closures, open_days, expected", TABLE)
def test_due_dates_match_the_official_calendar(created, days, weekend, closures, open_days, expected):
    cal = WorkCalendar(CalendarSection(weekend=weekend, closures=closures, open_days=open_days), "Asia/Tehran")
    due = cal.due_at(created, days)
    assert due.tzinfo is not None
    local = due.astimezone(TEHRAN)
    assert local.date() == date.fromisoformat(expected)
    assert (local.hour, local.minute) == (23, 59)  # due at the end of that working day


@pytest.mark.parametrize(
    "day, working",
    [
        pytest.param("2026-03-20", False, id="friday-and-29-esfand"),
        pytest.param("2026-03-21", False, id="nowruz-and-eid-al-fitr"),
        pytest.param("2026-03-24", False, id="4-farvardin"),
        pytest.param("2026-03-25", True, id="5-farvardin-working"),
        pytest.param("2026-03-26", True, id="thursday-working-by-default"),
        pytest.param("2026-04-02", False, id="13-farvardin-nature-day"),
        pytest.param("2026-04-04", True, id="saturday-working"),
    ],
)
def test_working_days(day, working):
    cal = WorkCalendar(CalendarSection(), "Asia/Tehran")
    assert cal.is_working_day(date.fromisoformat(day)) is working


def test_without_official_holidays_only_the_weekend_counts():
    cal = WorkCalendar(CalendarSection(official_holidays=False), "Asia/Tehran")
    assert cal.due_at(at("2026-03-18"), 5).astimezone(TEHRAN).date() == date(2026, 3, 24)


def test_a_calendar_that_never_opens_is_an_error_not_a_hang():
    cal = WorkCalendar(
        CalendarSection(weekend=["saturday", "sunday", "monday", "tuesday", "wednesday", "thursday", "friday"]),
        "Asia/Tehran",
    )
    with pytest.raises(ValueError, match="no working day"):
        cal.due_at(at("2026-03-18"), 1)


def test_due_date_is_shown_in_jalali():
    due = WorkCalendar(CalendarSection(), "Asia/Tehran").due_at(at("2026-03-18"), 5)
    assert format_date(due, "fa") == "۱۴۰۵/۰۱/۰۹"  # 9 Farvardin 1405
    assert format_date(due, "en") == "2026-03-29"


async def test_intake_and_reclassifying_use_the_configured_calendar(make_config):
    from gateway.core import answers
    from gateway.core.access import Viewer
    from gateway.core.runtime import running_context

    cfg = make_config(
        calendar={"weekend": THU_FRI, "closures": ["2026-03-28"]}, sla={"days": {"request": 3, "complaint": 2}}
    )
    cal = WorkCalendar(cfg.calendar, "Asia/Tehran")
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        res = await ctx.intake.submit(
            InboundMessage(
                Channel.SMS, "درخواست گواهی دارم", external_id="cal-1", provider="test", sender="+989121234567"
            )
        )
        case = await _case(ctx, res.case_code)
        assert case.due_at == cal.due_at(case.created_at, 3)
        viewer = Viewer(0, "tester", case.unit_code, "staff")
        await answers.change_kind(ctx, viewer, case.code, "complaint")
        assert (await _case(ctx, res.case_code)).due_at == cal.due_at(case.created_at, 2)


async def _case(ctx, code: str) -> Case:
    async with ctx.db.session() as s:
        return (await s.execute(select(Case).where(Case.code == code))).scalar_one()
