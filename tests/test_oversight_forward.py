"""Forwarding a violation report to an external oversight body, end to end with real SMTP:
smtplib -> our SMTP server -> violation report; oversight staff forward it over the API;
the dispatcher relays the forward and the citizen's notice to a real SMTP sink; the
body's reply comes back through our SMTP server and threads onto the case."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from gateway.channels.email import create
from gateway.core.config import Config
from gateway.core.models import AuditEvent, Case, Message
from gateway.core.models_oversight import Forward
from gateway.core.runtime import running_context
from gateway.web.app import create_app
from tests.peers.smtp_sink import SmtpSink
from tests.test_email_smtp import send
from tests.test_staff_support import auth, make_staff

REPORTER, REPORTER_NAME = "ali.rezaei@citizen.example", "Ali Rezaei"
BODY = {"code": "inspection", "name": "سازمان بازرسی کل کشور", "email": "cases@bazresi.example"}
PDF = b"%PDF-1.4\n% evidence\n" + b"0" * 500


def report_mail(**headers: str) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"] = f"{REPORTER_NAME} <{REPORTER}>", "violations@example.ir"
    m["Subject"] = "گزارش تخلف"
    for k, v in headers.items():
        m[k] = v
    m.set_content(f"کارمند باجه ۳ برای کار من رشوه خواست.\n{REPORTER_NAME}\n{REPORTER}")
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="receipt.pdf")
    return m


@pytest_asyncio.fixture
async def office(make_config: Callable[..., Config], sink: SmtpSink) -> AsyncIterator[tuple]:
    def build(**oversight: object):
        return make_config(
            email={
                "smtp": {
                    "port": 0,
                    "addresses": ["feedback@example.ir", "violations@example.ir"],
                    "aliases": {"violations@example.ir": {"kind": "violation_report"}},
                },
                "outbound": {"host": "127.0.0.1", "port": sink.port},
            },
            oversight={
                "external": [
                    BODY,
                    {"code": "court", "name": "دیوان محاسبات", "email": "x@court.example", "accepts": ["complaint"]},
                ],
                **oversight,
            },
        )

    yield build


async def run_office(config: Config):
    ctx_manager = running_context(config, migrate=False, dispatch=True)
    ctx = await ctx_manager.__aenter__()
    plugin = create(ctx)
    await plugin.start()
    client = TestClient(TestServer(create_app(ctx), host="127.0.0.1"))
    await client.start_server()

    async def close() -> None:
        await client.close()
        await plugin.stop()
        await ctx_manager.__aexit__(None, None, None)

    return ctx, plugin, client, close


async def submit_report(ctx, plugin, consent: bool = False) -> Case:
    """The report arrives over SMTP; consent is given on the web desk only, so it is set here."""
    before = len(await _cases(ctx))
    await asyncio.to_thread(send, plugin.smtp.port, report_mail())
    await plugin.drainer.run_once()
    cases = await _cases(ctx)
    assert len(cases) == before + 1
    case = cases[-1]
    if consent:
        async with ctx.db.session() as s:
            (await s.get(Case, case.id)).reporter_consent = True
    return case


async def _cases(ctx) -> list[Case]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(Case).order_by(Case.id))).scalars())


def to(sink: SmtpSink, address: str) -> list[EmailMessage]:
    return [m for m in sink.messages if address in str(m["To"])]


async def test_forward_withholds_the_reporter_and_the_reply_threads(office, sink):
    ctx, plugin, client, close = await run_office(office())
    try:
        inspector = await make_staff(ctx, "inspector", "oversight", "oversight")
        plain = await make_staff(ctx, "plain", "oversight", "staff")
        case = await submit_report(ctx, plugin)
        assert case.kind == "violation_report"
        path = f"/api/v1/cases/{case.code}/forward"
        refused = await client.post(path, json={"body": "inspection"}, headers=auth(plain))
        assert refused.status == 404  # plain staff do not even see violation reports
        wrong = await client.post(path, json={"body": "court"}, headers=auth(inspector))
        assert (await wrong.json())["error"]["code"] == "forbidden_for_kind"
        resp = await client.post(path, json={"body": "inspection", "note": "فوری"}, headers=auth(inspector))
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["reporter_revealed"] is False
        await sink.wait_for(3)  # the acknowledgement, the forward, the citizen's notice
        (forward,) = to(sink, BODY["email"])
        raw = forward.as_bytes().decode("utf-8", "replace")
        assert f"[#{case.code}]" in str(forward["Subject"])
        text = forward.get_body(("plain",)).get_content()
        assert case.code in text and "فوری" in text and "رشوه" in text
        assert REPORTER not in raw and REPORTER_NAME not in raw and "ali.rezaei" not in raw
        (pdf,) = [p for p in forward.iter_attachments()]
        assert pdf.get_filename() == "receipt.pdf" and pdf.get_content() == PDF
        notices = [m for m in to(sink, REPORTER) if "فرستاده شد" in m.get_body(("plain",)).get_content()]
        assert len(notices) == 1 and BODY["name"] in notices[0].get_body(("plain",)).get_content()

        reply = EmailMessage()
        reply["From"], reply["To"] = f"بازرسی <{BODY['email']}>", "feedback@example.ir"
        reply["Subject"] = f"Re: {forward['Subject']}"
        reply["In-Reply-To"], reply["References"] = forward["Message-ID"], forward["Message-ID"]
        reply.set_content("گزارش دریافت شد و بررسی آغاز شد.")
        await asyncio.to_thread(send, plugin.smtp.port, reply, BODY["email"])
        await plugin.drainer.run_once()
        assert len(await _cases(ctx)) == 1  # threaded, not a new case
        async with ctx.db.session() as s:
            last = (
                (await s.execute(select(Message).where(Message.case_id == case.id).order_by(Message.id.desc())))
                .scalars()
                .first()
            )
            fwd = (await s.execute(select(Forward))).scalar_one()
            actions = [
                a
                for (a,) in (
                    await s.execute(
                        select(AuditEvent.action).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)
                    )
                ).all()
            ]
        assert "بررسی آغاز شد" in last.text and last.meta["purpose"] == "external_reply"
        assert fwd.replied_at is not None and fwd.body_code == "inspection"
        assert "forwarded" in actions and "external_reply" in actions and "reopened" not in actions
        detail = await (await client.get(f"/api/v1/cases/{case.code}", headers=auth(inspector))).json()
        assert [f["body"] for f in detail["forwards"]] == ["inspection"]
        await asyncio.sleep(0.3)  # the dispatcher would have sent anything queued by the reply
        assert not to(sink, BODY["email"])[1:], "the body got no acknowledgement of its reply"
    finally:
        await close()


async def test_consent_on_submission_reveals_the_reporter(office, sink):
    ctx, plugin, client, close = await run_office(office())
    try:
        inspector = await make_staff(ctx, "inspector", "oversight", "oversight")
        case = await submit_report(ctx, plugin, consent=True)
        resp = await client.post(
            f"/api/v1/cases/{case.code}/forward", json={"body": "inspection"}, headers=auth(inspector)
        )
        assert (await resp.json())["reporter_revealed"] is True
        await sink.wait_for(3)
        (forward,) = to(sink, BODY["email"])
        assert REPORTER in forward.get_body(("plain",)).get_content()
    finally:
        await close()


async def test_the_citizen_is_told_without_the_bodys_name_when_configured(office, sink):
    ctx, plugin, client, close = await run_office(office(name_body_to_citizen=False))
    try:
        inspector = await make_staff(ctx, "inspector", "oversight", "oversight")
        case = await submit_report(ctx, plugin)
        await client.post(f"/api/v1/cases/{case.code}/forward", json={"body": "inspection"}, headers=auth(inspector))
        await sink.wait_for(3)
        notice = [
            m.get_body(("plain",)).get_content()
            for m in to(sink, REPORTER)
            if "نهاد نظارتی" in m.get_body(("plain",)).get_content()
        ]
        assert len(notice) == 1 and BODY["name"] not in notice[0]
    finally:
        await close()


async def test_console_forward_form_for_oversight(office, sink):
    from tests.test_staff_console import csrf_of, login

    ctx, plugin, client, close = await run_office(office())
    try:
        await make_staff(ctx, "inspector", "oversight", "oversight")
        case = await submit_report(ctx, plugin)
        await login(client, "inspector")
        page = await (await client.get(f"/staff/cases/{case.code}")).text()
        assert f'action="/staff/cases/{case.code}/forward"' in page and BODY["name"] in page
        token = await csrf_of(client, f"/staff/cases/{case.code}")
        resp = await client.post(
            f"/staff/cases/{case.code}/forward",
            data={"csrf": token, "body": "inspection", "note": ""},
            allow_redirects=False,
        )
        assert resp.status == 303
        page = await (await client.get(resp.headers["Location"])).text()
        assert 'id="forwards"' in page and BODY["name"] in page
    finally:
        await close()


@pytest.mark.parametrize("body", ["nowhere", None])
async def test_unknown_body_is_a_clear_error(office, sink, body):
    ctx, plugin, client, close = await run_office(office())
    try:
        inspector = await make_staff(ctx, "inspector", "oversight", "oversight")
        case = await submit_report(ctx, plugin)
        resp = await client.post(f"/api/v1/cases/{case.code}/forward", json={"body": body}, headers=auth(inspector))
        assert resp.status == 422 and (await resp.json())["error"]["code"] == "unknown_body"
    finally:
        await close()
