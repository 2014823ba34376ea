"""The portal in a real browser (Playwright driving Debian's Chromium, JavaScript off):
a citizen files a complaint in Persian with a photo and gets the tracking code on screen
and the acknowledgement at a real SMTP server (and, choosing SMS, at the SMS test fake);
an anonymous violation report reaches only oversight; an appeal after the answer reopens
the case and shows in the console; the contact page lists the configured people.  axe-core
checks /submit, its error state, the confirmation, /contact and the violation page;
screenshots at 360 and 1280 px go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import select

from gateway.channels.email import create as create_email
from gateway.channels.sms import create as create_sms
from gateway.core.access import Viewer
from gateway.core.answers import answer_case
from gateway.core.models import Case, Outbox, Staff
from gateway.core.runtime import running_context
from gateway.core.text import to_persian_digits
from gateway.web.app import create_app
from tests.peers import eventually, free_port
from tests.peers.axe import assert_accessible
from tests.peers.sms_api import FakeSmsApi
from tests.peers.smtp_sink import SmtpSink
from tests.test_portal_followup import DIRECTORY, UNITS
from tests.test_public_browser import NARROW, WIDE, assert_fits, submit, tab_to
from tests.test_staff_support import make_staff

TEXT = "در باجهٔ شمارهٔ ۳ کارمند بدون توضیح پرونده‌ام را نپذیرفت و گفت فردا بیایید."


@pytest_asyncio.fixture
async def sms_api() -> AsyncIterator[FakeSmsApi]:
    fake = FakeSmsApi()
    await fake.start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture
async def site(
    make_config, sink: SmtpSink, sms_api: FakeSmsApi, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Any]]:
    """The real app on an ephemeral port with the dispatcher sending: email through the SMTP
    sink, SMS through the Kavenegar-style fake."""
    monkeypatch.setenv("GW_TEST_KAVENEGAR_KEY", sms_api.api_key)
    monkeypatch.setenv("GATEWAY_KAVENEGAR_FORWARD_TOKEN", "forward-secret")  # inbound is authenticated
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = make_config(
        gateway={"public_base_url": base},
        units=UNITS,
        directory=DIRECTORY,
        email={"smtp": {"enabled": False}, "outbound": {"host": "127.0.0.1", "port": sink.port}},
        sms={
            "provider": "kavenegar",
            "numbers": ["10004346"],
            "kavenegar": {"api_url": sms_api.url, "api_key_env": "GW_TEST_KAVENEGAR_KEY", "sender": "10004346"},
        },
    )
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        create_email(ctx)
        create_sms(ctx)
        ctx.dispatcher.start()
        runner = web.AppRunner(create_app(ctx), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield base, ctx
        finally:
            await runner.cleanup()


async def photo(browser, tmp_path) -> str:
    """A real JPEG photo: Chromium's own screenshot of a coloured page."""
    page = await browser.new_page(viewport={"width": 640, "height": 480})
    try:
        await page.set_content(
            "<body style='margin:0;background:linear-gradient(#2a6,#fc3)'><h1 style='font-size:90px'>باجهٔ ۳</h1></body>"
        )
        path = tmp_path / "باجه ۳.jpg"
        await page.screenshot(path=str(path), type="jpeg", quality=80)
        return str(path)
    finally:
        await page.close()


async def shots(page, artifacts, name: str) -> None:
    """Full-page screenshots at 360 and 1280 px."""
    for size, tag in ((NARROW, "360"), (WIDE, "1280")):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(artifacts / f"portal-{name}-{tag}.png"), full_page=True)
    await page.set_viewport_size(NARROW)


async def fill_submission(
    page, *, kind: str | None, email: str = "", mobile: str = "", answer: str, files: list[str] = ()
) -> None:
    """Fill the form through its labels, as a screen-reader user's tool would find it."""
    if kind:
        await page.get_by_label(kind, exact=True).check()
    await page.get_by_label("موضوع *").fill("رفتار نامناسب در باجه")
    await page.get_by_label("متن پیام *").fill(TEXT)
    if files:
        await page.get_by_label("پیوست‌ها (اختیاری)").set_input_files(list(files))
    if email:
        await page.get_by_label("ایمیل (اختیاری)").fill(email)
    if mobile:
        await page.get_by_label("شمارهٔ تلفن همراه (اختیاری)").fill(mobile)
    await page.get_by_label(answer).check()


