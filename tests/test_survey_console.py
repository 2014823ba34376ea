"""Console survey pages: paper entry (marked paper, who entered it, the served staff code),
the results page for supervisors (minimum-number rule, comments), its CSV."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.core.models import Staff, SurveyResponse
from gateway.core.surveys_open import desk_code
from tests.test_staff_console import login
from tests.test_staff_support import make_staff, staff_client

PAPER = {
    "target": "service:20001",
    "workflow": "2",
    "information_match": "3",
    "staff_behaviour": "4",
    "timeliness": "5",
    "improper_request": "yes",
    "comment": "فرم کاغذی: صف طولانی",
}


async def _ids(ctx) -> dict[str, int]:
    async with ctx.db.session() as s:
        return dict((await s.execute(select(Staff.name, Staff.id))).all())


async def _paper_form(client) -> dict[str, str]:
    html = await (await client.get("/staff/surveys/paper")).text()
    fields = dict(re.findall(r'name="(csrf|visit)" value="([^"]+)"', html))
    return {**PAPER, **fields}


async def test_staff_key_in_a_paper_form(ctx, staff_client):
    await make_staff(ctx, "clerk", "pr")
    await make_staff(ctx, "desk", "roads")
    ids = await _ids(ctx)
    assert (await login(staff_client, "clerk")).status == 303
    page = await (await staff_client.get("/staff/surveys/paper")).text()
    assert desk_code(ids["clerk"]) in page.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
    data = {**await _paper_form(staff_client), "staff": desk_code(ids["desk"])}
    r = await staff_client.post("/staff/surveys/paper", data=data, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/staff/surveys/paper?done=1"
    again = await staff_client.post("/staff/surveys/paper", data=data)  # a double click
    assert again.status == 400 and "پیش‌تر ثبت شده" in await again.text()
    async with ctx.db.session() as s:
        [resp] = (await s.execute(select(SurveyResponse))).scalars().all()
    assert (resp.channel, resp.entered_by, resp.staff_id) == ("paper", ids["clerk"], ids["desk"])
    assert (resp.scope, resp.service_code, resp.unit_code) == ("service", "20001", "roads")
    assert resp.improper_request is True and resp.comment == "فرم کاغذی: صف طولانی"


async def test_a_desk_code_of_another_unit_is_refused_with_the_form_kept(ctx, staff_client):
    """Service 20001 is the roads unit's: a desk code of a pr clerk would credit (or blame)
    someone who did not serve it.  Refused, the typed scores and comment kept; for the whole
    site any unit's code is fine."""
    await make_staff(ctx, "clerk", "pr")
    ids = await _ids(ctx)
    await login(staff_client, "clerk")
    data = {**await _paper_form(staff_client), "staff": desk_code(ids["clerk"])}
    r = await staff_client.post("/staff/surveys/paper", data=data)
    html = await r.text()
    assert r.status == 400 and "این کد کارمند از واحدی جز واحد انتخاب‌شده است." in html
    assert "فرم کاغذی: صف طولانی" in html  # nothing typed is lost
    data = {**await _paper_form(staff_client), "staff": desk_code(ids["clerk"]), "target": "site"}
    r = await staff_client.post("/staff/surveys/paper", data=data, allow_redirects=False)
    assert r.status == 303
    async with ctx.db.session() as s:
        [resp] = (await s.execute(select(SurveyResponse))).scalars().all()
    assert (resp.scope, resp.staff_id) == ("site", ids["clerk"])


async def test_paper_entry_needs_csrf_and_all_scores(ctx, staff_client):
    await make_staff(ctx, "clerk", "pr")
    await login(staff_client, "clerk")
    data = await _paper_form(staff_client)
    r = await staff_client.post("/staff/surveys/paper", data={**data, "csrf": "wrong"})
    assert r.status == 403
    del data["timeliness"]
    r = await staff_client.post("/staff/surveys/paper", data=data)
    html = await r.text()
    assert r.status == 400 and "صف طولانی" in html  # what was typed is kept
    async with ctx.db.session() as s:
        assert (await s.execute(select(SurveyResponse))).first() is None


async def test_results_page_for_supervisors_hides_staff_with_few_responses(ctx, staff_client):
    await make_staff(ctx, "boss", "roads", role="supervisor")
    await make_staff(ctx, "clerk", "roads")
    await make_staff(ctx, "rare", "roads")
    ids = await _ids(ctx)
    async with ctx.db.session() as s:
        for n in range(5):  # the default minimum
            s.add(
                SurveyResponse(
                    answers={"workflow": 4, "information_match": 5, "staff_behaviour": 3, "timeliness": 4},
                    comment="" if n else "خیلی خوب",
                    channel="web",
                    scope="service",
                    unit_code="roads",
                    service_code="20001",
                    staff_id=ids["clerk"],
                )
            )
        s.add(
            SurveyResponse(
                answers={"workflow": 1, "information_match": 1, "staff_behaviour": 1, "timeliness": 1},
                comment="",
                channel="paper",
                scope="unit",
                unit_code="roads",
                staff_id=ids["rare"],
            )
        )
        s.add(SurveyResponse(answers={"workflow": 5}, comment="واحد دیگر", channel="web", scope="unit", unit_code="pr"))
    await login(staff_client, "boss")
    html = await (await staff_client.get("/staff/surveys")).text()
    assert 'id="survey-count">۶<' in html  # the six of this unit, not the other unit's
    table = html.split('id="staff-table"')[1].split("</table>")[0]
    assert "clerk" in table and "rare" not in table and "۱.۰" not in table
    assert "کارکنانی با پاسخ کمتر: ۱ نفر" in html and "خیلی خوب" in html and "واحد دیگر" not in html
    csv_text = await (await staff_client.get("/staff/surveys.csv")).text()
    assert "staff,clerk:responses,5" in csv_text and "rare" not in csv_text
    assert "service_information_match,20001,4.17 (6)" not in csv_text  # rare's unit response has no service
    assert "service_information_match,20001,5.0 (5)" in csv_text


async def test_plain_staff_cannot_see_results(ctx, staff_client):
    await make_staff(ctx, "clerk", "roads")
    await login(staff_client, "clerk")
    assert (await staff_client.get("/staff/surveys")).status == 403
    assert (await staff_client.get("/staff/surveys.csv")).status == 403
