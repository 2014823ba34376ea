"""Follow-up and appeal on /track: after proving the contact (or by the signed link) a
citizen adds information and files (the unit is told by email); after an answer, "I am
not satisfied" reopens the case as an appeal at the appeal unit's supervisor level,
which the console inbox, case page and dashboard show and plain staff no longer see.
Also /contact with its vCards, and service cards that tell the truth."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from gateway.core.access import Viewer
from gateway.core.answers import answer_case
from gateway.core.models import Attachment, AuditEvent, Case, Message, Outbox, Staff
from gateway.core.runtime import running_context
from gateway.web.app import create_app
from tests.test_portal_submit import JPEG, form_token, good, post
from tests.test_staff_support import make_staff

UNITS = [
    {"code": "oversight", "name": "حراست و بازرسی", "email": "oversight@example.ir"},
    {"code": "pr", "name": "روابط عمومی", "email": "pr@example.ir", "appeal_unit": "office"},
    {"code": "roads", "name": "راه و ترابری"},
    {"code": "office", "name": "دفتر مدیرکل", "email": "office@example.ir"},
]
DIRECTORY = [
    {
        "name": "مریم احمدی",
        "role": "مدیرکل",
        "unit": "office",
        "phone": "021-8888 1234",
        "email": "dg@example.ir",
        "address": "تهران، خیابان آزادی، پلاک ۱۲",
        "hours": "شنبه تا چهارشنبه ۸ تا ۱۴",
    },
    {"name": "Reza Karimi; deputy, roads", "role": "معاون راه", "unit": "roads", "phone": "09121112233"},
]


@pytest_asyncio.fixture
async def site(make_config) -> AsyncIterator[tuple[TestClient, Any]]:
    cfg = make_config(
        units=UNITS,
        directory=DIRECTORY,
        services=[
            {
                "code": "20001",
                "title": "ترمیم راه",
                "unit": "roads",
                "sla_days": 15,
                "channels": ["email", "sms", "voice", "web"],
            },
            {"code": "30001", "title": "صدور مجوز", "unit": "pr", "cost": "۵۰۰٬۰۰۰ ریال"},
            {"code": "30002", "title": "گواهی", "unit": "pr", "cost": "0"},
        ],
    )
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        async with TestClient(TestServer(create_app(ctx))) as c:
            yield c, ctx


async def filed(client: TestClient, ctx: Any, **over: str) -> str:
    resp = await post(client, good(await form_token(client), **over))
    assert resp.status == 303
    async with ctx.db.read_session() as s:
        return (await s.execute(select(Case.code).order_by(Case.id.desc()).limit(1))).scalar_one()


async def proved_page(client: TestClient, code: str, contact: str) -> str:
    resp = await client.post("/track", data={"code": code, "contact": contact})
    page = await resp.text()
    assert resp.status == 200 and 'id="followup"' in page
    return page


def hidden(page: str, form_action: str, name: str) -> str:
    form = page[page.index(f'action="{form_action}"') :]
    return re.search(rf'name="{name}" value="([^"]+)"', form).group(1)


async def test_adding_information_and_a_photo_tells_the_unit(site):
    client, ctx = site
    code = await filed(client, ctx)  # a complaint to pr, by ali@example.ir
    bare = await (await client.get(f"/track?code={code}")).text()
    assert 'id="followup"' not in bare  # the code alone does not let anyone add
    page = await proved_page(client, code, "ALI@example.ir")
    fields = {
        "proof": hidden(page, "/track/add", "proof"),
        "token": hidden(page, "/track/add", "token"),
        "text": "شمارهٔ باجه ۳ بود و ساعت ۱۰ صبح.",
    }
    resp = await post(client, fields, [("باجه.jpg", JPEG, "image/jpeg")], path="/track/add")
    assert resp.status == 303
    done = await (await client.get(resp.headers["Location"])).text()
    assert "به واحد رسیدگی خبر داده شد" in done
    again = await post(client, fields, [("باجه.jpg", JPEG, "image/jpeg")], path="/track/add")
    assert again.status == 303  # the same form resent: still one message
    async with ctx.db.read_session() as s:
        msgs = (await s.execute(select(Message).where(Message.direction == "in").order_by(Message.id))).scalars().all()
        notices = (await s.execute(select(Outbox).where(Outbox.purpose == "notice"))).scalars().all()
        atts = (await s.execute(select(Attachment))).scalars().all()
    assert [m.text for m in msgs][1] == "شمارهٔ باجه ۳ بود و ساعت ۱۰ صبح." and len(msgs) == 2
    assert [n.recipient for n in notices] == ["pr@example.ir"] and code in notices[0].text
    assert "باجه ۳" not in notices[0].text  # the notice carries no citizen text
    assert len(atts) == 1


async def test_an_anonymous_reporter_adds_information_with_the_code_alone(site):
    client, ctx = site
    code = await filed(client, ctx, kind="violation_report", email="", answer="code")
    page = await (await client.get(f"/track?code={code}")).text()
    assert 'id="followup"' in page  # no contact to prove: the code is the key
    fields = {
        "proof": hidden(page, "/track/add", "proof"),
        "token": hidden(page, "/track/add", "token"),
        "text": "نام کارمند را هم اضافه می‌کنم.",
    }
    assert (await post(client, fields, path="/track/add")).status == 303
    async with ctx.db.read_session() as s:
        case = (await s.execute(select(Case).where(Case.code == code))).scalar_one()
        notices = (await s.execute(select(Outbox.recipient).where(Outbox.purpose == "notice"))).scalars().all()
    assert (case.unit_code, case.contact) == ("oversight", None) and notices == ["oversight@example.ir"]


async def test_a_forged_proof_is_refused_and_the_text_kept(site):
    client, ctx = site
    code = await filed(client, ctx)
    page = await proved_page(client, code, "ali@example.ir")
    fields = {
        "proof": "x" + hidden(page, "/track/add", "proof"),
        "token": hidden(page, "/track/add", "token"),
        "text": "متن تازه",
    }
    resp = await post(client, fields, path="/track/add")
    assert resp.status == 403 and "تأیید نشد" in await resp.text()


async def test_an_appeal_after_the_answer_reopens_at_the_supervisor_level(site):
    client, ctx = site
    code = await filed(client, ctx)
    await make_staff(ctx, "pr-clerk", "pr")
    await make_staff(ctx, "office-clerk", "office")
    await make_staff(ctx, "office-head", "office", role="supervisor")
    async with ctx.db.read_session() as s:
        staff = {m.name: Viewer.of(m) for m in (await s.execute(select(Staff))).scalars()}
    page = await proved_page(client, code, "ali@example.ir")
    assert 'id="appeal"' not in page  # not answered yet: no appeal form
    await answer_case(ctx, staff["pr-clerk"], code, "رسیدگی شد؛ کارمند تذکر گرفت.", False)
    page = await proved_page(client, code, "ali@example.ir")
    fields = {
        "proof": hidden(page, "/track/appeal", "proof"),
        "token": hidden(page, "/track/appeal", "token"),
        "text": "تذکر کافی نیست؛ رفتار تکرار شد.",
    }
    resp = await post(client, fields, path="/track/appeal")
    assert resp.status == 303
    async with ctx.db.read_session() as s:
        case = (await s.execute(select(Case).where(Case.code == code))).scalar_one()
        events = (await s.execute(select(AuditEvent.action).where(AuditEvent.case_id == case.id))).scalars().all()
        notices = (await s.execute(select(Outbox.recipient).where(Outbox.purpose == "notice"))).scalars().all()
    assert (case.status, case.unit_code, case.appeal_level) == ("routed", "office", "supervisor")
    assert "appealed" in events and notices == ["office@example.ir"]
    from tests.test_staff_console import login

    assert (await login(client, "office-head")).status == 303
    inbox = await (await client.get("/staff/cases?appeal=1")).text()
    assert code in inbox and "اعتراض" in inbox
    detail = await (await client.get(f"/staff/cases/{code}")).text()
    assert 'id="appeal-notice"' in detail and "تذکر کافی نیست" in detail
    dash = await (await client.get("/staff/dashboard")).text()
    assert re.search(r'id="appeal-count">۱<', dash)
    await client.post("/staff/logout", data={})
    client.session.cookie_jar.clear()
    assert (await login(client, "office-clerk")).status == 303
    assert code not in await (await client.get("/staff/cases")).text()  # plain staff: not theirs
    assert (await client.get(f"/staff/cases/{code}")).status == 404


async def test_contact_page_lists_the_directory_with_links_and_vcards(site):
    client, _ = site
    page = await (await client.get("/contact")).text()
    assert "مریم احمدی" in page and "مدیرکل" in page and "دفتر مدیرکل" in page
    assert 'href="tel:+982188881234"' in page and 'href="mailto:dg@example.ir"' in page
    assert 'href="tel:+989121112233"' in page and "شنبه تا چهارشنبه" in page
    card = await client.get("/contact/2.vcf")
    body = (await card.read()).decode()
    assert card.headers["Content-Type"].startswith("text/vcard")
    assert "FN:Reza Karimi\\; deputy\\, roads\r\n" in body and "TEL;VALUE=uri;TYPE=work:tel:+989121112233" in body
    assert (await client.get("/contact/3.vcf")).status == 404
    assert (await client.get("/contact/0.vcf")).status == 404


async def test_service_cards_tell_the_truth(site):
    client, _ = site
    road = await (await client.get("/services/20001")).text()
    assert "رایگان" not in road and "اعلام نشده" in road  # no cost configured: not "free"
    assert "تلفن (صندوق صوتی)" not in road  # voice is off in this gateway
    assert 'href="/submit?service=20001"' in road
    assert "۵۰۰٬۰۰۰ ریال" in await (await client.get("/services/30001")).text()
    assert "رایگان" in await (await client.get("/services/30002")).text()
    form = await (await client.get("/submit?service=20001")).text()
    assert '<option value="20001" selected>' in form
