"""The oversight pages as people use them, in Debian's Chromium with JavaScript off, in
Persian and English: "my cases", a violation report with the person-responsible and
forward forms, the forwarded state, settings (by keyboard) and the audit log pass axe-core
and fit a 360 px screen.  Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from gateway.core.messages import Kind
from gateway.core.models import Staff
from gateway.core.runtime import running_context
from gateway.web.app import create_app
from tests.peers.axe import assert_accessible
from tests.test_people_browser import NARROW, _login, _page, _shoot
from tests.test_staff_support import make_staff, submit

BODY = {"code": "inspection", "name": "سازمان بازرسی کل کشور", "email": "cases@bazresi.example"}


@pytest_asyncio.fixture
async def office(make_config) -> AsyncIterator[tuple]:
    cfg = make_config(oversight={"external": [BODY]})
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        server = TestServer(create_app(ctx), host="127.0.0.1")
        await server.start_server()
        try:
            yield ctx, str(server.make_url("")).rstrip("/")
        finally:
            await server.close()


@pytest.mark.parametrize("lang", ["fa", "en"])
async def test_oversight_pages_are_accessible(office, browser, artifacts, lang):
    ctx, base_url = office
    await make_staff(ctx, f"inspector-{lang}", "oversight", "oversight")
    report = (await submit(ctx, "گزارش تخلف: کارمند رشوه خواست", kind=Kind.VIOLATION_REPORT)).case_code
    page = await _page(browser, lang)
    try:
        await _login(page, base_url, f"inspector-{lang}")
        await page.goto(f"{base_url}/staff/cases/{report}")
        await assert_accessible(page, f"violation report with forward form ({lang})")
        await page.select_option("#assignee-select", label=f"inspector-{lang} ({'خودم' if lang == 'fa' else 'me'})")
        async with page.expect_navigation():
            await page.click("#assignee-select ~ button")
        assert await page.locator("#case-assignee").inner_text() == f"inspector-{lang}"
        await page.goto(f"{base_url}/staff/cases?assignee=me")
        assert await page.locator(f"a[href='/staff/cases/{report}']").count() == 1
        await assert_accessible(page, f"my cases ({lang})")
        await page.goto(f"{base_url}/staff/cases/{report}")
        await page.fill("#forward-note", "فوری")
        async with page.expect_navigation():
            await page.click("#forward-note ~ button")
        assert await page.locator("#forwards").count() == 1 and await page.locator("#done").count() == 1
        await assert_accessible(page, f"forwarded report ({lang})")
        await _shoot(page, artifacts, f"oversight-forwarded-{lang}")

        await page.goto(f"{base_url}/staff/settings")
        await assert_accessible(page, f"settings ({lang})")
        await page.focus("input[value=immediate]")  # by keyboard: choose, then submit
        await page.keyboard.press("Space")
        await page.focus("form[action='/staff/settings'] button")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert await page.locator("#done").count() == 1
        async with ctx.db.session() as s:
            notify = (await s.execute(select(Staff.notify).where(Staff.name == f"inspector-{lang}"))).scalar_one()
        assert notify == "immediate"

        await page.goto(f"{base_url}/staff/audit")
        assert await page.locator("table.audit tbody tr").count() >= 3  # login, views, forward
        await assert_accessible(page, f"audit log ({lang})")
        await _shoot(page, artifacts, f"oversight-audit-{lang}")
        await page.goto(f"{base_url}/staff/audit?days=abc")
        assert await page.locator(".flash.error").count() == 1
        await assert_accessible(page, f"audit log with a bad filter ({lang})")
        await page.set_viewport_size(NARROW)
        assert await page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    finally:
        await page.close()


async def test_audit_page_refused_to_plain_staff_is_an_accessible_page(office, browser):
    ctx, base_url = office
    await make_staff(ctx, "plain", "pr")
    page = await _page(browser, "fa")
    try:
        await _login(page, base_url, "plain")
        response = await page.goto(f"{base_url}/staff/audit")
        assert response.status == 403 and await page.locator("#error-page").count() == 1
        await assert_accessible(page, "audit forbidden (fa)")
    finally:
        await page.close()
