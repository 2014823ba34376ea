"""/track and GET /api/v1/track/{code}: what a code alone shows, the answer behind the
citizen's contact or a signed link, one neutral reply for unknown codes and wrong contacts,
and the per-client rate limit."""

from __future__ import annotations

import re

import pytest

from gateway.core import lookup, tracking
from gateway.core.lookup import track_link_signed, track_token
from gateway.core.messages import Channel, Kind
from gateway.core.text import to_persian_digits
from tests.test_public_common import ANSWER, PHONE, aiohttp_free_client, client, make_case


def _unknown_code() -> str:
    return (
        "1000000009"
        if tracking.is_valid("1000000009")
        else next(c for c in (f"10000000{i:02d}" for i in range(100)) if tracking.is_valid(c))
    )


def _typo(code: str) -> str:
    last = (int(code[-1]) + 1) % 10
    return code[:-1] + str(last)


def _main(html: str) -> str:
    """The page's <main>, without the language switch link (it echoes the query)."""
    return html.split('<main id="main" tabindex="-1">', 1)[1]


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda c: c, id="ascii"),
        pytest.param(to_persian_digits, id="persian-digits"),
        pytest.param(lambda c: c.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")), id="arabic-indic-digits"),
        pytest.param(lambda c: f"{c[:3]} {c[3:6]}-{c[6:]}", id="spaces-and-dash"),
        pytest.param(lambda c: f" {to_persian_digits(c[:5])}\u200c{to_persian_digits(c[5:])} ", id="zwnj-persian"),
    ],
)
async def test_a_code_in_any_digit_script_shows_the_public_status(ctx, client, form):
    made = await make_case(ctx)
    r = await client.get("/track", params={"code": form(made.code)})
    html = await r.text()
    assert r.status == 200
    assert 'id="case-status"' in html and "در حال بررسی" in html  # routed, in Persian
    assert "راه و ترابری" in html  # the unit's name (routed by the keyword جاده)
    assert to_persian_digits(made.code) in html
    assert re.search(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2}", html)  # a Jalali date in Persian digits
    for shown in (PHONE, PHONE[3:], "09121234567", to_persian_digits("9121234567")):
        assert shown not in html


@pytest.mark.parametrize(
    "raw,status,text",
    [
        pytest.param("typo", 400, "لطفاً کد را بررسی کنید", id="wrong-check-digit"),
        pytest.param("12345", 400, "ده رقم", id="too-short"),
        pytest.param("abcdefghij", 400, "ده رقم", id="letters"),
    ],
)
async def test_malformed_codes_are_refused_before_any_lookup(ctx, client, raw, status, text):
    made = await make_case(ctx)
    value = _typo(made.code) if raw == "typo" else raw
    r = await client.get("/track", params={"code": value})
    assert r.status == status and text in await r.text()


async def test_the_answer_needs_the_right_contact(ctx, client):
    made = await make_case(ctx, answered=True)
    r = await client.get("/track", params={"code": made.code})
    html = await r.text()
    assert ANSWER not in html and 'id="answer-locked"' in html and 'id="contact-form"' in html
    for contact in ("09121234567", "+98 912 123 4567", "۰۹۱۲۱۲۳۴۵۶۷", "9121234567"):
        r = await client.post("/track", data={"code": made.code, "contact": contact})
        assert r.status == 200 and ANSWER in await r.text(), contact
    r = await client.post("/track", data={"code": made.code, "contact": "09127654321"})
    assert ANSWER not in await r.text()


async def test_an_anonymous_case_shows_its_answer_to_the_code_holder(ctx, client):
    made = await make_case(ctx, sender=None, channel=Channel.WEB, answered=True)
    r = await client.get("/track", params={"code": made.code})
    assert r.status == 200 and ANSWER in await r.text()


async def test_email_contacts_compare_case_insensitively(ctx, client):
    made = await make_case(ctx, sender="Sara.Karimi@Example.IR", channel=Channel.EMAIL, answered=True)
    r = await client.post("/track", data={"code": made.code, "contact": "sara.karimi@example.ir"})
    assert ANSWER in await r.text()
    r = await client.post("/track", data={"code": made.code, "contact": "sara@example.ir"})
    assert ANSWER not in await r.text()


