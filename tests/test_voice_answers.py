"""Answers back by voice: callback via Originate, keypad status check, keypad survey."""

from __future__ import annotations

import wave
from typing import Any

import pytest
from sqlalchemy import select

from gateway.core import tracking
from gateway.core.models import Case, Outbox, SurveyResponse, utcnow
from gateway.core.outbox import queue_outbound
from gateway.core.surveys import create_invitation
from tests.peers import require_binary
from tests.peers.agi_client import FakeAsterisk
from tests.test_voice_channel import Line, line_factory, sim

LANDLINE = "+982188776655"


async def answered_case(line: Line, contact: str | None, answer: str = "راه روستا ترمیم می‌شود.") -> Case:
    """A voice case with a staff answer queued on the voice channel."""
    async with line.ctx.db.session() as s:
        case = Case(
            code=tracking.generate(),
            kind="request",
            status="answered",
            channel="voice",
            contact=contact,
            unit_code="roads",
            subject="پیام صوتی",
            language="fa",
            anonymous=contact is None,
            search_text="",
            due_at=utcnow(),
            answered_at=utcnow(),
        )
        s.add(case)
        await s.flush()
        if contact:
            await queue_outbound(
                s,
                channel="voice",
                purpose="answer",
                recipient=contact,
                text=f"پاسخ پیام شما با کد {case.code}: {answer} http://gw.test/s/x",
                key=line.ctx.new_key("voice"),
                case=case,
            )
            await create_invitation(s, line.ctx, case)
        return case


async def outbox_row(line: Line) -> Outbox:
    async with line.ctx.db.session() as s:
        return (await s.execute(select(Outbox).where(Outbox.channel == "voice"))).scalar_one()


