"""The staff JSON API: unit isolation, tokens, validation errors, OpenAPI, filters."""

from __future__ import annotations

import pytest

from gateway.core.messages import Channel, InboundAttachment, Kind
from gateway.core.staff import revoke_all_tokens, revoke_token
from gateway.web.api import ROUTES
from tests.test_staff_support import auth, make_staff, staff_client, submit

pytestmark = pytest.mark.usefixtures("staff_client")


async def test_unit_isolation_other_units_case_is_404_and_cannot_be_answered(ctx, staff_client):
    pr = await make_staff(ctx, "pr-staff", "pr")
    roads_case = (await submit(ctx, "جاده روستای ما خراب است")).case_code  # routed to roads
    own_case = (await submit(ctx, "سلام، درخواست کارت دارم", sender="+989120000001")).case_code
    listed = await (await staff_client.get("/api/v1/cases", headers=auth(pr))).json()
    assert [c["code"] for c in listed["cases"]] == [own_case]
    for method, path, body in [
        ("GET", f"/api/v1/cases/{roads_case}", None),
        ("POST", f"/api/v1/cases/{roads_case}/answer", {"text": "x"}),
        ("POST", f"/api/v1/cases/{roads_case}/notes", {"text": "x"}),
        ("POST", f"/api/v1/cases/{roads_case}/assign", {"unit": "pr"}),
    ]:
        resp = await staff_client.request(method, path, json=body, headers=auth(pr))
        assert resp.status == 404, path
        assert (await resp.json())["error"]["code"] == "not_found"
    roads = await make_staff(ctx, "roads-staff", "roads")
    detail = await (await staff_client.get(f"/api/v1/cases/{roads_case}", headers=auth(roads))).json()
    assert detail["status"] == "routed"  # untouched by the refused answer


@pytest.mark.parametrize(
    "role, unit, sees, sees_reporter",
    [
        pytest.param("oversight", "oversight", True, True, id="oversight-role-sees-reporter"),
        pytest.param("staff", "oversight", False, False, id="oversight-unit-plain-staff-404"),
        pytest.param("supervisor", "pr", False, False, id="other-unit-supervisor-404"),
        pytest.param("admin", "oversight", False, False, id="admin-404"),
    ],
)
async def test_violation_reports_only_for_oversight(ctx, staff_client, role, unit, sees, sees_reporter):
    token = await make_staff(ctx, f"{role}-{unit}", unit, role)
    code = (await submit(ctx, "گزارش تخلف: کارمند رشوه خواست", kind=Kind.VIOLATION_REPORT)).case_code
    resp = await staff_client.get(f"/api/v1/cases/{code}", headers=auth(token))
    assert resp.status == (200 if sees else 404)
    if sees:
        data = await resp.json()
        assert data["kind"] == "violation_report" and data["unit"] == "oversight"
        assert (data["contact"] == "+989121234567") is sees_reporter
        assert data["messages"][0]["sender"] == "+989121234567"


async def test_revoked_token_is_refused(ctx, staff_client):
    token = await make_staff(ctx, "revoked", "pr")
    assert (await staff_client.get("/api/v1/me", headers=auth(token))).status == 200
    assert await revoke_token(ctx.db, token)
    resp = await staff_client.get("/api/v1/cases", headers=auth(token))
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_revoke_all_tokens_of_a_member(ctx, staff_client):
    token = await make_staff(ctx, "leaver", "pr")
    assert await revoke_all_tokens(ctx.db, "leaver") == 1
    assert (await staff_client.get("/api/v1/me", headers=auth(token))).status == 401


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Bearer nope"}, id="unknown-token"),
        pytest.param({"Authorization": "Basic dTpw"}, id="basic-scheme"),
    ],
)
async def test_missing_or_bad_credentials(staff_client, headers):
    resp = await staff_client.get("/api/v1/cases", headers=headers)
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "path, body, status, code",
    [
        pytest.param("answer", {}, 422, "validation_error", id="answer-missing-text"),
        pytest.param("answer", {"text": "   "}, 422, "validation_error", id="answer-blank-text"),
        pytest.param("answer", {"text": 5}, 422, "validation_error", id="answer-text-not-string"),
        pytest.param("answer", {"text": "x" * 10001}, 422, "validation_error", id="answer-too-long"),
        pytest.param("answer", {"text": "ok", "close": "yes"}, 422, "validation_error", id="close-not-bool"),
        pytest.param("answer", "[1, 2]", 400, "invalid_json", id="answer-array-body"),
        pytest.param("answer", "{not json", 400, "invalid_json", id="answer-broken-json"),
        pytest.param("notes", {"text": ""}, 422, "validation_error", id="note-empty"),
        pytest.param("assign", {}, 422, "validation_error", id="assign-no-unit"),
        pytest.param("assign", {"unit": "nowhere"}, 422, "unknown_unit", id="assign-unknown-unit"),
        pytest.param("kind", {"kind": "praise"}, 422, "validation_error", id="kind-unknown"),
    ],
)
async def test_validation_errors(ctx, staff_client, path, body, status, code):
    token = await make_staff(ctx, "validator", "pr")
    case = (await submit(ctx, "درخواست دارم")).case_code
    url = f"/api/v1/cases/{case}/{path}"
    if isinstance(body, str):
        resp = await staff_client.post(url, data=body, headers={**auth(token), "Content-Type": "application/json"})
    else:
        resp = await staff_client.post(url, json=body, headers=auth(token))
    assert resp.status == status
    err = (await resp.json())["error"]
    assert err["code"] == code and err["message"]


