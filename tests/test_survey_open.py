"""Open surveys on the web (Article 9(5), no case needed): /survey, /survey/service/{code},
/survey/unit/{code}; one response per visit; staff desk codes; kiosk reset; shared limits;
low scores alert the unit's supervisor."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from gateway.core.models import Outbox, Staff, SurveyResponse
from gateway.core.staff import add_staff
from gateway.core.surveys_open import desk_code, parse_desk_code
from tests.test_public_common import client

GOOD = {
    "workflow": "4",
    "information_match": "5",
    "staff_behaviour": "3",
    "timeliness": "4",
    "improper_request": "no",
    "comment": "خوب بود",
}


async def _form(client, path: str) -> dict[str, str]:
    """GET the form and return the answers plus its visit token."""
    r = await client.get(path)
    assert r.status == 200
    visit = re.search(r'name="visit" value="([^"]+)"', await r.text())
    assert visit is not None
    return {**GOOD, "visit": visit.group(1)}


async def _responses(ctx) -> list[SurveyResponse]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(SurveyResponse).order_by(SurveyResponse.id))).scalars())


async def _staff_id(ctx, name: str) -> int:
    async with ctx.db.session() as s:
        return (await s.execute(select(Staff.id).where(Staff.name == name))).scalar_one()


@pytest.mark.parametrize(
    ("path", "scope", "unit", "service"),
    [
        ("/survey", "site", None, None),
        ("/survey/service/20001", "service", "roads", "20001"),
        ("/survey/unit/pr", "unit", "pr", None),
    ],
    ids=["site", "service", "unit"],
)
async def test_an_open_survey_is_stored_with_its_target(ctx, client, path, scope, unit, service):
    page = await (await client.get(path)).text()
    for name in ("workflow", "information_match", "staff_behaviour"):
        assert page.count(f'name="{name}"') == 5
    assert "رفتار کارکنان" in page and "اطلاعات اعلام‌شده" in page and 'name="staff"' in page
    r = await client.post(path, data=await _form(client, path))
    assert r.status == 200 and 'id="survey-thanks"' in await r.text()
    [resp] = await _responses(ctx)
    assert (resp.scope, resp.unit_code, resp.service_code) == (scope, unit, service)
    assert resp.invitation_id is None and resp.channel == "web" and resp.staff_id is None
    assert resp.answers == {"workflow": 4, "information_match": 5, "staff_behaviour": 3, "timeliness": 4}


async def test_unknown_service_or_unit_is_404(client):
    assert (await client.get("/survey/service/999")).status == 404
    assert (await client.post("/survey/unit/nope", data=GOOD)).status == 404


async def test_one_response_per_visit_also_when_sent_twice_at_once(ctx, client):
    data = await _form(client, "/survey")
    first, second = await asyncio.gather(client.post("/survey", data=data), client.post("/survey", data=data))
    assert sorted([first.status, second.status]) == [200, 409]
    again = await client.post("/survey", data=data)
    assert again.status == 409
    assert len(await _responses(ctx)) == 1
    # a new visit (a new form) may answer again
    assert (await client.post("/survey", data=await _form(client, "/survey"))).status == 200
    assert len(await _responses(ctx)) == 2


@pytest.mark.parametrize("visit", ["", "forged.token", "eyJuIjoiMSJ9.abc"], ids=["none", "forged", "bad-sig"])
async def test_a_form_without_an_authentic_visit_is_shown_again(ctx, client, visit):
    r = await client.post("/survey", data={**GOOD, "visit": visit})
    html = await r.text()
    assert r.status == 400 and 'id="survey-error"' in html and "خوب بود" in html
    assert await _responses(ctx) == []


async def test_missing_scores_keep_what_was_typed(ctx, client):
    data = await _form(client, "/survey/unit/pr")
    del data["staff_behaviour"]
    r = await client.post("/survey/unit/pr", data=data)
    assert r.status == 400 and "خوب بود" in await r.text()
    assert await _responses(ctx) == []


async def test_the_desk_code_attributes_the_response_to_that_staff_member(ctx, client):
    await add_staff(ctx.db, "Zahra", "roads")
    zahra = await _staff_id(ctx, "Zahra")
    code = desk_code(zahra)
    assert parse_desk_code(code) == zahra and parse_desk_code(code[:-1] + str((int(code[-1]) + 1) % 10)) is None
    page = await (await client.get(f"/survey/service/20001?staff={code}")).text()
    assert f'value="{code}"' in page  # the desk card's QR code can carry the staff code
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    data = {**await _form(client, "/survey/service/20001"), "staff": persian}
    assert (await client.post("/survey/service/20001", data=data)).status == 200
    [resp] = await _responses(ctx)
    assert resp.staff_id == zahra and resp.service_code == "20001" and resp.unit_code == "roads"


async def test_an_unknown_desk_code_is_refused_with_the_form_kept(ctx, client):
    data = {**await _form(client, "/survey"), "staff": "99999"}
    r = await client.post("/survey", data=data)
    html = await r.text()
    assert r.status == 400 and "کد کارمند شناخته نشد" in html and 'value="99999"' in html
    assert await _responses(ctx) == []


async def test_kiosk_mode_returns_to_an_empty_form(ctx, client):
    path = "/survey/service/20001?kiosk=1"
    r = await client.post(path, data=await _form(client, path))
    html = await r.text()
    assert r.status == 200 and 'id="kiosk-next"' in html
    assert r.headers["Refresh"].endswith("url=/survey/service/20001?kiosk=1")
    assert "mailto:" not in html  # the tablet offers no way away from the survey
    fresh = await (await client.get("/survey/service/20001?kiosk=1")).text()
    assert "checked" not in fresh and "خوب بود" not in fresh
    [resp] = await _responses(ctx)
    assert resp.channel == "kiosk"


async def test_responses_are_limited_per_client_across_processes(make_config):
    """Two gateways on one database (as two processes would be) share the count."""
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.core.runtime import running_context
    from gateway.web.app import create_app

    cfg = make_config(survey={"open_per_client_per_hour": 2})
    async with (
        running_context(cfg, migrate=False, dispatch=False) as one,
        running_context(cfg, migrate=False, dispatch=False) as two,
    ):
        async with TestClient(TestServer(create_app(one))) as a, TestClient(TestServer(create_app(two))) as b:
            assert (await a.post("/survey", data=await _form(a, "/survey"))).status == 200
            assert (await b.post("/survey", data=await _form(b, "/survey"))).status == 200
            r = await a.post("/survey", data=await _form(a, "/survey"))
            assert r.status == 429 and int(r.headers["Retry-After"]) > 0
            assert "خوب بود" in await r.text()  # nothing typed is lost
            assert (await b.post("/survey", data=await _form(b, "/survey"))).status == 429
            assert len(await _responses(one)) == 2


async def test_a_low_score_alerts_the_unit_supervisor(ctx, client):
    await add_staff(ctx.db, "Boss", "roads", role="supervisor", email="boss@example.ir")
    await add_staff(ctx.db, "Clerk", "roads", email="clerk@example.ir")
    data = {**await _form(client, "/survey/service/20001"), "staff_behaviour": "1", "comment": "برخورد بد"}
    assert (await client.post("/survey/service/20001", data=data)).status == 200
    async with ctx.db.session() as s:
        rows = list((await s.execute(select(Outbox).where(Outbox.purpose == "notice"))).scalars())
    assert [r.recipient for r in rows] == ["boss@example.ir"]
    assert "رفتار کارکنان: 1" in rows[0].text and "برخورد بد" in rows[0].text and rows[0].case_id is None
    # a good response alerts nobody
    assert (await client.post("/survey/service/20001", data=await _form(client, "/survey/service/20001"))).status == 200
    async with ctx.db.session() as s:
        assert len((await s.execute(select(Outbox).where(Outbox.purpose == "notice"))).all()) == 1
