"""Bad input on /submit: files over the limits, too many files, names with path tricks
and bidi overrides, HTML and script in every field, forged and expired form tokens, the
honeypot, and the per-address and per-contact limits (held in the database).  Each gets
a Persian message and leaves nothing stored."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from gateway.core.models import Attachment, Case, Message
from gateway.web.portal.tokens import issue_form_token
from tests.test_portal_submit import JPEG, counts, form_token, good, portal, post

PDF = b"%PDF-1.4\n" + b"0" * 1000
NOTHING = (0, 0, 0, 0)


async def test_a_10_mb_file_is_refused_by_name_and_the_text_kept(portal):
    client, ctx = portal
    big = b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024)
    resp = await post(client, good(await form_token(client)), [("بزرگ.jpg", big, "image/jpeg")])
    page = await resp.text()
    assert resp.status == 413 and "حجم فرم بیش از حد مجاز است" in page
    assert await counts(ctx) == NOTHING


async def test_a_file_over_the_per_file_limit_is_named_and_the_text_kept(portal):
    client, ctx = portal
    big = b"\xff\xd8\xff" + b"\x00" * (100 * 1024)  # limit 64 KB, under the hard cap
    resp = await post(client, good(await form_token(client)), [("بزرگ.jpg", big, "image/jpeg")])
    page = await resp.text()
    assert resp.status == 400
    assert "پروندهٔ «بزرگ.jpg» بزرگ‌تر از ۶۴ کیلوبایت است" in page
    assert "در باجهٔ ۳ با من بد رفتار شد." in page and 'href="#files"' in page
    assert await counts(ctx) == NOTHING


async def test_100_files_are_refused_with_the_count(portal):
    client, ctx = portal
    files = [(f"{i}.pdf", PDF, "application/pdf") for i in range(100)]
    resp = await post(client, good(await form_token(client)), files)
    page = await resp.text()
    assert resp.status == 400 and "حداکثر 3 پرونده" in page.replace("۳", "3") and "100 پرونده" in page
    assert await counts(ctx) == NOTHING


@pytest.mark.parametrize(
    "name, stored",
    [
        pytest.param("../../etc/passwd.pdf", "passwd.pdf", id="dot-dot"),
        pytest.param("C:\\Windows\\system32\\x.pdf", "C_Windowssystem32x.pdf", id="windows-path"),  # \\W unquotes to W
        pytest.param("/abs/olute.pdf", "olute.pdf", id="absolute"),
        pytest.param("نامه\u202egpj.pdf", "نامهgpj.pdf", id="rlo-override"),
        pytest.param("\u2067report\u2069\u200f.pdf", "report.pdf", id="isolates-and-rlm"),
        pytest.param("a\tb\r\n.pdf", "ab%0D%0A.pdf", id="tab-and-escaped-newline"),
    ],
)
async def test_path_tricks_and_bidi_controls_leave_a_plain_name(portal, name, stored):
    client, ctx = portal
    resp = await post(client, good(await form_token(client)), [(name, PDF, "application/pdf")])
    assert resp.status == 303, await resp.text()
    async with ctx.db.read_session() as s:
        att = (await s.execute(select(Attachment))).scalar_one()
    assert att.filename == stored and att.content_type == "application/pdf"


async def test_a_broken_multipart_body_gets_a_persian_message(portal):
    client, ctx = portal
    body = b'--b\r\nContent-Disposition: form-data; name="files"; filename="a\x00b.pdf"\r\n\r\n%PDF-1.4\r\n--b--\r\n'
    resp = await client.post("/submit", data=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert resp.status == 400 and "به‌درستی به دست ما نرسید" in await resp.text()
    assert await counts(ctx) == NOTHING


async def test_a_disguised_executable_is_refused(portal):
    client, ctx = portal
    exe = b"MZ\x90\x00" + b"\x00" * 500
    for name in ("photo.jpg", "invoice\u202egpj.exe"):  # wrong signature; real extension .exe
        resp = await post(client, good(await form_token(client)), [(name, exe, "image/jpeg")])
        page = await resp.text()
        assert resp.status == 400 and "پذیرفته نیست" in page
        assert "\u202e" not in page
    assert await counts(ctx) == NOTHING


SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&"


async def test_html_and_script_in_every_field_are_kept_as_text_and_shown_escaped(portal):
    client, ctx = portal
    fields = good(await form_token(client), subject=SCRIPT, text=SCRIPT + " متن")
    bad = await post(
        client, {**fields, "email": SCRIPT, "mobile": SCRIPT, "service": SCRIPT, "kind": SCRIPT, "answer": SCRIPT}
    )
    page = await bad.text()
    assert bad.status == 400 and "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    resp = await post(client, fields, [(SCRIPT + ".pdf", PDF, "application/pdf")])
    assert resp.status == 303
    done = await (await client.get(resp.headers["Location"])).text()
    assert "<script>alert" not in done
    async with ctx.db.read_session() as s:
        case = (await s.execute(select(Case))).scalar_one()
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
        att = (await s.execute(select(Attachment))).scalar_one()
    assert case.subject == SCRIPT and msg.text.startswith("<script>alert(1)</script>")
    assert "/" not in att.filename and "<" not in att.filename


async def test_a_forged_token_and_an_expired_one_are_refused_and_the_text_kept(portal):
    client, ctx = portal
    token = await form_token(client)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    resp = await post(client, good(forged))
    page = await resp.text()
    assert resp.status == 400 and "معتبر نیست یا دست‌کاری شده" in page and "در باجهٔ ۳" in page
    old = issue_form_token(ctx.signer, now=time.time() - 2 * 86400)
    resp = await post(client, good(old))
    page = await resp.text()
    assert resp.status == 400 and "مهلت این فرم گذشته است" in page and "در باجهٔ ۳" in page
    fresh = __import__("re").search(r'name="token" value="([^"]+)"', page).group(1)
    assert fresh != old and (await post(client, good(fresh))).status == 303  # the new token works
    assert (await counts(ctx))[0] == 1


async def test_an_expired_token_already_used_shows_its_case(portal):
    client, ctx = portal
    old = issue_form_token(ctx.signer, now=time.time() - 3600)
    assert (await post(client, good(old))).status == 303
    ctx.config.portal.form_token_hours = 0.5  # the same form, now expired, sent again
    again = await post(client, good(old))
    assert again.status == 303 and (await counts(ctx))[0] == 1


async def test_the_honeypot_filled_is_refused(portal):
    client, ctx = portal
    resp = await post(client, good(await form_token(client), website="http://spam.example"))
    page = await resp.text()
    assert resp.status == 400 and "به‌صورت خودکار پر شده" in page
    assert "spam.example" not in page and await counts(ctx) == NOTHING


async def test_the_per_address_limit_stops_the_sixth_submission(portal):
    client, ctx = portal
    for i in range(5):
        resp = await post(client, good(await form_token(client), email=f"u{i}@example.ir"))
        assert resp.status == 303
    resp = await post(client, good(await form_token(client), email="u9@example.ir"))
    page = await resp.text()
    assert resp.status == 429 and "از این نشانی اینترنتی" in page and "در باجهٔ ۳" in page
    assert (await counts(ctx))[0] == 5


async def test_a_resent_form_is_never_refused_by_the_limit(portal):
    client, ctx = portal
    for i in range(5):
        fields = good(await form_token(client), email=f"r{i}@example.ir")
        assert (await post(client, fields)).status == 303
    again = await post(client, fields)  # the fifth form once more, with the window full
    assert again.status == 303 and (await counts(ctx))[0] == 5


async def test_the_per_contact_limit_stops_the_fourth_from_one_email(portal):
    client, ctx = portal
    for _ in range(3):
        assert (await post(client, good(await form_token(client), email="Same@Example.ir"))).status == 303
    resp = await post(client, good(await form_token(client), email="same@example.ir"))
    assert resp.status == 429 and "با این ایمیل یا شماره" in await resp.text()
    assert (await counts(ctx))[0] == 3