async def test_callback_answer_retried_on_busy_delivered_on_answer(line_factory: Any) -> None:
    require_binary("espeak-ng", "espeak-ng")
    require_binary("sox", "sox")
    line: Line = await line_factory(asterisk_spool_dir="/var/spool/asterisk/feedback")
    case = await answered_case(line, LANDLINE)
    line.sim.originate_reasons = ["5", "4"]  # busy, then answered

    assert await line.ctx.dispatcher.run_once() == 1
    row = await outbox_row(line)
    assert (row.status, row.last_error) == ("pending", "busy: OriginateResponse Reason 5")
    async with line.ctx.db.session() as s:  # the backoff has passed
        (await s.get(Outbox, row.id)).next_attempt_at = utcnow()
    assert await line.ctx.dispatcher.run_once() == 1
    row = await outbox_row(line)
    assert (row.status, row.attempts) == ("delivered", 2)

    first, second = line.sim.actions("Originate")
    key = row.idempotency_key
    for action in (first, second):  # same call both times: same channel id, same audio
        assert action["async"] == ["true"] and action["channelid"] == [key]
        assert action["channel"] == ["PJSIP/02188776655@trunk"]
        assert action["context"] == ["feedback-callback"] and action["exten"] == ["s"]
        assert f"CASE_CODE={case.code}" in action["variable"]
        assert f"ANSWER_AUDIO=/var/spool/asterisk/feedback/answers/{key}" in action["variable"]
    with wave.open(str(line.spool / "answers" / f"{key}.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 8000  # more than a second of speech


async def test_callback_permanent_failures(line_factory: Any) -> None:
    line: Line = await line_factory(callback={"dial": ""})
    async with line.ctx.db.session() as s:
        await queue_outbound(
            s, channel="voice", purpose="answer", recipient="not-a-number", text="x", key=line.ctx.new_key("voice")
        )
    await line.ctx.dispatcher.run_once()
    row = await outbox_row(line)
    assert (row.status, row.last_error) == ("failed", "bad_number: recipient is not a valid phone number")


async def test_status_by_keypad_plays_answer_only_to_own_number(line_factory: Any) -> None:
    require_binary("espeak-ng", "espeak-ng")
    line: Line = await line_factory()
    case = await answered_case(line, "+989121234567")
    own = await FakeAsterisk(
        line.agi_port, "case-status", [case.code], callerid="09121234567", uniqueid="1700000010.1"
    ).call()
    other = await FakeAsterisk(
        line.agi_port, "case-status", [case.code], callerid="09350000000", uniqueid="1700000010.2"
    ).call()
    assert own.variables["CASE_STATE"] == "answered" and other.variables["CASE_STATE"] == "found"
    for agi in (own, other):
        audio = agi.variables["ANSWER_AUDIO"]
        assert audio.endswith(f"answers/status-{agi.uniqueid}-{case.code}")
    assert (line.spool / "answers" / f"status-1700000010.1-{case.code}.wav").exists()


async def test_status_by_keypad_typos_and_unknown_codes(line_factory: Any) -> None:
    line: Line = await line_factory()
    code = tracking.generate()
    typo = code[:-1] + str((int(code[-1]) + 1) % 10)
    bad = await FakeAsterisk(line.agi_port, "case-status", keypad=[typo]).call()
    unknown = await FakeAsterisk(line.agi_port, "case-status", [code]).call()
    assert bad.commands[0] == "GET DATA feedback/enter-code 10000 10"
    assert bad.variables == {"CASE_STATE": "badcode"}
    assert unknown.variables == {"CASE_STATE": "notfound"}


@pytest.mark.parametrize(
    "callerid, number",
    [("09121234567", ""), ("02155550000", "+989121234567")],
    ids=["citizen-called-in", "callback-to-citizen"],
)
async def test_keypad_survey_after_answer(line_factory: Any, callerid: str, number: str) -> None:
    line: Line = await line_factory()
    case = await answered_case(line, "+989121234567")
    agi = await FakeAsterisk(
        line.agi_port, "survey", [case.code, "", number], callerid=callerid, keypad=["5", "4", "3", "5"]
    ).call()
    assert [c for c in agi.commands if c.startswith("GET DATA")] == [
        f"GET DATA feedback/survey-q{n} 6000 1" for n in (1, 2, 3, 4)
    ]
    assert agi.variables["SURVEY_STATE"] == "recorded"
    assert agi.commands[-1] == 'STREAM FILE feedback/survey-thanks ""'
    async with line.ctx.db.session() as s:
        [resp] = list((await s.execute(select(SurveyResponse))).scalars())
    assert resp.answers == {"workflow": 5, "information_match": 4, "staff_behaviour": 3, "timeliness": 5}
    assert resp.channel == "voice"


async def test_caller_hangs_up_during_code(line_factory: Any) -> None:
    line: Line = await line_factory()
    agi = await FakeAsterisk(line.agi_port, "reserve-case", ["1700000011.1", "2"], hangup_after=2).call()
    assert len(agi.commands) == 3  # SET VARIABLE, STREAM FILE, SAY DIGITS (dead) and no more
    [case] = await line.cases()
    assert agi.variables["CASE_CODE"] == case.code  # the case stays reserved for the recording


async def test_keypad_survey_when_the_answer_went_by_sms(line_factory: Any) -> None:
    """Found on a real Asterisk: a mobile caller gets the answer (and the survey invitation)
    by SMS, then calls the line, checks the status and answers the keypad survey there."""
    from gateway.core import answers
    from gateway.core.access import Viewer

    line: Line = await line_factory()
    async with line.ctx.db.session() as s:
        case = Case(
            code=tracking.generate(),
            kind="request",
            status="routed",
            channel="voice",
            contact="+989121234567",
            unit_code="roads",
            subject="پیام صوتی",
            language="fa",
            anonymous=False,
            search_text="",
            due_at=utcnow(),
        )
        s.add(case)
    await answers.answer_case(line.ctx, Viewer(0, "staff", "roads", "supervisor"), case.code, "پاسخ")
    async with line.ctx.db.session() as s:
        assert [o.channel for o in (await s.execute(select(Outbox))).scalars()] == ["sms", "sms"]
    other = await FakeAsterisk(
        line.agi_port,
        "survey",
        [case.code],
        callerid="09350000000",
        uniqueid="1700000030.1",
        keypad=["1", "1", "1", "1"],
    ).call()
    assert other.variables["SURVEY_STATE"] == "none"  # only the case's own number answers it
    agi = await FakeAsterisk(
        line.agi_port,
        "survey",
        [case.code],
        callerid="09121234567",
        uniqueid="1700000030.2",
        keypad=["5", "4", "3", "5"],
    ).call()
    assert agi.variables["SURVEY_STATE"] == "recorded"
    async with line.ctx.db.session() as s:
        [resp] = list((await s.execute(select(SurveyResponse))).scalars())
    assert resp.answers == {"workflow": 5, "information_match": 4, "staff_behaviour": 3, "timeliness": 5}
