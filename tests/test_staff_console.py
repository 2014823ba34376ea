"""The staff console over HTTP: login, CSRF, session fixation, escaping, rate limit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from gateway.core.models import Case
from tests.test_staff_support import PASSWORD, make_staff, staff_client, submit

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def login(client, name: str, password: str = PASSWORD, *, csrf: str | None = None):
    """Fetch the login form (for its CSRF token) and post it; return the response."""
    page = await (await client.get("/staff/login")).text()
    token = CSRF.search(page).group(1) if csrf is None else csrf
    return await client.post(
        "/staff/login", data={"csrf": token, "name": name, "password": password}, allow_redirects=False
    )


def session_cookie(client) -> str | None:
    found = [c.value for c in client.session.cookie_jar if c.key == "gw_staff"]
    return found[0] if found else None


async def csrf_of(client, path: str) -> str:
    return CSRF.search(await (await client.get(path)).text()).group(1)


async def test_login_inbox_answer_and_logout(ctx, staff_client):
    await make_staff(ctx, "maryam", "pr")
    code = (await submit(ctx, "درخواست تعمیر لامپ خیابان")).case_code
    resp = await login(staff_client, "maryam")
    assert resp.status == 303 and resp.headers["Location"] == "/staff/cases"
    inbox = await (await staff_client.get("/staff/cases")).text()
    assert code in inbox and 'dir="rtl"' in inbox
    token = await csrf_of(staff_client, f"/staff/cases/{code}")
    resp = await staff_client.post(
        f"/staff/cases/{code}/answer", allow_redirects=False, data={"csrf": token, "text": "لامپ تعویض شد."}
    )
    assert resp.status == 303
    async with ctx.db.session() as s:
        assert (await s.execute(select(Case.status).where(Case.code == code))).scalar_one() == "answered"
    await staff_client.post("/staff/logout", data={"csrf": token})
    resp = await staff_client.get("/staff/cases", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/staff/login"


@pytest.mark.parametrize("csrf", [pytest.param("", id="missing"), pytest.param("forged", id="forged")])
async def test_login_requires_csrf(ctx, staff_client, csrf):
    await make_staff(ctx, "nima", "pr")
    resp = await login(staff_client, "nima", csrf=csrf)
    assert resp.status == 403 and session_cookie(staff_client) is None


@pytest.mark.parametrize(
    "csrf",
    [
        pytest.param(None, id="missing"),
        pytest.param("forged", id="forged"),
        pytest.param("login-token", id="login-form-token"),
    ],
)
async def test_console_posts_require_the_session_csrf(ctx, staff_client, csrf):
    await make_staff(ctx, "sara", "pr")
    code = (await submit(ctx, "درخواست دارم")).case_code
    login_page = await (await staff_client.get("/staff/login")).text()
    login_token = CSRF.search(login_page).group(1)
    assert (await login(staff_client, "sara")).status == 303
    data = {"text": "پاسخ جعلی"}
    if csrf is not None:
        data["csrf"] = login_token if csrf == "login-token" else csrf
    resp = await staff_client.post(f"/staff/cases/{code}/answer", data=data, allow_redirects=False)
    assert resp.status == 403
    async with ctx.db.session() as s:
        assert (await s.execute(select(Case.status).where(Case.code == code))).scalar_one() == "routed"


async def test_session_fixation_prevented(ctx, staff_client):
    await make_staff(ctx, "reza", "pr")
    staff_client.session.cookie_jar.update_cookies({"gw_staff": "attacker-chosen-id"})
    resp = await login(staff_client, "reza")
    first = resp.cookies["gw_staff"].value
    assert resp.status == 303 and first != "attacker-chosen-id"
    staff_client.session.cookie_jar.clear()
    staff_client.session.cookie_jar.update_cookies({"gw_staff": first})
    resp = await login(staff_client, "reza")  # log in again while holding a live session
    second = resp.cookies["gw_staff"].value
    assert second != first
    staff_client.session.cookie_jar.clear()
    staff_client.session.cookie_jar.update_cookies({"gw_staff": first})  # the old id is dead
    resp = await staff_client.get("/staff/cases", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/staff/login"
    staff_client.session.cookie_jar.clear()
    staff_client.session.cookie_jar.update_cookies({"gw_staff": second})
    assert (await staff_client.get("/staff/cases", allow_redirects=False)).status == 200


async def test_session_cookie_flags(ctx, staff_client):
    await make_staff(ctx, "flags", "pr")
    resp = await login(staff_client, "flags")
    cookie = resp.cookies["gw_staff"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/staff"


async def test_script_in_citizen_message_is_escaped(ctx, staff_client):
    await make_staff(ctx, "escaper", "pr")
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    code = (await submit(ctx, f"درخواست {payload}", subject=payload)).case_code
    await login(staff_client, "escaper")
    for path in ("/staff/cases", f"/staff/cases/{code}"):
        resp = await staff_client.get(path)
        html = await resp.text()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html
        assert "script-src 'none'" in resp.headers["Content-Security-Policy"]


async def test_login_rate_limit(ctx, staff_client):
    await make_staff(ctx, "target", "pr")
    statuses = [(await login(staff_client, "target", "wrong password")).status for _ in range(5)]
    assert statuses == [401] * 5
    resp = await login(staff_client, "target")  # right password, but throttled now
    assert resp.status == 429 and session_cookie(staff_client) is None
    assert 1 <= int(resp.headers["Retry-After"]) <= 15 * 60 + 1
    assert "دقیقهٔ دیگر" in await resp.text() and 'value="target"' in await resp.text()


async def test_one_colleagues_typos_do_not_lock_out_the_office(ctx, staff_client):
    """Same office address: a name that failed five times is held, the others are not."""
    await make_staff(ctx, "typist", "pr")
    await make_staff(ctx, "colleague", "pr")
    for _ in range(5):
        assert (await login(staff_client, "typist", "wrong password")).status == 401
    assert (await login(staff_client, "typist")).status == 429
    assert (await login(staff_client, "colleague")).status == 303


async def test_other_units_case_is_404_in_console(ctx, staff_client):
    await make_staff(ctx, "pr-console", "pr")
    roads_case = (await submit(ctx, "جاده خراب است")).case_code
    await login(staff_client, "pr-console")
    assert (await staff_client.get(f"/staff/cases/{roads_case}")).status == 404
    token = await csrf_of(staff_client, "/staff/cases")
    resp = await staff_client.post(f"/staff/cases/{roads_case}/answer", data={"csrf": token, "text": "x"})
    assert resp.status == 404


async def test_dashboard_for_supervisor_with_csv(ctx, staff_client):
    await make_staff(ctx, "supervisor", "pr", "supervisor")
    await submit(ctx, "پیشنهاد برای پارک")
    await login(staff_client, "supervisor")
    html = await (await staff_client.get("/staff/dashboard")).text()
    assert html.count('<figure class="chart"') == 3 and "پیشنهاد" in html
    assert 'id="chart-survey"' in html and "در این بازه داده‌ای نیست" in html  # a dash, not 0
    resp = await staff_client.get("/staff/dashboard.csv?days=30")
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert re.fullmatch(
        r'attachment; filename="report-pr-14\d\d-\d\d-\d\d-last-30-days.csv"', resp.headers["Content-Disposition"]
    )
    rows = (await resp.text()).lstrip("\ufeff").splitlines()
    assert rows[0] == "واحد,از,تا,بخش,مورد,مقدار"
    assert any(r.startswith("روابط عمومی,۱۴") and r.endswith(",نوع,پیشنهاد,1") for r in rows), rows
    resp = await staff_client.get("/staff/dashboard.csv?lang=en")
    assert (await resp.text()).lstrip("\ufeff").splitlines()[0] == "Unit,From,To,Section,Item,Value"


async def test_dashboard_forbidden_for_plain_staff(ctx, staff_client):
    await make_staff(ctx, "plain-console", "pr")
    await login(staff_client, "plain-console")
    assert (await staff_client.get("/staff/dashboard")).status == 403


async def test_saved_reply_is_added_to_the_draft(ctx, staff_client):
    await make_staff(ctx, "templater", "pr")
    code = (await submit(ctx, "درخواست دارم")).case_code
    await login(staff_client, "templater")
    token = await csrf_of(staff_client, f"/staff/cases/{code}")
    resp = await staff_client.post(
        f"/staff/cases/{code}/draft", data={"csrf": token, "text": "با سلام،", "template": "reply_done"}
    )
    html = await resp.text()
    # the saved reply is added after what was typed, never instead of it
    assert resp.status == 200 and "با سلام،\n\n" + ctx.templates.raw("reply_done", "fa") in html
