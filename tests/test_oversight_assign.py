"""Assignee and answered_by: the API, the console's "my cases", and who answered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.core.messages import Kind
from gateway.core.models import AuditEvent, Case, Staff
from tests.test_staff_console import csrf_of, login
from tests.test_staff_support import auth, make_staff, staff_client, submit

pytestmark = pytest.mark.usefixtures("staff_client")


async def _case(ctx, code: str) -> Case:
    async with ctx.db.session() as s:
        return (await s.execute(select(Case).where(Case.code == code))).scalar_one()


async def _staff_id(ctx, name: str) -> int:
    async with ctx.db.session() as s:
        return (await s.execute(select(Staff.id).where(Staff.name == name))).scalar_one()


async def test_answer_records_who_answered(ctx, staff_client):
    token = await make_staff(ctx, "maryam", "pr")
    code = (await submit(ctx, "درخواست کارت", sender="+989120000001")).case_code
    resp = await staff_client.post(f"/api/v1/cases/{code}/answer", json={"text": "انجام شد"}, headers=auth(token))
    assert resp.status == 200
    assert (await _case(ctx, code)).answered_by == await _staff_id(ctx, "maryam")
    detail = await (await staff_client.get(f"/api/v1/cases/{code}", headers=auth(token))).json()
    assert detail["answered_by"] == "maryam"
    async with ctx.db.session() as s:
        event = (await s.execute(select(AuditEvent).where(AuditEvent.action == "answered"))).scalar_one()
    assert event.detail["staff_id"] == await _staff_id(ctx, "maryam")


async def test_assignee_me_name_and_clear_with_the_my_cases_filter(ctx, staff_client):
    maryam = await make_staff(ctx, "maryam", "pr")
    await make_staff(ctx, "reza", "pr")
    mine = (await submit(ctx, "درخواست اول", sender="+989120000001")).case_code
    other = (await submit(ctx, "درخواست دوم", sender="+989120000002")).case_code
    resp = await staff_client.post(f"/api/v1/cases/{mine}/assign", json={"assignee": "me"}, headers=auth(maryam))
    assert resp.status == 200, await resp.text()
    await staff_client.post(f"/api/v1/cases/{other}/assign", json={"assignee": "reza"}, headers=auth(maryam))
    listed = await (await staff_client.get("/api/v1/cases?assignee=me", headers=auth(maryam))).json()
    assert [c["code"] for c in listed["cases"]] == [mine]
    assert listed["cases"][0]["assignee"] == "maryam"
    everyone = await (await staff_client.get("/api/v1/cases", headers=auth(maryam))).json()
    assert {c["code"]: c["assignee"] for c in everyone["cases"]} == {mine: "maryam", other: "reza"}
    await staff_client.post(f"/api/v1/cases/{other}/assign", json={"assignee": None}, headers=auth(maryam))
    unassigned = await (await staff_client.get("/api/v1/cases?assignee=none", headers=auth(maryam))).json()
    assert [c["code"] for c in unassigned["cases"]] == [other]
    async with ctx.db.session() as s:
        changes = [
            e.detail
            for e in (
                await s.execute(select(AuditEvent).where(AuditEvent.action == "assignee_set").order_by(AuditEvent.id))
            ).scalars()
        ]
    assert changes == [{"from": None, "to": "maryam"}, {"from": None, "to": "reza"}, {"from": "reza", "to": None}]


@pytest.mark.parametrize(
    "who, unit, role, kind",
    [
        pytest.param("roads-person", "roads", "staff", None, id="other-unit"),
        pytest.param("nobody", None, None, None, id="unknown-name"),
        pytest.param(
            "plain-oversight", "oversight", "staff", Kind.VIOLATION_REPORT, id="violation-report-to-non-oversight-role"
        ),
    ],
)
async def test_assignee_must_be_able_to_see_the_case(ctx, staff_client, who, unit, role, kind):
    inspector = await make_staff(ctx, "inspector", "oversight", "oversight")
    lead = await make_staff(ctx, "lead", "pr")
    if unit:
        await make_staff(ctx, who, unit, role)
    code = (await submit(ctx, "گزارش تخلف" if kind else "درخواست", kind=kind)).case_code
    caller = inspector if kind else lead
    resp = await staff_client.post(f"/api/v1/cases/{code}/assign", json={"assignee": who}, headers=auth(caller))
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "unknown_assignee"
    assert (await _case(ctx, code)).assignee_id is None


async def test_moving_a_case_to_another_unit_clears_its_assignee(ctx, staff_client):
    token = await make_staff(ctx, "maryam", "pr")
    code = (await submit(ctx, "درخواست", sender="+989120000001")).case_code
    await staff_client.post(f"/api/v1/cases/{code}/assign", json={"assignee": "me"}, headers=auth(token))
    resp = await staff_client.post(f"/api/v1/cases/{code}/assign", json={"unit": "roads"}, headers=auth(token))
    assert resp.status == 200
    case = await _case(ctx, code)
    assert case.unit_code == "roads" and case.assignee_id is None


async def test_console_assign_to_me_and_my_cases_page(ctx, staff_client):
    await make_staff(ctx, "maryam", "pr")
    code = (await submit(ctx, "درخواست تعمیر", sender="+989120000001")).case_code
    other = (await submit(ctx, "درخواست دیگر", sender="+989120000002")).case_code
    await login(staff_client, "maryam")
    page = await (await staff_client.get(f"/staff/cases/{code}")).text()
    assert f'action="/staff/cases/{code}/assignee"' in page and "maryam (خودم)" in page
    token = await csrf_of(staff_client, f"/staff/cases/{code}")
    resp = await staff_client.post(
        f"/staff/cases/{code}/assignee", data={"csrf": token, "assignee": "maryam"}, allow_redirects=False
    )
    assert resp.status == 303
    mine = await (await staff_client.get("/staff/cases?assignee=me")).text()
    assert code in mine and other not in mine and "پرونده‌های من" in mine
    page = await (await staff_client.get(f"/staff/cases/{code}")).text()
    assert '<dd id="case-assignee"><bdi>maryam</bdi></dd>' in page
    refused = await staff_client.post(
        f"/staff/cases/{code}/assignee", data={"csrf": "wrong", "assignee": ""}, allow_redirects=False
    )
    assert refused.status == 403
    assert (await _case(ctx, code)).assignee_id == await _staff_id(ctx, "maryam")