async def test_unknown_code_is_neutral_and_a_wrong_contact_keeps_the_case_card(ctx, client):
    made = await make_case(ctx, answered=True)
    missing = await client.post("/track", data={"code": _unknown_code(), "contact": "09127654321"})
    assert missing.status == 200 and "یافت نشد" in _main(await missing.text())
    assert 'id="case"' not in await missing.text()
    wrong = await client.post("/track", data={"code": made.code, "contact": "09127654321"})
    page = await wrong.text()
    assert wrong.status == 200 and ANSWER not in page
    assert 'id="case"' in page and "یکی نیست" in page  # the card stays, the error says why
    assert 'value="09127654321"' in page  # what was typed is kept


async def test_both_neutral_paths_do_the_same_work(ctx, client, monkeypatch):
    """No timing difference, shown functionally: the unknown-code path and the
    wrong-contact path run the same lookup and the same constant-time comparison."""
    calls: list[tuple[str, str | None, str | None]] = []
    real_compare, real_select = lookup.contact_matches, lookup.case_by_code

    def compare(given, stored):
        calls.append(("compare", given, stored))
        return real_compare(given, stored)

    async def select(s, code):
        calls.append(("select", code, None))
        return await real_select(s, code)

    monkeypatch.setattr(lookup, "contact_matches", compare)
    monkeypatch.setattr(lookup, "case_by_code", select)
    made = await make_case(ctx, answered=True)
    await client.post("/track", data={"code": made.code, "contact": "09127654321"})
    wrong_path = [c[0] for c in calls]
    calls.clear()
    await client.post("/track", data={"code": _unknown_code(), "contact": "09127654321"})
    assert [c[0] for c in calls] == wrong_path == ["select", "compare"]
    assert calls[1][2] is None  # compared against the dummy, not skipped
    assert real_compare("+989127654321", None) is False and real_compare(None, None) is False


async def test_a_signed_link_shows_the_answer(ctx, client):
    made = await make_case(ctx, answered=True)
    link = track_link_signed(ctx, made.code)
    assert link.startswith("http://gw.test/track?code=")
    r = await client.get(link.removeprefix("http://gw.test"))
    assert ANSWER in await r.text()
    from gateway.core.answers import answer_view_mac  # the staff endpoint's short form

    r = await client.get("/track", params={"code": made.code, "t": answer_view_mac(ctx, made.code)})
    assert ANSWER in await r.text()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda tok, other: tok[:-2] + ("AA" if not tok.endswith("AA") else "BB"), id="signature-changed"),
        pytest.param(lambda tok, other: "eyJjIjoiMSJ9." + tok.split(".", 1)[1], id="payload-swapped"),
        pytest.param(lambda tok, other: other, id="token-of-another-case"),
        pytest.param(lambda tok, other: "x" * 500, id="oversized"),
    ],
)
async def test_a_tampered_link_shows_no_answer(ctx, client, tamper):
    made = await make_case(ctx, answered=True)
    other = await make_case(ctx, answered=True, sender="+989351112233")
    token = tamper(track_token(ctx, made.code), track_token(ctx, other.code))
    r = await client.get("/track", params={"code": made.code, "t": token})
    html = await r.text()
    assert r.status == 200 and ANSWER not in html and 'id="case-status"' in html


async def test_violation_reports_never_show_the_reporter(ctx, client):
    made = await make_case(
        ctx,
        kind=Kind.VIOLATION_REPORT,
        text="گزارش تخلف: درخواست رشوه",
        sender="whistle@example.ir",
        channel=Channel.EMAIL,
    )
    html = await (await client.get("/track", params={"code": made.code})).text()
    body = await (await client.get(f"/api/v1/track/{made.code}")).text()
    assert "گزارش تخلف" in html and "حراست و بازرسی" in html
    for page in (html, body):
        assert "whistle" not in page and "رشوه" not in page


