"""Survey integrity: a staff member never finds the live survey link of a case in the
console or the API (they could rate their own answer with it); the survey email is
threaded with the case; a response after an answer counts for the answering staff member."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.core.messages import Channel
from gateway.core.models import Outbox, Staff, SurveyInvitation, SurveyResponse
from tests.test_staff_console import csrf_of, login
from tests.test_staff_support import auth, make_staff, staff_client, submit


async def _answered_email_case(ctx, staff_client, token: str) -> str:
    res = await submit(
        ctx,
        "درخواست گواهی دارم",
        channel=Channel.EMAIL,
        sender="ali@citizen.example",
        external_id="<m1@citizen.example>",
    )
    r = await staff_client.post(
        f"/api/v1/cases/{res.case_code}/answer", headers=auth(token), json={"text": "گواهی آماده است."}
    )
    assert r.status == 200 and (await r.json())["survey"]
    return res.case_code or ""


async def _invitation(ctx) -> SurveyInvitation:
    async with ctx.db.session() as s:
        return (await s.execute(select(SurveyInvitation))).scalar_one()


def staff_get_paths(app, code: str) -> list[str]:
    """Every GET route of the staff console and the API, walked from the router (pages added
    later are checked too), with the case's code filled in; routes needing another id are
    left out (attachments: the case has none)."""
    paths = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if route.method != "GET" or not path.startswith(("/staff", "/api/")):
            continue
        names = re.findall(r"{(\w+)[^}]*}", path)
        if set(names) - {"code"}:
            continue
        paths.append(re.sub(r"{code[^}]*}", code, path))
    return sorted(set(paths))


async def test_no_console_page_or_api_response_shows_the_survey_link(ctx, staff_client):
    token = await make_staff(ctx, "maryam", "pr", role="supervisor")
    code = await _answered_email_case(ctx, staff_client, token)
    inv = await _invitation(ctx)
    secret = inv.token
    async with ctx.db.session() as s:
        row = (await s.execute(select(Outbox).where(Outbox.purpose == "survey"))).scalar_one()
    assert secret in row.text  # the citizen does get the link
    paths = staff_get_paths(staff_client.server.app, code)
    assert {f"/staff/cases/{code}", f"/api/v1/cases/{code}", "/staff/surveys", "/api/v1/cases"} <= set(paths)
    bodies = {}
    for p in paths:  # as an API client, then as the logged-in console user
        if p.startswith("/api/"):
            bodies[p] = await (await staff_client.get(p, headers=auth(token))).text()
    assert (await login(staff_client, "maryam")).status == 303
    for p in paths:
        if p.startswith("/staff") and not p.endswith("/logout"):
            r = await staff_client.get(p)
            bodies[p] = await r.text()
            assert r.status < 500, (p, r.status)
    assert "نظرسنجی" in bodies[f"/staff/cases/{code}"]
    for path, body in bodies.items():
        assert secret not in body, path
        assert not re.search(r"/s/[A-Za-z0-9_\-]{10,}", body), path
    # and the link really is the live one: the citizen can still answer with it
    r = await staff_client.get(f"/s/{secret}")
    assert r.status == 200


async def test_the_survey_email_is_threaded_with_the_case(ctx, staff_client):
    token = await make_staff(ctx, "maryam", "pr")
    await _answered_email_case(ctx, staff_client, token)
    async with ctx.db.session() as s:
        row = (await s.execute(select(Outbox).where(Outbox.purpose == "survey"))).scalar_one()
    assert row.payload["in_reply_to"] == "<m1@citizen.example>"
    assert "<m1@citizen.example>" in row.payload["references"]
    assert re.search(r"\[#\d{10}\]", row.subject)


async def test_a_response_after_an_answer_counts_for_the_answering_staff(ctx, staff_client):
    token = await make_staff(ctx, "maryam", "pr")
    await _answered_email_case(ctx, staff_client, token)
    inv = await _invitation(ctx)
    data = {"workflow": "5", "information_match": "4", "staff_behaviour": "5", "timeliness": "5"}
    assert (await staff_client.post(f"/s/{inv.token}", data=data)).status == 200
    async with ctx.db.session() as s:
        resp = (await s.execute(select(SurveyResponse))).scalar_one()
        maryam = (await s.execute(select(Staff.id).where(Staff.name == "maryam"))).scalar_one()
    assert (resp.scope, resp.unit_code, resp.staff_id) == ("case", "pr", maryam)


async def test_the_console_case_page_names_the_survey_without_its_link(ctx, staff_client):
    token = await make_staff(ctx, "maryam", "pr")
    code = await _answered_email_case(ctx, staff_client, token)
    await login(staff_client, "maryam")
    await csrf_of(staff_client, f"/staff/cases/{code}")
    page = await (await staff_client.get(f"/staff/cases/{code}")).text()
    assert "[پیوند نظرسنجی]" in page