async def test_a_complaint_with_a_photo_gets_its_code_on_screen_by_email_and_by_sms(
    browser, site, sink, sms_api, artifacts, tmp_path
):
    base, ctx = site
    picture = await photo(browser, tmp_path)
    page = await browser.new_page(viewport=NARROW, java_script_enabled=False, locale="fa-IR")
    try:
        await page.goto(f"{base}/submit")
        assert await page.get_attribute("html", "dir") == "rtl"
        await assert_accessible(page, "/submit")
        await shots(page, artifacts, "submit")
        await assert_fits(page, 320)

        await page.get_by_label("متن پیام *").fill(TEXT)  # no kind, subject or answer choice
        await tab_to(page, "#send")
        await submit(page)
        errors = await page.inner_text("#form-errors")
        assert "نوع پیام را انتخاب کنید" in errors and "موضوع را بنویسید" in errors
        assert await page.input_value("#text") == TEXT  # what was typed is kept
        assert await page.get_attribute("#subject", "aria-invalid") == "true"
        await assert_accessible(page, "/submit with errors")
        await shots(page, artifacts, "submit-errors")

        await fill_submission(page, kind="شکایت", email="ali@citizen.example", answer="با ایمیل", files=[picture])
        await tab_to(page, "#send")
        await submit(page)
        await page.wait_for_selector("#tracking-code")
        async with ctx.db.read_session() as s:
            case = (await s.execute(select(Case))).scalar_one()
        assert (await page.inner_text("#tracking-code")).strip() == to_persian_digits(case.code)
        assert await page.get_attribute("#go-track", "href") == f"/track?code={case.code}"
        await assert_accessible(page, "the confirmation page")
        await shots(page, artifacts, "done")
        await assert_fits(page, 320)

        mails = await sink.wait_for(1)  # the acknowledgement, at a real SMTP server
        assert mails[0]["to"].addresses[0].addr_spec == "ali@citizen.example"
        assert f"[#{case.code}]" in mails[0]["subject"]

        await page.goto(f"{base}/submit")  # the same citizen, the answer by SMS this time
        await fill_submission(page, kind="پیشنهاد", mobile="۰۹۱۲ ۳۴۵ ۶۷۸۹", answer="با پیامک")
        await tab_to(page, "#send")
        await submit(page)
        code = (await page.inner_text("#tracking-code")).strip()
        sms = await eventually(lambda: _sms_to(sms_api, "09123456789"), "the SMS acknowledgement")
        assert to_persian_digits(code) == code and any(code in to_persian_digits(m["message"]) for m in sms)
    finally:
        await page.close()
    async with ctx.db.read_session() as s:
        cases = (await s.execute(select(Case).order_by(Case.id))).scalars().all()
    assert [c.channel for c in cases] == ["web", "web"] and cases[1].contact == "+989123456789"


async def _sms_to(api: FakeSmsApi, receptor: str) -> list[dict[str, Any]]:
    return [m for m in api.sent if m["receptor"] == receptor]


async def test_the_print_button_appears_only_with_javascript(browser, site):
    base, ctx = site
    page = await browser.new_page(viewport=NARROW, java_script_enabled=True, locale="fa-IR")
    try:
        await page.goto(f"{base}/submit")
        await fill_submission(
            page, kind="درخواست", answer="خودم با کد رهگیری پیگیری می‌کنم (ایمیل و شماره نگه داشته نمی‌شود)"
        )
        async with page.expect_navigation():
            await page.get_by_role("button", name="ثبت و دریافت کد رهگیری").click()
        await page.get_by_role("button", name="چاپ این صفحه").wait_for(state="visible")
    finally:
        await page.close()


async def test_an_anonymous_violation_report_reaches_only_oversight(browser, site, artifacts):
    base, ctx = site
    page = await browser.new_page(viewport=NARROW, java_script_enabled=False, locale="fa-IR")
    try:
        await page.goto(f"{base}/submit")
        await page.get_by_role("link", name="گزارش تخلف").first.click()
        await page.wait_for_selector("text=فقط به واحد حراست و بازرسی می‌رسد")
        await assert_accessible(page, "the violation-report page")
        await shots(page, artifacts, "violation")
        await assert_fits(page, 320)
        await fill_submission(page, kind=None, answer="خودم با کد رهگیری پیگیری می‌کنم (ایمیل و شماره نگه داشته نمی‌شود)")
        await tab_to(page, "#send")
        await submit(page)
        code = (await page.inner_text("#tracking-code")).strip()
        await shots(page, artifacts, "violation-done")
    finally:
        await page.close()
    await make_staff(ctx, "bazras", "oversight", role="oversight")
    await make_staff(ctx, "pr-head", "pr", role="supervisor")
    async with ctx.db.read_session() as s:
        case = (await s.execute(select(Case))).scalar_one()
        viewers = {m.name: Viewer.of(m) for m in (await s.execute(select(Staff))).scalars()}
        acks = (await s.execute(select(Outbox))).scalars().all()
    assert to_persian_digits(case.code) == code
    assert (case.kind, case.unit_code, case.contact, case.confidential) == ("violation_report", "oversight", None, True)
    assert acks == []  # nobody to acknowledge to: anonymous
    from gateway.core.access import case_scope

    async with ctx.db.read_session() as s:
        seen = {
            name: (await s.execute(select(Case.code).where(case_scope(v)))).scalars().all()
            for name, v in viewers.items()
        }
    assert seen == {"bazras": [case.code], "pr-head": []}


