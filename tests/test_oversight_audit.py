"""Audit and sessions: console sessions end at once on passwd, revoke and deactivate;
logins, confidential views, downloads and exports are in the audit; ``gateway audit``
and the console's audit page."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from gateway.core import staff
from gateway.core.messages import Channel, InboundAttachment, Kind
from gateway.core.models import AuditEvent
from tests.test_cli import conf, gateway
from tests.test_staff_console import login
from tests.test_staff_support import PASSWORD, auth, make_staff, staff_client, submit

pytestmark = pytest.mark.usefixtures("staff_client")


async def events(ctx, action: str | None = None) -> list[AuditEvent]:
    async with ctx.db.session() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        return list((await s.execute(stmt)).scalars())


async def logged_in(client) -> bool:
    resp = await client.get("/staff/cases", allow_redirects=False)
    assert resp.status in (200, 303)
    return resp.status == 200


async def _passwd(ctx, token):
    await staff.set_password(ctx.db, "maryam", "another long password")


async def _revoke_all(ctx, token):
    assert await staff.revoke_all_tokens(ctx.db, "maryam") == 1


async def _revoke_one(ctx, token):
    assert await staff.revoke_token(ctx.db, token)


async def _deactivate(ctx, token):
    await staff.deactivate_staff(ctx.db, "maryam")


@pytest.mark.parametrize(
    "change, action",
    [
        pytest.param(_passwd, "password_set", id="passwd"),
        pytest.param(_revoke_all, "tokens_revoked", id="revoke-all"),
        pytest.param(_revoke_one, "tokens_revoked", id="revoke-token"),
        pytest.param(_deactivate, "staff_deactivated", id="deactivate"),
    ],
)
async def test_console_session_ends_at_once(ctx, staff_client, change, action):
    token = await make_staff(ctx, "maryam", "pr")
    await make_staff(ctx, "reza", "pr")
    assert (await login(staff_client, "maryam")).status == 303
    assert await logged_in(staff_client)
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.web.app import create_app

    async with TestClient(TestServer(create_app(ctx), host="127.0.0.1")) as other:
        assert (await login(other, "reza")).status == 303
        await change(ctx, token)
        assert not await logged_in(staff_client)  # the very next request
        assert await logged_in(other)  # another member keeps their session
    last = (await events(ctx, action))[-1]
    assert (last.actor, last.detail["name"]) == ("cli", "maryam")


async def test_deactivate_on_the_command_line_ends_the_session(ctx, staff_client, conf):
    await make_staff(ctx, "maryam", "pr")
    await login(staff_client, "maryam")
    assert await logged_in(staff_client)
    r = gateway("--config", conf(), "staff", "deactivate", "maryam")
    assert r.returncode == 0, r.stderr
    assert not await logged_in(staff_client)
    assert (await login(staff_client, "maryam")).status == 401  # and cannot log in again
    missing = gateway("--config", conf(), "staff", "deactivate", "nobody")
    assert missing.returncode == 3 and "no staff member" in missing.stderr


async def test_logins_are_audited_without_what_was_typed_for_unknown_names(ctx, staff_client):
    await make_staff(ctx, "maryam", "pr")
    assert (await login(staff_client, "maryam", "wrong password")).status == 401
    assert (await login(staff_client, "my secret password")).status == 401  # typed into "name"
    assert (await login(staff_client, "maryam")).status == 303
    got = [(e.actor, e.action, e.detail.get("name")) for e in await events(ctx) if e.action.startswith("login")]
    assert got == [
        ("anonymous", "login_failed", "maryam"),
        ("anonymous", "login_failed", None),
        ("staff:maryam", "login", None),
    ]
    assert all(e.detail["ip"] == "127.0.0.1" for e in await events(ctx) if e.action.startswith("login"))
    assert "my secret" not in repr([e.detail for e in await events(ctx)])


async def test_views_of_confidential_cases_downloads_and_exports_are_audited(ctx, staff_client):
    inspector = await make_staff(ctx, "inspector", "oversight", "oversight")
    plain = await make_staff(ctx, "plain", "pr", "supervisor")
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24
    report = (
        await submit(
            ctx,
            "گزارش تخلف: رشوه",
            kind=Kind.VIOLATION_REPORT,
            channel=Channel.VOICE,
            attachments=[InboundAttachment("msg.wav", "audio/wav", wav)],
        )
    ).case_code
    ordinary = (await submit(ctx, "درخواست کارت", sender="+989120000009")).case_code
    detail = await (await staff_client.get(f"/api/v1/cases/{report}", headers=auth(inspector))).json()
    await staff_client.get(f"/api/v1/cases/{ordinary}", headers=auth(plain))
    att = detail["messages"][0]["attachments"][0]["id"]
    assert (await staff_client.get(f"/api/v1/cases/{report}/attachments/{att}", headers=auth(inspector))).status == 200
    await login(staff_client, "inspector")
    assert (await staff_client.get(f"/staff/cases/{report}")).status == 200
    assert (await staff_client.get("/staff/dashboard.csv")).status == 200
    assert (await staff_client.get("/api/v1/reports?format=csv", headers=auth(plain))).status == 200
    got = [
        (e.actor, e.action, e.detail.get("via") or e.detail.get("what"))
        for e in await events(ctx)
        if e.action in ("case_viewed", "attachment_downloaded", "exported")
    ]
    assert got == [
        ("staff:inspector", "case_viewed", "api"),
        ("staff:inspector", "attachment_downloaded", None),
        ("staff:inspector", "case_viewed", "console"),
        ("staff:inspector", "exported", "dashboard"),
        ("staff:plain", "exported", "report"),
    ]


async def test_gateway_audit_filters_and_csv(ctx, staff_client, conf):
    await make_staff(ctx, "maryam", "pr")
    await login(staff_client, "maryam", "wrong password")
    await login(staff_client, "maryam")
    r = gateway("--config", conf(), "audit", "--action", "login_failed", "--csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["actor"], x["action"]) for x in rows] == [("anonymous", "login_failed")]
    assert "name=maryam" in rows[0]["detail"]
    table = gateway("--config", conf(), "audit", "--actor", "cli")
    assert "staff_added" in table.stdout and "password_set" in table.stdout and "login" not in table.stdout
    assert [e.detail["what"] for e in await events(ctx, "exported")] == ["audit"]
    bad = gateway("--config", conf(), "audit", "--case", "1234567890")
    assert bad.returncode == 2 and "tracking code" in bad.stderr


async def test_console_audit_page_is_for_oversight_only(ctx, staff_client):
    await make_staff(ctx, "inspector", "oversight", "oversight")
    await make_staff(ctx, "plain", "pr")
    await login(staff_client, "plain")
    assert (await staff_client.get("/staff/audit")).status == 403
    await login(staff_client, "inspector")
    page = await (await staff_client.get("/staff/audit?action=login")).text()
    assert "<td><bdi>inspector</bdi></td>" in page and "<td><bdi>plain</bdi></td>" in page
    assert page.count('<span dir="ltr">login</span>') == 2 and ">login_failed<" not in page
    resp = await staff_client.get("/staff/audit.csv?action=login")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert [e.detail["what"] for e in await events(ctx, "exported")] == ["audit"]
