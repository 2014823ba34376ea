"""Open surveys in a real browser (Playwright driving Debian's Chromium, JavaScript off,
keyboard only): the service survey in Persian and English passes axe-core, fits 320 px;
the kiosk page goes back to an empty form by itself after a response; the console's
paper entry and results pages pass axe-core."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.core.models import SurveyResponse
from tests.peers.axe import assert_accessible
from tests.test_public_browser import NARROW, WIDE, assert_fits, site, submit, tab_to
from tests.test_staff_support import PASSWORD, make_staff

SCORES = {"workflow": 4, "information_match": 5, "staff_behaviour": 3, "timeliness": 4}


async def _fill(page, scores: dict[str, int]) -> None:
    """Answer every question by keyboard: Tab into a group, Space picks 1, ArrowDown moves on."""
    for name, score in scores.items():
        await tab_to(page, f"input[name={name}]")
        await page.keyboard.press("Space")
        for _ in range(score - 1):
            await page.keyboard.press("ArrowDown")


async def _responses(ctx) -> list[SurveyResponse]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(SurveyResponse).order_by(SurveyResponse.id))).scalars())


async def test_service_survey_in_persian_and_english(browser, site, artifacts):
    base, ctx = site
    page = await browser.new_page(viewport=NARROW, java_script_enabled=False, locale="fa-IR")
    try:
        await page.goto(f"{base}/survey/service/20001")
        assert await page.get_attribute("html", "dir") == "rtl"
        assert "ترمیم راه" in await page.inner_text("h1")
        await assert_accessible(page, "/survey/service/20001 (fa)")
        await page.screenshot(path=str(artifacts / "survey-open-fa-360.png"), full_page=True)
        await assert_fits(page, 320)
        await page.set_viewport_size(WIDE)
        await page.goto(f"{base}/survey/service/20001?lang=en")
        assert await page.get_attribute("html", "dir") == "ltr"
        assert "Staff code" in await page.inner_text("body")
        await assert_accessible(page, "/survey/service/20001 (en)")
        await _fill(page, SCORES)
        await tab_to(page, "#comment")
        await page.keyboard.type("Quick and polite.")
        await tab_to(page, "button[type=submit]")
        await submit(page)
        await page.wait_for_selector("#survey-thanks")
        await assert_accessible(page, "thank-you page (en)")
        await page.screenshot(path=str(artifacts / "survey-open-thanks-en-1280.png"), full_page=True)
    finally:
        await page.close()
    [resp] = await _responses(ctx)
    assert resp.answers == SCORES and resp.service_code == "20001" and resp.comment == "Quick and polite."


async def test_kiosk_goes_back_to_an_empty_form(browser, site, artifacts):
    base, ctx = site
    page = await browser.new_page(viewport=WIDE, java_script_enabled=False, locale="fa-IR")
    try:
        await page.goto(f"{base}/survey/unit/roads?kiosk=1")
        await assert_accessible(page, "kiosk form")
        first_visit = await page.get_attribute("input[name=visit]", "value")
        await _fill(page, SCORES)
        await tab_to(page, "button[type=submit]")
        await submit(page)
        await page.wait_for_selector("#kiosk-next")
        await assert_accessible(page, "kiosk thank-you page")
        await page.screenshot(path=str(artifacts / "survey-kiosk-thanks.png"), full_page=True)
        # the Refresh header brings the empty form back without anyone touching the tablet
        await page.wait_for_url(re.compile(r".*/survey/unit/roads\?kiosk=1$"), timeout=30_000)
        await page.wait_for_selector("#survey-form")
        assert await page.evaluate("document.querySelectorAll('input:checked').length") == 0
        assert await page.get_attribute("input[name=visit]", "value") != first_visit
        await _fill(page, {**SCORES, "staff_behaviour": 5})
        await tab_to(page, "button[type=submit]")
        await submit(page)
        await page.wait_for_selector("#kiosk-next")
    finally:
        await page.close()
    assert [(r.channel, r.unit_code, r.answers["staff_behaviour"]) for r in await _responses(ctx)] == [
        ("kiosk", "roads", 3),
        ("kiosk", "roads", 5),
    ]


async def test_console_survey_pages_pass_axe(browser, site, artifacts):
    base, ctx = site
    await make_staff(ctx, "boss", "roads", role="supervisor")
    page = await browser.new_page(viewport=NARROW, java_script_enabled=False, locale="fa-IR")
    try:
        await page.goto(f"{base}/staff/login")
        await page.fill("input[name=name]", "boss")
        await page.fill("input[name=password]", PASSWORD)
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.goto(f"{base}/staff/surveys/paper?lang=en")
        assert "Enter a paper survey form" in await page.inner_text("h1")
        await assert_accessible(page, "/staff/surveys/paper (en)")
        await page.goto(f"{base}/staff/surveys/paper?lang=fa")
        await assert_accessible(page, "/staff/surveys/paper")
        await page.select_option("#target", "service:20001")
        await _fill(page, SCORES)
        await tab_to(page, "button[type=submit]")
        await submit(page)
        await page.wait_for_selector(".flash.ok")
        await page.goto(f"{base}/staff/surveys")
        await assert_accessible(page, "/staff/surveys")
        await page.goto(f"{base}/staff/surveys?lang=en")
        assert await page.get_attribute("html", "dir") == "ltr"
        assert "Survey results" in await page.inner_text("h1")
        await assert_accessible(page, "/staff/surveys (en)")
        await page.goto(f"{base}/staff/surveys?lang=fa")
        assert "ترمیم راه" in await page.inner_text("main")
        await page.screenshot(path=str(artifacts / "staff-surveys-360.png"), full_page=True)
        await assert_fits(page, 320)
        await page.set_viewport_size(WIDE)
        await page.screenshot(path=str(artifacts / "staff-surveys-1280.png"), full_page=True)
    finally:
        await page.close()
    [resp] = await _responses(ctx)
    assert resp.channel == "paper" and resp.scope == "service" and resp.unit_code == "roads"
