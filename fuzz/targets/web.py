"""Citizen forms through HTTP on a running gateway: the tracking page (code, contact,
signed link), the survey forms (a real invitation's token, and forged ones) and the
portal's e-service desk form (/submit, with files)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select

from fuzz.harness import AppEnv, target
from gateway.core.messages import Channel, InboundMessage
from gateway.core.models import Case
from gateway.core.surveys import SURVEY_QUESTIONS, create_invitation

SHORT = st.one_of(st.text(max_size=60), st.sampled_from(["1", "5", "0", "6", "¹", "٣", "۵", " 3 ", "-1", "yes", "1e3"]))
CODES = st.one_of(st.text(st.sampled_from("0123456789۰۱۲۳۴۵۶۷۸۹- \u200c"), max_size=16), st.text(max_size=20))
_TOKENS: dict[int, str] = {}


async def real_token(env: AppEnv) -> str:
    """The token of one answered case's survey invitation (made once per gateway)."""
    if id(env) not in _TOKENS:
        result = await env.ctx.intake.submit(
            InboundMessage(
                Channel.EMAIL, "چراغ کوچه خاموش است", external_id="f-1", provider="fuzz", sender="citizen@example.ir"
            )
        )
        async with env.ctx.db.session() as s:
            case = (await s.execute(select(Case).where(Case.code == result.case_code))).scalar_one()
            case.status = "answered"
            invitation = await create_invitation(s, env.ctx, case)
            assert invitation is not None
            _TOKENS[id(env)] = invitation.token
    return _TOKENS[id(env)]


@target("web.track.http", st.tuples(st.booleans(), CODES, SHORT, SHORT), config={"web": {"track_burst": 1_000_000}})
async def track_http(case: tuple[bool, str, str, str], env: AppEnv) -> None:
    post, code, contact, link = case
    if post:
        r = await env.client.post("/track", data={"code": code, "contact": contact, "t": link})
    else:
        r = await env.client.get("/track", params={"code": code, "t": link})
    await r.read()
    assert r.status < 500, r.status


SURVEY_FORMS = st.dictionaries(
    st.sampled_from([*SURVEY_QUESTIONS, "improper_request", "comment", "x"]), SHORT, max_size=8
)


@target("web.survey.http", st.tuples(st.booleans(), SURVEY_FORMS, st.text(max_size=40)))
async def survey_http(case: tuple[bool, dict[str, Any], str], env: AppEnv) -> None:
    """The first full answer is stored; every other post is a form error or "answered"."""
    genuine, form, forged = case
    token = await real_token(env) if genuine else forged.replace("/", "") or "x"
    r = await env.client.post(f"/s/{token}", data=form)
    await r.read()
    assert r.status < 500, r.status


VISIT = re.compile(r'name="visit" value="([^"]*)"')
OPEN_PATHS = st.sampled_from(
    ["/survey", "/survey/service/10011003113", "/survey/unit/oversight", "/survey/unit/nowhere", "/survey?kiosk=1"]
)


@target(
    "web.open_survey.http",
    st.tuples(
        OPEN_PATHS, st.booleans(), SURVEY_FORMS, st.dictionaries(st.sampled_from(["staff", "visit"]), SHORT, max_size=2)
    ),
    config={
        "survey": {"open_per_client_per_hour": 1_000_000},
        "services": [{"code": "10011003113", "title": "شکایات", "unit": "oversight"}],
    },
)
async def open_survey_http(case: tuple[str, bool, dict[str, Any], dict[str, str]], env: AppEnv) -> None:
    """The open survey forms (Article 9(5)): a fresh form's visit token or a forged one,
    any answers and desk code."""
    path, fresh, form, extra = case
    data = {**form, **extra}
    if fresh:
        page = await env.client.get(path)
        found = VISIT.search(await page.text())
        if found:
            data["visit"] = found.group(1)
    r = await env.client.post(path, data=data)
    await r.read()
    assert r.status < 500, r.status


TOKEN = re.compile(r'name="token" value="([^"]*)"')
PORTAL_FIELDS = st.dictionaries(
    st.sampled_from(["kind", "service", "subject", "text", "email", "mobile", "answer", "consent", "website", "page"]),
    st.one_of(
        SHORT,
        st.sampled_from(
            ["complaint", "violation_report", "request", "email", "sms", "code", "1", "ali@example.ir", "09121234567"]
        ),
    ),
    max_size=10,
)
UPLOADS = st.lists(
    st.tuples(
        st.text(max_size=40), st.binary(max_size=2048), st.sampled_from(["image/jpeg", "application/pdf", "x/y", ""])
    ),
    max_size=4,
)


@target(
    "web.portal.http",
    st.tuples(st.sampled_from(["/submit", "/report-violation"]), st.booleans(), PORTAL_FIELDS, UPLOADS),
    config={"portal": {"per_ip_per_hour": 1_000_000, "per_contact_per_day": 1_000_000}},
)
async def portal_http(case: tuple[str, bool, dict[str, str], list[tuple[str, bytes, str]]], env: AppEnv) -> None:
    """The e-service desk's form: a fresh form token or a forged one, any fields and files."""
    import aiohttp

    path, fresh, fields, files = case
    data = aiohttp.FormData()
    token = "forged"
    if fresh:
        found = TOKEN.search(await (await env.client.get(path)).text())
        token = found.group(1) if found else token
    data.add_field("token", token)
    for key, value in fields.items():
        data.add_field(key, value)
    for name, body, ctype in files:  # a client cannot put control characters in a header
        safe = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in name) or "f"
        data.add_field("files", body, filename=safe, content_type=ctype or None)
    r = await env.client.post("/submit", data=data, allow_redirects=False)
    await r.read()
    assert r.status < 500, r.status
