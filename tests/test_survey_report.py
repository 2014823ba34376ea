"""Survey results checked against a fixed set of responses, computed by hand: averages,
counts, the minimum-number rule, Jalali month boundaries (Asia/Tehran), and the monthly
report's PDF (rendered to PNG, Persian text present) and CSV."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime, timezone

import pytest
from sqlalchemy import select

from gateway.core.models import Staff, SurveyResponse
from gateway.core.staff import add_staff
from gateway.core.survey_results import ResultsQuery, month_range, survey_results
from gateway.printing.monthly import build_monthly, render_monthly_pdf
from tests.peers import require_binary

Q = ("workflow", "information_match", "staff_behaviour", "timeliness")
AZAR = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 1405-09-10
# (when, unit, service, staff, scores, improper, channel, comment)
FIXED = [
    (AZAR, "roads", "20001", "Ali", (4, 4, 5, 5), False, "web", ""),
    (AZAR, "roads", "20001", "Ali", (5, 3, 5, 4), False, "web", ""),
    (AZAR, "roads", "20001", "Ali", (3, 4, 4, 4), False, "web", ""),
    (AZAR, "roads", "20001", "Ali", (5, 5, 5, 5), False, "web", ""),
    (AZAR, "roads", "20001", "Ali", (4, 4, 5, 2), False, "web", ""),
    (AZAR, "roads", "20001", "Bahar", (2, 1, 3, 3), True, "sms", "زمان انتظار زیاد بود"),
    (AZAR, "roads", "20001", "Bahar", (4, 5, 4, 4), None, "voice", ""),
    (AZAR, None, None, None, (5, 5, 5, 5), None, "kiosk", "عالی"),
    # 00:30 Tehran time on 1 Azar: in the month, although still 21 November in UTC
    (datetime(2026, 11, 21, 21, 0, tzinfo=UTC), "pr", None, None, (3, 3, 3, 3), None, "paper", ""),
    # 23:55 Tehran time on 30 Aban: the month before
    (datetime(2026, 11, 21, 20, 25, tzinfo=UTC), "roads", "20001", "Ali", (1, 1, 1, 1), None, "web", ""),
]


async def _load(ctx) -> None:
    for name in ("Ali", "Bahar"):
        await add_staff(ctx.db, name, "roads")
    async with ctx.db.session() as s:
        ids = dict((await s.execute(select(Staff.name, Staff.id))).all())
        for when, unit, service, staff, scores, improper, channel, comment in FIXED:
            s.add(
                SurveyResponse(
                    answers=dict(zip(Q, scores)),
                    improper_request=improper,
                    comment=comment,
                    channel=channel,
                    created_at=when,
                    scope="service" if service else "site",
                    unit_code=unit,
                    service_code=service,
                    staff_id=ids.get(staff),
                )
            )


def plain(text: str) -> str:
    """Text without ZWNJ and bidi controls (pdftotext drops or adds them)."""
    return "".join(ch for ch in text if ch not in "\u200c\u200e\u200f\u202a\u202b\u202c\u202d\u202e")


def test_jalali_month_boundaries_are_tehran_midnights():
    start, end = month_range("1405-09", "Asia/Tehran")
    assert start == datetime(2026, 11, 21, 20, 30, tzinfo=UTC)
    assert end == datetime(2026, 12, 21, 20, 30, tzinfo=UTC)


async def test_figures_match_the_hand_computed_values(make_config):
    from gateway.core.runtime import running_context

    cfg = make_config(survey={"min_responses_per_staff": 3})
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        await _load(ctx)
        start, end = month_range("1405-09", "Asia/Tehran")
        async with ctx.db.session() as s:
            r = await survey_results(s, ResultsQuery(None, start, end, 3, 2, "Asia/Tehran"))
            roads = await survey_results(s, ResultsQuery("roads", start, end, 3, 2, "Asia/Tehran"))
    assert r.responses == 9 and roads.responses == 7
    # workflow 35/9, information 34/9, staff 39/9, timeliness 35/9
    assert r.averages == {"workflow": 3.89, "information_match": 3.78, "staff_behaviour": 4.33, "timeliness": 3.89}
    assert r.low == 2 and r.improper_share == 0.167  # one "yes" of six answers
    assert r.by_channel == {"web": 5, "sms": 1, "voice": 1, "kiosk": 1, "paper": 1}
    # Ali has five responses (shown); Bahar two, under the minimum of three (hidden)
    assert [(f.name, f.responses) for f in r.staff] == [("Ali", 5)] and r.staff_hidden == 1
    assert r.staff[0].averages == {"workflow": 4.2, "information_match": 4.0, "staff_behaviour": 4.8, "timeliness": 4.0}
    assert r.services == [("20001", 7, 3.71)]  # information_match 26/7
    assert [c["text"] for c in r.comments] == ["زمان انتظار زیاد بود", "عالی"]
    assert r.months == [("1405-09", 9, 3.97)]  # mean of the nine responses' own means
    assert roads.averages["staff_behaviour"] == round(31 / 7, 2)


async def test_monthly_report_pdf_and_csv(make_config, artifacts):
    from gateway.core.runtime import running_context

    pdftoppm = require_binary("pdftoppm", "poppler-utils")
    pdftotext = require_binary("pdftotext", "poppler-utils")
    cfg = make_config(survey={"min_responses_per_staff": 3})
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        await _load(ctx)
        report = await build_monthly(ctx.db, cfg, "1405-09")
    rows = list(csv.reader(io.StringIO(report.csv)))
    table = {(sec, key): value for _, sec, key, value in rows[1:]}
    assert table[("total", "responses")] == "9" and table[("question", "staff_behaviour")] == "4.33"
    assert table[("staff", "Ali:responses")] == "5" and table[("staff", "hidden_below_minimum")] == "1"
    assert table[("unit:roads:total", "responses")] == "7"
    assert table[("trend", "1405-08")] == "1.0 (1)" and table[("trend", "1405-09")] == "3.97 (9)"
    assert "Bahar" not in report.csv
    pdf = artifacts / "survey-report-1405-09.pdf"
    pdf.write_bytes(render_monthly_pdf(report, cfg))
    (artifacts / "survey-report-1405-09.csv").write_text(report.csv, encoding="utf-8")
    subprocess.run(
        [pdftoppm, "-r", "60", "-png", str(pdf), str(artifacts / "survey-report-1405-09")], check=True, timeout=120
    )
    assert (artifacts / "survey-report-1405-09-1.png").stat().st_size > 10_000
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60).stdout
    text = plain(text)
    for words in ("آذر", "کارکنان", "روند ماه‌های اخیر", "زمان انتظار زیاد بود", "Ali", "۴.۳۳"):
        assert plain(words) in text, words
    assert "Bahar" not in text


@pytest.mark.parametrize("bad", ["1405-13", "1405", "abc", "1405-00"])
def test_a_bad_month_is_refused(bad):
    from gateway.core.survey_results import MonthError

    with pytest.raises(MonthError):
        month_range(bad, "Asia/Tehran")


async def test_the_api_gives_the_same_figures_per_staff_member(make_config):
    """GET /api/v1/surveys: the figures of the page and CSV as JSON, per staff member from
    the minimum only; a supervisor sees their unit, an admin every unit, plain staff none."""
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.core.runtime import running_context
    from gateway.web.app import create_app
    from tests.test_staff_support import auth, make_staff

    cfg = make_config(survey={"min_responses_per_staff": 3})
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        await _load(ctx)
        boss = await make_staff(ctx, "boss", "roads", role="supervisor")
        admin = await make_staff(ctx, "admin", "pr", role="admin")
        clerk = await make_staff(ctx, "clerk", "roads")
        async with TestClient(TestServer(create_app(ctx), host="127.0.0.1")) as client:
            r = await client.get("/api/v1/surveys?month=1405-09", headers=auth(boss))
            roads = await r.json()
            everyone = await (await client.get("/api/v1/surveys?month=1405-09", headers=auth(admin))).json()
            forbidden = await client.get("/api/v1/surveys", headers=auth(clerk))
            bad = await client.get("/api/v1/surveys?month=azar", headers=auth(boss))
            trailing = await client.get("/api/v1/surveys?month=1405-09x", headers=auth(boss))
            spec = await (await client.get("/api/v1/openapi.json")).json()
    assert r.status == 200 and roads["unit"] == "roads" and roads["month"] == "1405-09"
    assert roads["responses"] == 7 and everyone["responses"] == 9 and everyone["unit"] is None
    [ali] = everyone["staff"]  # Bahar has two responses, under the minimum of three
    assert (ali["name"], ali["unit"], ali["responses"]) == ("Ali", "roads", 5)
    assert ali["averages"] == {"workflow": 4.2, "information_match": 4.0, "staff_behaviour": 4.8, "timeliness": 4.0}
    assert everyone["staff_hidden_below_minimum"] == 1 and "Bahar" not in str(everyone)
    assert everyone["services"] == [{"code": "20001", "responses": 7, "information_match": 3.71}]
    assert everyone["by_channel"] == {"web": 5, "sms": 1, "voice": 1, "kiosk": 1, "paper": 1}
    assert "comments" not in everyone and "زمان انتظار" not in str(everyone)  # figures, not citizens' words
    assert forbidden.status == 403 and bad.status == 422 and trailing.status == 422
    assert "/api/v1/surveys" in spec["paths"] and "SurveyResults" in spec["components"]["schemas"]
