"""The console in a real browser: Playwright driving Debian's headless Chromium.

A staff member logs in, finds a new case, answers it and sees it answered; a supervisor
sees the dashboard.  A screenshot of each page goes to the ``artifacts`` folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp.test_utils import TestServer

from gateway.core.messages import Channel
from gateway.web.app import create_app
from tests.test_staff_support import PASSWORD, make_staff, outbox_rows, submit

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest_asyncio.fixture
async def base_url(ctx) -> AsyncIterator[str]:
    server = TestServer(create_app(ctx), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def _login(page, base_url: str, name: str) -> None:
    await page.goto(f"{base_url}/staff/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/staff/cases")


async def test_staff_logs_in_finds_new_case_answers_it(ctx, browser, base_url, artifacts):
    await make_staff(ctx, "fatemeh", "pr")
    code = (
        await submit(
            ctx,
            "سلام، چراغ کوچهٔ ما سه هفته است خاموش است.",
            channel=Channel.EMAIL,
            sender="citizen@example.com",
            subject="چراغ خاموش",
        )
    ).case_code
    await submit(ctx, "<b>پیشنهاد</b> برای ایستگاه اتوبوس", sender="+989120000009")
    page = await browser.new_page(viewport=DESKTOP, locale="fa-IR")
    try:
        await page.goto(f"{base_url}/staff/login")
        await page.screenshot(path=str(artifacts / "staff-login.png"), full_page=True)
        await _login(page, base_url, "fatemeh")
        await page.screenshot(path=str(artifacts / "staff-inbox.png"), full_page=True)
        await page.fill("input[name=q]", "چراغ")
        await page.click("form.filters button[type=submit]")
        rows = page.locator("table.cases tbody tr")
        assert await rows.count() == 1
        await rows.first.locator("a").click()
        await page.wait_for_url(f"{base_url}/staff/cases/{code}")
        assert await page.locator("#case-status").inner_text() == "در حال بررسی"
        await page.screenshot(path=str(artifacts / "staff-case.png"), full_page=True)
        await page.fill("#answer textarea[name=text]", "چراغ کوچه امروز تعمیر شد. سپاس از گزارش شما.")
        await page.click("#answer button.primary")
        await page.wait_for_url(f"{base_url}/staff/cases/{code}?done=answered")
        assert await page.locator("#case-status").inner_text() == "پاسخ داده شده"
        assert await page.locator(".msg.out", has_text="چراغ کوچه امروز تعمیر شد").count() == 1
        await page.screenshot(path=str(artifacts / "staff-case-answered.png"), full_page=True)
        await page.set_viewport_size(PHONE)
        await page.goto(f"{base_url}/staff/cases")
        await page.screenshot(path=str(artifacts / "staff-inbox-phone.png"), full_page=True)
    finally:
        await page.close()
    purposes = [(r.channel, r.purpose) for r in await outbox_rows(ctx) if r.purpose != "ack"]
    assert purposes == [("email", "answer"), ("email", "survey")]


async def test_supervisor_sees_dashboard(ctx, browser, base_url, artifacts):
    await make_staff(ctx, "supervisor-b", "pr", "supervisor")
    for i, channel in enumerate([Channel.SMS, Channel.SMS, Channel.EMAIL]):
        await submit(
            ctx,
            f"پیشنهاد شمارهٔ {i}",
            channel=channel,
            sender=f"c{i}@example.com" if channel is Channel.EMAIL else f"+98912000002{i}",
        )
    await submit(ctx, "شکایت از تاخیر", sender="+989120000030")
    page = await browser.new_page(viewport=DESKTOP, locale="fa-IR")
    try:
        await _login(page, base_url, "supervisor-b")
        await page.click("text=داشبورد")
        await page.wait_for_url(f"{base_url}/staff/dashboard")
        assert await page.locator("figure.chart").count() == 3
        assert await page.locator("figure.chart table.bars tbody tr").count() >= 4
        await page.screenshot(path=str(artifacts / "staff-dashboard.png"), full_page=True)
    finally:
        await page.close()