@pytest.mark.parametrize(
    "query", ["status=open", "kind=praise", "channel=fax", "limit=0", "limit=500", "overdue=maybe", "cursor=%%%"]
)
async def test_bad_list_filters(ctx, staff_client, query):
    token = await make_staff(ctx, "filterer", "pr")
    resp = await staff_client.get(f"/api/v1/cases?{query}", headers=auth(token))
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "validation_error"


async def test_unknown_route_and_method_are_json_errors(ctx, staff_client):
    token = await make_staff(ctx, "prober", "pr")
    resp = await staff_client.get("/api/v1/nothing", headers=auth(token))
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    resp = await staff_client.delete("/api/v1/cases", headers=auth(token))
    assert resp.status == 405 and (await resp.json())["error"]["code"] == "method_not_allowed"


async def test_openapi_lists_exactly_the_implemented_routes(staff_client):
    doc = await (await staff_client.get("/api/v1/openapi.json")).json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    mounted = {
        (r.method, r.resource.canonical)
        for r in staff_client.app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/") and r.method != "HEAD"
    }
    assert documented == mounted
    assert {(r.method, r.path) for r in ROUTES} <= documented  # ours in detail, others too
    assert doc["openapi"].startswith("3.1")
    for path, ops in doc["paths"].items():  # every path parameter is declared
        for op in ops.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(part[1:-1] for part in path.split("/") if part.startswith("{"))


async def test_filters_search_and_pagination(ctx, staff_client):
    token = await make_staff(ctx, "searcher", "pr")
    codes = [
        (await submit(ctx, f"پیشنهاد شماره {i} برای سامانه", sender=f"+98912000010{i}")).case_code for i in range(5)
    ]
    email_case = (
        await submit(ctx, "شكايت از كارمند باجه", channel=Channel.EMAIL, sender="citizen@example.com")
    ).case_code  # Arabic ي/ك
    h = auth(token)
    found = await (await staff_client.get("/api/v1/cases", params={"q": "شکایت از کارمند"}, headers=h)).json()
    assert [c["code"] for c in found["cases"]] == [email_case]
    persian_code = email_case.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    by_code = await (await staff_client.get("/api/v1/cases", params={"q": persian_code}, headers=h)).json()
    assert [c["code"] for c in by_code["cases"]] == [email_case]
    sms = await (await staff_client.get("/api/v1/cases", params={"channel": "sms", "limit": "2"}, headers=h)).json()
    seen = [c["code"] for c in sms["cases"]]
    while sms["next_cursor"]:
        sms = await (
            await staff_client.get(
                "/api/v1/cases", headers=h, params={"channel": "sms", "limit": "2", "cursor": sms["next_cursor"]}
            )
        ).json()
        seen += [c["code"] for c in sms["cases"]]
    assert sorted(seen) == sorted(codes) and len(seen) == 5


async def test_attachment_download(ctx, staff_client):
    token = await make_staff(ctx, "listener", "pr")
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24
    res = await submit(
        ctx,
        "پیام صوتی",
        channel=Channel.VOICE,
        sender="+982188888888",
        attachments=[InboundAttachment("msg.wav", "audio/wav", wav)],
    )
    detail = await (await staff_client.get(f"/api/v1/cases/{res.case_code}", headers=auth(token))).json()
    att = detail["messages"][0]["attachments"][0]
    resp = await staff_client.get(f"/api/v1/cases/{res.case_code}/attachments/{att['id']}", headers=auth(token))
    assert resp.status == 200 and await resp.read() == wav
    assert resp.headers["Content-Type"] == "audio/wav"
    other = await make_staff(ctx, "other-unit", "roads")
    resp = await staff_client.get(f"/api/v1/cases/{res.case_code}/attachments/{att['id']}", headers=auth(other))
    assert resp.status == 404


async def test_reports_for_supervisors_only(ctx, staff_client):
    staff = await make_staff(ctx, "plain", "pr")
    sup = await make_staff(ctx, "boss", "pr", "supervisor")
    await submit(ctx, "پیشنهاد دارم")
    await submit(ctx, "شکایت دارم", channel=Channel.EMAIL, sender="a@example.com")
    assert (await staff_client.get("/api/v1/reports", headers=auth(staff))).status == 403
    data = await (await staff_client.get("/api/v1/reports", headers=auth(sup))).json()
    assert data["total"] == 2 and data["by_channel"] == {"email": 1, "sms": 1}
    csv_text = await (await staff_client.get("/api/v1/reports?format=csv", headers=auth(sup))).text()
    assert csv_text.splitlines()[0] == "scope,section,key,value"
    assert "pr,cases,total,2" in csv_text
