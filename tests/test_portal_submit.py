"""The e-service desk over HTTP (the real app on a test server): a submission becomes a
web case with its acknowledgement queued on the chosen channel; bad input of every kind
gets a Persian message naming the field, keeps what was typed and stores nothing."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from gateway.core.models import Attachment, Case, InboundKey, Message, Outbox
from gateway.core.runtime import running_context
from gateway.web.app import create_app
from gateway.web.portal.tokens import issue_form_token

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 2000
PORTAL = {
    "max_files": 3,
    "max_file_bytes": 64 * 1024,
    "max_total_bytes": 150 * 1024,
    "per_ip_per_hour": 5,
    "per_contact_per_day": 3,
}


@pytest_asyncio.fixture
async def portal(make_config) -> AsyncIterator[tuple[TestClient, Any]]:
    """A client on the app with small portal limits, and the context."""
    cfg = make_config(portal=PORTAL)
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        async with TestClient(TestServer(create_app(ctx))) as c:
            yield c, ctx


async def form_token(client: TestClient, path: str = "/submit") -> str:
    page = await (await client.get(path)).text()
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def multipart(fields: dict[str, str], files=()) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser writes it (raw UTF-8 names, ``"`` as %22)."""
    boundary = "----portaltest" + uuid.uuid4().hex
    out = bytearray()
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode()
        out += v.encode() + b"\r\n"
    for name, data, ctype in files:
        quoted = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{quoted}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def good(token: str, **over: str) -> dict[str, str]:
    return {
        "token": token,
        "kind": "complaint",
        "service": "",
        "subject": "برخورد نامناسب",
        "text": "در باجهٔ ۳ با من بد رفتار شد.",
        "email": "ali@example.ir",
        "mobile": "",
        "answer": "email",
        "website": "",
        **over,
    }


async def counts(ctx) -> tuple[int, int, int, int]:
    async with ctx.db.read_session() as s:
        return tuple(
            [
                (await s.execute(select(func.count()).select_from(t))).scalar_one()
                for t in (Case, Message, Attachment, Outbox)
            ]
        )


async def post(client: TestClient, fields: dict[str, str], files=(), path: str = "/submit") -> aiohttp.ClientResponse:
    body, ctype = multipart(fields, files)
    return await client.post(path, data=io.BytesIO(body), headers={"Content-Type": ctype}, allow_redirects=False)


async def test_a_complaint_with_a_photo_becomes_a_web_case_with_an_email_ack(portal):
    client, ctx = portal
    token = await form_token(client)
    resp = await post(client, good(token, service="20001"), [("عکس باجه.jpg", JPEG, "image/jpeg")])
    assert resp.status == 303, await resp.text()
    done = await client.get(resp.headers["Location"])
    page = await done.text()
    code = re.search(r'id="tracking-code"[^>]*>([^<]+)<', page).group(1)
    async with ctx.db.read_session() as s:
        case = (await s.execute(select(Case))).scalar_one()
        [att] = (await s.execute(select(Attachment))).scalars().all()
        [ack] = (await s.execute(select(Outbox))).scalars().all()
    assert code == case.code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert (case.channel, case.kind, case.contact, case.unit_code) == ("web", "complaint", "ali@example.ir", "roads")
    assert (att.filename, att.content_type) == ("عکس باجه.jpg", "image/jpeg")
    assert (ack.channel, ack.purpose, ack.recipient) == ("email", "ack", "ali@example.ir")
    assert case.code in ack.text or case.code in ack.subject
    assert "به ایمیل شما" in page and 'href="/track?code=' + case.code in page


async def test_sms_choice_acks_by_sms_and_code_choice_keeps_no_contact(portal):
    client, ctx = portal
    resp = await post(client, good(await form_token(client), mobile="۰۹۱۲ ۱۲۳ ۴۵۶۷", email="", answer="sms"))
    assert resp.status == 303
    resp = await post(client, good(await form_token(client), mobile="09121234567", answer="code"))
    assert resp.status == 303
    async with ctx.db.read_session() as s:
        cases = (await s.execute(select(Case).order_by(Case.id))).scalars().all()
        acks = (await s.execute(select(Outbox))).scalars().all()
    assert [c.contact for c in cases] == ["+989121234567", None]
    assert cases[1].anonymous
    assert [(a.channel, a.recipient) for a in acks] == [("sms", "+989121234567")]