async def test_an_appeal_after_the_answer_reopens_the_case_and_shows_in_the_console(browser, site, artifacts):
    base, ctx = site
    page = await browser.new_page(viewport=NARROW, java_script_enabled=False, locale="fa-IR")
    try:
        await page.goto(f"{base}/submit")
        await fill_submission(page, kind="درخواست", email="sara@citizen.example", answer="با ایمیل")
        await tab_to(page, "#send")
        await submit(page)
        async with ctx.db.read_session() as s:
            case = (await s.execute(select(Case))).scalar_one()
        await make_staff(ctx, "pr-clerk", "pr")
        await make_staff(ctx, "dg", "office", role="supervisor")
        async with ctx.db.read_session() as s:
            clerk = Viewer.of((await s.execute(select(Staff).where(Staff.name == "pr-clerk"))).scalar_one())
        await answer_case(ctx, clerk, case.code, "درخواست شما در نوبت است.", False)

        await page.goto(f"{base}/track?code={case.code}")
        await page.get_by_label("ایمیل یا شماره تلفن همراه").fill("sara@citizen.example")
        await tab_to(page, "#contact-form button")
        await submit(page)
        await page.get_by_label("دلیل نارضایتی *").fill("چهار ماه است در نوبتم؛ این پاسخ نیست.")
        await tab_to(page, "#appeal-send")
        await shots(page, artifacts, "appeal-form")
        await submit(page)
        await page.wait_for_selector("#added")
        assert "رسیدگی مجدد" in await page.inner_text("#added")
        await assert_accessible(page, "the appeal confirmation")

        await page.goto(f"{base}/staff/login")
        await page.get_by_label("نام کاربری").fill("dg")
        await page.get_by_label("گذرواژه").fill("correct horse battery")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.goto(f"{base}/staff/cases?appeal=1")
        row = page.locator("tr", has_text=to_persian_digits(case.code))
        assert "اعتراض" in await row.inner_text()
        await shots(page, artifacts, "console-appeal-inbox")
        await page.goto(f"{base}/staff/cases/{case.code}")
        assert "چهار ماه است در نوبتم" in await page.inner_text(".thread")
        assert await page.is_visible("#appeal-notice")
        await shots(page, artifacts, "console-appeal-case")
    finally:
        await page.close()
    async with ctx.db.read_session() as s:
        case = (await s.execute(select(Case))).scalar_one()
    assert (case.status, case.unit_code, case.appeal_level) == ("routed", "office", "supervisor")


async def test_the_contact_page_lists_the_configured_people(browser, site, artifacts):
    base, _ = site
    page = await browser.new_page(viewport=NARROW, java_script_enabled=False, locale="fa-IR")
    try:
        await page.goto(f"{base}/track")
        await page.get_by_role("link", name="تماس با ما").click()
        await page.wait_for_selector("#person-1")
        assert "مریم احمدی" in await page.inner_text("#person-1")
        assert await page.get_attribute("#person-1 a[href^='tel:']", "href") == "tel:+982188881234"
        assert await page.get_attribute("#person-1 a[href^='mailto:']", "href") == "mailto:dg@example.ir"
        assert "Reza Karimi" in await page.inner_text("#person-2")
        await assert_accessible(page, "/contact")
        await shots(page, artifacts, "contact")
        await assert_fits(page, 320)
        await page.goto(f"{base}/contact?lang=en")
        assert await page.get_attribute("html", "dir") == "ltr"
        assert "Contact us" in await page.inner_text("h1")
        await assert_accessible(page, "/contact in English")
    finally:
        await page.close()


async def test_english_submit_form_is_accessible_at_both_widths(browser, site, artifacts):
    base, _ = site
    page = await browser.new_page(viewport=WIDE, java_script_enabled=False)
    try:
        await page.goto(f"{base}/submit?lang=en")
        assert await page.get_attribute("html", "dir") == "ltr"
        await assert_accessible(page, "/submit in English at 1280 px")
        await page.set_viewport_size(NARROW)
        await assert_accessible(page, "/submit in English at 360 px")
        assert re.search(r"Send and get a tracking code", await page.content())
        await page.screenshot(path=str(artifacts / "portal-submit-en-360.png"), full_page=True)
    finally:
        await page.close()
