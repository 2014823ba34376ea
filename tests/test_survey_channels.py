"""Surveys without a case on the other channels: the SMS keyword gets the digits survey
(through the real Kannel webhook route), the voice menu's keypad survey over FastAGI; and
a reopened case gets no survey for the earlier answer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.core.config import parse_config
from gateway.core.messages import Channel, InboundMessage, Outcome
from gateway.core.models import Outbox, SurveyInvitation, SurveyResponse
from gateway.core.surveys_digits import keyword_target
from tests.conftest import BASE_CONFIG
from tests.peers.agi_client import FakeAsterisk
from tests.test_sms_webhooks import gateway, kannel_get, kannel_mo, outbox_purposes
from tests.test_staff_support import auth, make_staff, outbox_rows, send_all, staff_client, submit
from tests.test_voice_channel import Line, line_factory, sim


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("نظرسنجی", ("site", None, None)),
        ("  نظر سنجی ", ("site", None, None)),
        ("SURVEY", ("site", None, None)),
        ("نظرسنجي ۲۰۰۰۱", ("service", "roads", "20001")),  # Arabic yeh, Persian digits
        ("survey roads", ("unit", "roads", None)),
        ("نظرسنجی 99999", None),
        ("نظرسنجی درباره جاده خراب", None),  # a message about a survey, not the keyword
        ("شکایت", None),
    ],
    ids=["fa", "fa-spaced", "en-caps", "service", "unit", "unknown-service", "sentence", "other"],
)
def test_keyword_target(tmp_path, text, expected):
    config = parse_config(BASE_CONFIG, tmp_path)
    got = keyword_target(config, text)
    assert (None if got is None else (got.scope, got.unit_code, got.service_code)) == expected


async def _responses(ctx) -> list[SurveyResponse]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(SurveyResponse).order_by(SurveyResponse.id))).scalars())


async def test_sms_keyword_gets_the_digits_survey(make_config: Any) -> None:
    async with gateway(make_config, provider="kannel") as gw:
        assert await kannel_get(gw, kannel_mo("نظرسنجی ۲۰۰۰۱", id="kw-1")) == (200, "survey")
        [row] = [r for r in await outbox_rows(gw.ctx) if r.purpose == "survey_open_sms"]
        assert row.recipient == "+989121234567" and "ترمیم راه" in row.text and "۱ تا ۵" in row.text
        assert await kannel_get(gw, kannel_mo("۵۴۱۵۲", id="kw-2")) == (200, "survey")
        [resp] = await _responses(gw.ctx)
        assert resp.answers == {"workflow": 5, "information_match": 4, "staff_behaviour": 1, "timeliness": 5}
        assert (resp.channel, resp.scope, resp.unit_code, resp.service_code) == ("sms", "service", "roads", "20001")
        assert resp.improper_request is False and resp.invitation_id is not None
        # the low score (1) alerted nobody here: roads has no supervisor and no unit email
        assert await outbox_purposes(gw.ctx) == ["survey_open_sms", "survey_thanks"]
        # the digits again: the invitation is used up, so they are a new message as before
        assert (await kannel_get(gw, kannel_mo("۵۴۱۵۲", id="kw-3")))[1] == "created"
        async with gw.ctx.db.session() as s:
            inv = (await s.execute(select(SurveyInvitation))).scalar_one()
        assert inv.case_id is None and inv.responded_at is not None


async def test_sms_keyword_is_limited_per_number_and_day(make_config: Any) -> None:
    async with gateway(make_config, provider="kannel") as gw:
        gw.ctx.config.survey.sms_per_day = 2
        got = [(await kannel_get(gw, kannel_mo("survey", id=f"kl-{i}")))[1] for i in range(3)]
        assert got == ["survey", "survey", "ignored"]
        assert await outbox_purposes(gw.ctx) == ["survey_open_sms", "survey_open_sms"]
        other = await kannel_get(gw, kannel_mo("survey", id="kl-9", **{"from": "09351112233"}))
        assert other == (200, "survey")


async def test_keypad_survey_without_a_case(line_factory: Any) -> None:
    line: Line = await line_factory()
    agi = await FakeAsterisk(
        line.agi_port, "survey", ["", "", ""], callerid="09121234567", keypad=["4", "5", "2", "3"]
    ).call()
    assert [c for c in agi.commands if c.startswith("GET DATA")] == [
        f"GET DATA feedback/survey-q{n} 6000 1" for n in (1, 2, 3, 4)
    ]
    assert agi.variables["SURVEY_STATE"] == "recorded"
    [resp] = await _responses(line.ctx)
    assert resp.answers == {"workflow": 4, "information_match": 5, "staff_behaviour": 2, "timeliness": 3}
    assert (resp.channel, resp.scope, resp.invitation_id, resp.staff_id) == ("voice", "site", None, None)
    # a caller who pressed only one key has not answered the survey
    short = await FakeAsterisk(line.agi_port, "survey", ["", "", ""], callerid="09121234567", keypad=["4", ""]).call()
    assert short.variables["SURVEY_STATE"] == "none" and len(await _responses(line.ctx)) == 1


async def test_a_reopened_case_gets_no_survey_for_the_earlier_answer(ctx, staff_client):
    token = await make_staff(ctx, "maryam", "pr")
    code = (await submit(ctx, "درخواست گواهی", sender="+989121111111")).case_code
    r = await staff_client.post(f"/api/v1/cases/{code}/answer", headers=auth(token), json={"text": "گواهی آماده است."})
    assert (await r.json())["survey"]
    back = await ctx.intake.submit(
        InboundMessage(
            Channel.SMS,
            "ولی هنوز گواهی را نگرفته‌ام",
            external_id="re-1",
            provider="test",
            sender="+989121111111",
            tracking_code=code,
        )
    )
    assert back.outcome is Outcome.APPENDED  # the citizen answered back: the case is reopened
    survey = [row for row in await outbox_rows(ctx) if row.purpose == "survey"]
    assert [row.status for row in survey] == ["cancelled"]
    await send_all(ctx)
    async with ctx.db.session() as s:
        assert (await s.execute(select(Outbox.status).where(Outbox.purpose == "survey"))).scalar_one() == "cancelled"
        assert (await s.execute(select(SurveyInvitation))).first() is None
    # the next answer invites again
    r = await staff_client.post(
        f"/api/v1/cases/{code}/answer", headers=auth(token), json={"text": "گواهی را از باجه ۳ بگیرید."}
    )
    assert (await r.json())["survey"]
    assert [row.status for row in await outbox_rows(ctx) if row.purpose == "survey"] == ["cancelled", "pending"]