async def test_track_api_gives_the_public_fields(ctx, client):
    made = await make_case(ctx, answered=True)
    r = await client.get(f"/api/v1/track/{to_persian_digits(made.code)}")
    data = await r.json()
    assert r.status == 200
    assert set(data) == {
        "code",
        "kind",
        "status",
        "unit",
        "service_code",
        "received_at",
        "updated_at",
        "due_at",
        "answered_at",
        "closed_at",
    }
    assert data["code"] == made.code and data["status"] == "answered"
    assert data["unit"] == {"code": "roads", "name": "راه و ترابری"}
    assert data["answered_at"] and data["due_at"] > data["received_at"]
    assert PHONE not in await r.text() and ANSWER not in await r.text()
    r = await client.get(f"/api/v1/track/{_typo(made.code)}")
    assert r.status == 400 and await r.json() == {"error": "check_digit", "message": "check the code"}
    r = await client.get(f"/api/v1/track/{_unknown_code()}")
    assert r.status == 404 and await r.json() == {"error": "not_found"}


async def test_brute_force_guessing_hits_the_rate_limit(make_config, aiohttp_free_client):
    cfg = make_config(web={"track_burst": 3, "track_per_minute": 1})
    async with aiohttp_free_client(cfg) as (c, _ctx):
        statuses = []
        for i in range(6):
            body = str(100000000 + i * 7919)
            guess = body + str(tracking.damm_digit(body))  # well-formed guesses, unknown codes
            r = await c.get("/track", params={"code": guess})
            statuses.append(r.status)
        assert statuses[:3] == [404, 404, 404] and set(statuses[3:]) == {429}
        assert int(r.headers["Retry-After"]) >= 1
        assert f"{to_persian_digits(r.headers['Retry-After'])} ثانیه" in await r.text()  # same wait
        r = await c.get(f"/api/v1/track/{guess}")
        assert r.status == 429 and (await r.json())["error"] == "rate_limited"
        r = await c.post("/track", data={"code": guess, "contact": "09121234567"})
        assert r.status == 429


async def test_pages_are_persian_rtl_with_an_english_switch(ctx, client):
    r = await client.get("/track")
    html = await r.text()
    assert '<html lang="fa" dir="rtl">' in html and 'href="/track?lang=en"' in html
    assert "Content-Security-Policy" in r.headers and r.headers["Referrer-Policy"] == "no-referrer"
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing external
    r = await client.get("/track", params={"lang": "en"})
    assert '<html lang="en" dir="ltr">' in await r.text() and r.cookies["lang"].value == "en"
    r = await client.get("/services")  # the cookie remembers the choice
    assert '<html lang="en" dir="ltr">' in await r.text()


async def test_the_answer_box_shows_the_staff_text_without_the_messages_opening_line(ctx, client):
    from gateway.core import answers
    from gateway.core.access import Viewer

    made = await make_case(ctx)
    staff_text = "مسیر تا پایان ماه ترمیم می‌شود."
    await answers.answer_case(ctx, Viewer(0, "staff", "roads", "supervisor"), made.code, staff_text)
    r = await client.post("/track", data={"code": made.code, "contact": PHONE})
    answer = re.search(r'id="case-answer">(.*?)</div>', await r.text(), re.S)
    assert answer and answer.group(1).strip() == staff_text


async def test_an_overdue_case_apologises_and_says_what_next(ctx, client):
    from datetime import timedelta

    from sqlalchemy import update

    from gateway.core.models import Case, utcnow

    made = await make_case(ctx)
    r = await client.get("/track", params={"code": made.code})
    assert 'id="case-overdue"' not in await r.text()
    async with ctx.db.session() as s:
        await s.execute(update(Case).where(Case.code == made.code).values(due_at=utcnow() - timedelta(days=2)))
    r = await client.get("/track", params={"code": made.code})
    page = await r.text()
    assert 'id="case-overdue"' in page and "پوزش" in page and "همین کد رهگیری" in page
    r = await client.get("/track", params={"code": made.code, "lang": "en"})
    assert "We are sorry" in await r.text()