async def test_double_submit_and_replay_give_the_same_case(portal):
    client, ctx = portal
    fields = good(await form_token(client))
    first = await post(client, fields)
    second = await post(client, {**fields, "text": "متن دیگر"})  # a replay of the same token
    assert first.status == second.status == 303
    page = await (await client.get(second.headers["Location"])).text()
    assert "پیش‌تر ثبت شده بود" in page
    assert (await counts(ctx))[0] == 1


async def test_an_anonymous_violation_report_goes_to_oversight_only(portal):
    client, ctx = portal
    page = await (await client.get("/report-violation")).text()
    assert "حراست و بازرسی" in page and "بی‌نام" in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    resp = await post(client, good(token, kind="violation_report", page="violation", email="", answer="code"))
    assert resp.status == 303
    async with ctx.db.read_session() as s:
        case = (await s.execute(select(Case))).scalar_one()
    assert (case.kind, case.unit_code, case.confidential, case.contact) == ("violation_report", "oversight", True, None)
    assert (await counts(ctx))[3] == 0  # nothing to acknowledge to


BAD_FIELDS = [
    pytest.param({"kind": ""}, "kind-request", "نوع پیام را انتخاب کنید", id="no-kind"),
    pytest.param({"subject": ""}, "subject", "موضوع را بنویسید", id="no-subject"),
    pytest.param({"text": "   "}, "text", "متن پیام را بنویسید", id="no-text"),
    pytest.param({"email": "not-an-email"}, "email", "نشانی ایمیل درست نیست", id="bad-email"),
    pytest.param(
        {"mobile": "12345", "answer": "sms", "email": ""}, "mobile", "شمارهٔ تلفن همراه درست نیست", id="bad-mobile"
    ),
    pytest.param({"answer": "sms", "mobile": ""}, "mobile", "با پیامک", id="sms-without-mobile"),
    pytest.param({"answer": ""}, "answer-email", "نحوهٔ دریافت پاسخ", id="no-answer-choice"),
    pytest.param({"service": "999"}, "service", "خدمت انتخاب‌شده", id="unknown-service"),
]


@pytest.mark.parametrize("over, field, message", BAD_FIELDS)
async def test_a_bad_field_is_named_and_what_was_typed_is_kept(portal, over, field, message):
    client, ctx = portal
    fields = good(await form_token(client), **over)
    resp = await post(client, fields)
    page = await resp.text()
    assert resp.status == 400
    assert f'<a href="#{field}">' in page and message in page
    kept = "برخورد نامناسب" if field == "text" else "در باجهٔ ۳ با من بد رفتار شد."
    assert kept in page  # what was typed is still there
    assert f'id="{field}-error"' in page
    assert await counts(ctx) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "over, consented",
    [
        pytest.param({"consent": "1"}, True, id="consented-with-contact"),
        pytest.param({}, False, id="no-box-ticked"),
        pytest.param({"consent": "1", "answer": "code", "email": ""}, False, id="anonymous-has-no-identity"),
        pytest.param({"consent": "1", "kind": "complaint"}, False, id="only-violation-reports"),
    ],
)
async def test_a_violation_reporter_may_consent_to_be_named_to_external_oversight(portal, over, consented):
    client, ctx = portal
    token = await form_token(client, "/submit")
    resp = await post(client, good(token, **{"kind": "violation_report", **over}))
    assert resp.status == 303, await resp.text()
    async with ctx.db.read_session() as s:
        case = (await s.execute(select(Case))).scalar_one()
    assert case.reporter_consent is consented


async def test_the_consent_box_is_kept_after_an_error(portal):
    client, _ctx = portal
    token = await form_token(client, "/submit")
    resp = await post(client, good(token, kind="violation_report", consent="1", subject=""))
    page = await resp.text()
    assert resp.status == 400 and re.search(r'id="consent"[^>]*checked', page)
