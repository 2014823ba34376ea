"""The console and the citizen pages as people use them, in Debian's Chromium with
JavaScript off: every page and error state passes axe-core in Persian and English, typed
work survives (saved replies, an expired session), the inbox sorts by due date, actions
confirm, errors are pages with a way back, and the language follows links and the browser.
Screenshots of the main pages at 360 and 1280 px go to ``test-artifacts/``.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import select, update

from gateway.core.messages import Channel, Kind
from gateway.core.models import Case, Outbox, utcnow
from gateway.web.auth import SESSION_COOKIE, _key
from tests.peers.axe import assert_accessible
from tests.test_public_common import make_case
from tests.test_staff_browser import base_url
from tests.test_staff_support import PASSWORD, make_staff, submit

NARROW, WIDE = {"width": 360, "height": 780}, {"width": 1280, "height": 900}
LOCALES = {"fa": "fa-IR", "en": "en-GB"}


async def _page(browser, lang: str, viewport: dict[str, int] = WIDE):
    return await browser.new_page(viewport=viewport, java_script_enabled=False, locale=LOCALES[lang])


async def _login(page, base_url: str, name: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base_url}/staff/login")
    await page.fill("#login-name", name)
    await page.fill("#login-password", password)
    async with page.expect_navigation():
        await page.click("button[type=submit]")


def _rewrite_form(**changes: str):
    """A route handler that changes fields of a form POST on its way to the server."""

    async def handler(route) -> None:
        fields = dict(parse_qsl(route.request.post_data or "", keep_blank_values=True))
        fields.update(changes)
        await route.continue_(post_data=urlencode(fields))

    return handler


async def _shoot(page, artifacts, name: str) -> None:
    for label, size in (("360", NARROW), ("1280", WIDE)):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(artifacts / f"{name}-{label}.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= WIDE["width"]


async def _cases(ctx) -> dict[str, str]:
    """Three cases of unit pr: an English email, a Persian SMS (overdue), a suggestion."""
    english = (
        await submit(
            ctx,
            "Please fix the street light near our school",
            channel=Channel.EMAIL,
            sender="jane@example.com",
            subject="Street light",
        )
    ).case_code
    late = (await submit(ctx, "درخواست گواهی اشتغال به کار دارم")).case_code
    fresh = (await submit(ctx, "پیشنهاد برای پارک محله", kind=Kind.SUGGESTION)).case_code
    async with ctx.db.session() as s:
        await s.execute(update(Case).where(Case.code == late).values(due_at=utcnow() - timedelta(days=3)))
    return {"english": english, "late": late, "fresh": fresh}


@pytest.mark.parametrize("lang", ["fa", "en"])
async def test_every_console_page_and_error_state_is_accessible(ctx, browser, base_url, artifacts, lang):
    await make_staff(ctx, f"sup-{lang}", "pr", "supervisor")
    await make_staff(ctx, f"plain-{lang}", "pr")
    codes = await _cases(ctx)
    page = await _page(browser, lang)
    try:
        await page.goto(f"{base_url}/staff/login")
        assert await page.get_attribute("html", "lang") == lang
        await assert_accessible(page, f"login ({lang})")
        await _login(page, base_url, f"sup-{lang}", "wrong password")
        assert await page.locator(".flash.error").count() == 1
        await assert_accessible(page, f"login error ({lang})")
        await _login(page, base_url, f"sup-{lang}")
        await assert_accessible(page, f"inbox ({lang})")
        await _shoot(page, artifacts, f"console-inbox-{lang}")
        await page.goto(f"{base_url}/staff/cases?sort=due")
        await assert_accessible(page, f"inbox by due date ({lang})")
        await page.goto(f"{base_url}/staff/cases/{codes['english']}")
        await assert_accessible(page, f"case ({lang})")
        await _shoot(page, artifacts, f"console-case-{lang}")
        await page.fill("#answer-text", "پاسخ")
        await page.route("**/answer", _rewrite_form(text=" "))  # an empty answer: the error state
        async with page.expect_navigation():
            await page.click("#answer button.primary")
        assert await page.locator(".flash.error").count() == 1
        await assert_accessible(page, f"case with an error ({lang})")
        await page.unroute("**/answer")
        await page.route("**/notes", _rewrite_form(csrf="forged"))  # an expired form
        await page.fill("#note-text", "یادداشت")
        async with page.expect_navigation():
            await page.click("#note-text ~ button")
        assert await page.locator("#error-page").count() == 1
        await assert_accessible(page, f"expired form page ({lang})")
        await page.goto(f"{base_url}/staff/cases/1234567894")
        assert await page.locator("#error-page a.button").get_attribute("href") == "/staff/cases"
        await assert_accessible(page, f"case not found ({lang})")
        await page.goto(f"{base_url}/staff/dashboard")
        await assert_accessible(page, f"dashboard ({lang})")
        await _shoot(page, artifacts, f"console-dashboard-{lang}")
        await page.context.clear_cookies()
        await _login(page, base_url, f"plain-{lang}")
        response = await page.goto(f"{base_url}/staff/dashboard")
        assert response.status == 403 and await page.locator("#error-page").count() == 1
        await assert_accessible(page, f"dashboard forbidden ({lang})")
    finally:
        await page.close()


@pytest.mark.parametrize("lang", ["fa", "en"])
async def test_every_citizen_page_and_error_state_is_accessible(ctx, browser, base_url, artifacts, lang):
    made = await make_case(ctx, answered=True, invite=True)
    made.link = made.link.replace("http://gw.test", base_url)
    page = await _page(browser, lang)
    try:
        for path, name in (
            ("/track", "track form"),
            ("/track?code=1234567890", "track bad code"),
            (f"/track?code={made.code}", "track case"),
            ("/services", "services"),
            ("/services/20001", "service card"),
        ):
            await page.goto(f"{base_url}{path}")
            assert await page.get_attribute("html", "lang") == lang
            await assert_accessible(page, f"{name} ({lang})")
        await page.goto(f"{base_url}/track?code={made.code}")
        await _shoot(page, artifacts, f"track-case-{lang}")
        await page.fill("#contact", "09120000000")  # a wrong contact: the error state
        async with page.expect_navigation():
            await page.click("#contact-form button")
        assert await page.locator("#track-error").count() == 1
        await assert_accessible(page, f"track wrong contact ({lang})")
        await page.goto(made.link)
        await assert_accessible(page, f"survey form ({lang})")
        for q in ("workflow", "information_match", "staff_behaviour", "timeliness"):
            await page.check(f"input[name={q}][value='4']")
        await page.route("**/s/**", _rewrite_form(workflow=""))  # a missing score
        async with page.expect_navigation():
            await page.click("#survey-form button[type=submit]")
        assert await page.locator("#q-workflow-error").count() == 1
        await assert_accessible(page, f"survey missing score ({lang})")
        await page.unroute("**/s/**")
        await page.check("input[name=workflow][value='5']")
        async with page.expect_navigation():
            await page.click("#survey-form button[type=submit]")
        await assert_accessible(page, f"survey thanks ({lang})")
    finally:
        await page.close()


async def test_typed_work_is_never_lost(ctx, browser, base_url):
    await make_staff(ctx, "mina", "pr")
    codes = await _cases(ctx)
    page = await _page(browser, "fa")
    try:
        await _login(page, base_url, "mina")
        await page.goto(f"{base_url}/staff/cases/{codes['late']}")
        await page.fill("#answer-text", "با سلام، پرونده بررسی شد.")
        await page.select_option("#answer-template", "reply_done")
        async with page.expect_navigation():
            await page.click("button[formaction$='/draft']")
        text = await page.input_value("#answer-text")
        assert text.startswith("با سلام، پرونده بررسی شد.\n\n") and "انجام شد" in text  # added, not replaced

        sid = next(c["value"] for c in await page.context.cookies() if c["name"] == SESSION_COOKIE)
        await ctx.state.put(_key(sid), {"exp": 0})  # the session ends while the answer is typed
        await page.fill("#answer-text", text + "\nتا پایان هفته آماده است.")
        async with page.expect_navigation():
            await page.click("#answer button.primary")
        assert await page.locator("#kept").count() == 1  # the login form says the text is kept
        await page.fill("#login-name", "mina")
        await page.fill("#login-password", PASSWORD)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        assert await page.input_value("#answer-text") == text + "\nتا پایان هفته آماده است."
        assert await page.locator("#done").count() == 1
        async with ctx.db.session() as s:  # and nothing was sent behind the staff member's back
            answers = (await s.execute(select(Outbox).where(Outbox.purpose == "answer"))).scalars().all()
        assert answers == []
    finally:
        await page.close()


async def test_inbox_sorts_by_due_date_and_actions_confirm(ctx, browser, base_url, artifacts):
    await make_staff(ctx, "reza", "pr")
    codes = await _cases(ctx)
    page = await _page(browser, "fa", NARROW)
    try:
        await _login(page, base_url, "reza")
        first = await page.locator("td.c-code").first.inner_text()
        assert first.strip() != codes["late"]  # newest first by default
        await page.select_option("#f-sort", "due")
        async with page.expect_navigation():
            await page.click("#filters button[type=submit]")
        rows = page.locator("table.cases tbody tr")
        assert "overdue" in (await rows.first.get_attribute("class"))  # the overdue case leads
        await page.screenshot(path=str(artifacts / "console-inbox-by-due-360.png"), full_page=True)
        row = await rows.first.bounding_box()
        assert row["height"] < 130  # a compact card on a phone, not seven lines
        await page.goto(f"{base_url}/staff/cases/{codes['fresh']}")
        await page.select_option("#assign-unit", "roads")
        async with page.expect_navigation():
            await page.click("#assign-unit ~ button")
        done = await page.inner_text("#done")
        assert "راه و ترابری" in done  # the unit's name, not its code
    finally:
        await page.close()


async def test_language_follows_the_link_and_the_browser(ctx, browser, base_url):
    english = await make_case(
        ctx, text="Street light broken near the school", sender="jo@example.com", channel=Channel.EMAIL
    )
    async with ctx.db.session() as s:
        ack = (await s.execute(select(Outbox.text).where(Outbox.purpose == "ack"))).scalars().first()
    link = next(w for w in ack.split() if w.startswith("http"))
    page = await _page(browser, "fa")  # even a Persian browser: the link says English
    try:
        await page.goto(link.replace("http://gw.test", base_url))
        assert await page.get_attribute("html", "lang") == "en"
        assert english.code in await page.inner_text("#case")
    finally:
        await page.close()
    page = await _page(browser, "en")
    try:
        await page.goto(f"{base_url}/track")
        assert await page.get_attribute("html", "dir") == "ltr"
        await page.goto(f"{base_url}/staff/login")
        assert await page.get_attribute("html", "lang") == "en"
        await page.click("a.lang")  # the switch is remembered
        await page.goto(f"{base_url}/track")
        assert await page.get_attribute("html", "lang") == "fa"
    finally:
        await page.close()
