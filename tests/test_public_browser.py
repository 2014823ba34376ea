"""Browser tests (Playwright driving Debian's Chromium, keyboard only): a citizen tracks a
case by a code typed in Persian digits and sees the answer only after giving the right
phone number; another fills the survey from the link in their SMS, once.  Screenshots at
360 px and 1280 px go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp import web
from sqlalchemy import select

from gateway.core.models import SurveyResponse
from gateway.core.runtime import running_context
from gateway.core.text import to_persian_digits
from gateway.web.app import create_app
from tests.peers import free_port
from tests.peers.axe import assert_accessible
from tests.test_public_common import ANSWER, make_case

PHONE_2 = "+989351112233"
NARROW, WIDE = {"width": 360, "height": 780}, {"width": 1280, "height": 900}


@pytest_asyncio.fixture
async def site(make_config) -> AsyncIterator[tuple[str, object]]:
    """The real app on an ephemeral port (web.AppRunner), its base URL and context."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = make_config(gateway={"public_base_url": base})
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        runner = web.AppRunner(create_app(ctx), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield base, ctx
        finally:
            await runner.cleanup()


async def tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


async def submit(page, key: str = "Enter") -> None:
    """Press a key that submits a form and wait for the new page."""
    async with page.expect_navigation():
        await page.keyboard.press(key)


async def assert_fits(page, width: int) -> None:
    """No horizontal scrolling at ``width`` and every form field has a label."""
    await page.set_viewport_size({"width": width, "height": 700})
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    unlabeled = await page.evaluate("""[...document.querySelectorAll('input:not([type=hidden]), textarea')]
        .filter(e => !(e.labels && e.labels.length)).length""")
    assert unlabeled == 0


async def test_tracking_by_persian_digits_then_the_answer_by_phone(browser, site, artifacts):
    base, ctx = site
    made = await make_case(ctx, answered=True)
    page = await browser.new_page(viewport=NARROW, java_script_enabled=False, locale="fa-IR")
    try:
        await page.goto(f"{base}/track")
        assert await page.get_attribute("html", "dir") == "rtl"
        await tab_to(page, "#code")
        await page.keyboard.type(to_persian_digits(made.code))
        await submit(page)
        await page.wait_for_selector("#case-status")
        assert (await page.inner_text("#case-status")).strip() == "پاسخ داده شده"
        assert ANSWER not in await page.content()
        await page.screenshot(path=str(artifacts / "track-status-360.png"), full_page=True)
        await assert_accessible(page, "/track with a code")
        await assert_fits(page, 320)
        await page.set_viewport_size(NARROW)

        await tab_to(page, "#contact")  # a wrong number: the card stays, no answer
        await page.keyboard.type("09127654321")
        await submit(page)
        await page.wait_for_selector("#track-error")
        assert "یکی نیست" in await page.inner_text("#track-error")
        assert ANSWER not in await page.content()
        assert await page.input_value("#contact") == "09127654321"  # kept to correct

        await page.fill("#contact", "")
        await tab_to(page, "#contact")
        await page.keyboard.type("۰۹۱۲ ۱۲۳ ۴۵۶۷")
        await submit(page)
        await page.wait_for_selector("#case-answer")
        assert (await page.inner_text("#case-answer")).strip() == ANSWER
        await page.screenshot(path=str(artifacts / "track-answer-360.png"), full_page=True)
        await page.set_viewport_size(WIDE)
        await page.screenshot(path=str(artifacts / "track-answer-1280.png"), full_page=True)
        await tab_to(page, "#lang-switch")
        await submit(page)
        await page.wait_for_selector("html[lang=en][dir=ltr]")
    finally:
        await page.close()


async def test_survey_from_the_sms_link_is_stored_once(browser, site, artifacts):
    base, ctx = site
    made = await make_case(ctx, sender=PHONE_2, answered=True, invite=True)
    sms = ctx.templates.render("survey", "fa", link=made.link)  # the text the citizen receives
    link = re.search(r"https?://\S+", sms).group(0)
    assert link.startswith(f"{base}/s/")
    page = await browser.new_page(viewport=NARROW, java_script_enabled=False, locale="fa-IR")
    try:
        await page.goto(link)
        await page.screenshot(path=str(artifacts / "survey-form-360.png"), full_page=True)
        await assert_accessible(page, "the survey form")
        await assert_fits(page, 320)
        await page.set_viewport_size(NARROW)
        scores = {"workflow": 4, "information_match": 5, "staff_behaviour": 3, "timeliness": 2}
        for name, score in scores.items():  # Tab into each group, Space picks 1, ArrowDown moves on
            await tab_to(page, f"input[name={name}]")
            await page.keyboard.press("Space")
            for _ in range(score - 1):
                await page.keyboard.press("ArrowDown")
        await tab_to(page, "input[name=improper_request]")
        await page.keyboard.press("Space")
        await page.keyboard.press("ArrowDown")  # «خیر»
        await tab_to(page, "#comment")
        await page.keyboard.type("برخورد کارکنان خوب بود.")
        await tab_to(page, "button[type=submit]")
        await page.set_viewport_size(WIDE)
        await page.screenshot(path=str(artifacts / "survey-form-1280.png"), full_page=True)
        await submit(page)
        await page.wait_for_selector("#survey-thanks")
        await page.screenshot(path=str(artifacts / "survey-thanks-1280.png"), full_page=True)
        await page.set_viewport_size(NARROW)
        await page.screenshot(path=str(artifacts / "survey-thanks-360.png"), full_page=True)

        await page.go_back()  # a replay from the browser's history
        await page.keyboard.press("Tab")
        await page.goto(link)
        assert "پیش‌تر پاسخ داده شده" in await page.inner_text("#survey-problem")
    finally:
        await page.close()
    async with ctx.db.session() as s:
        [resp] = (await s.execute(select(SurveyResponse))).scalars().all()
    assert resp.answers == scores and resp.improper_request is False
    assert resp.comment == "برخورد کارکنان خوب بود."


async def test_the_accessibility_check_finds_what_it_should(browser, site):
    """The axe check is not vacuous: an unlabeled field on a JavaScript-off page fails it."""
    from tests.peers.axe import axe_violations

    base, _ = site
    page = await browser.new_page(java_script_enabled=False)
    try:
        await page.route(
            f"{base}/bad",
            lambda route: route.fulfill(
                body='<!doctype html><html lang="fa"><title>t</title><main><h1>x</h1><input name="q"></main></html>',
                content_type="text/html",
            ),
        )
        await page.goto(f"{base}/bad")
        assert "label" in {v["id"] for v in await axe_violations(page)}
    finally:
        await page.close()
