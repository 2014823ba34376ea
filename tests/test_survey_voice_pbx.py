"""The voice menu's survey option on a real Asterisk 22 with the shipped dialplan, through a
real ``gateway run`` (the harness of tests/test_voice_asterisk.py): a caller presses 3 and
answers the four questions on the keypad; an open response of the site is stored."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from gateway.core.models import SurveyResponse
from tests.peers import eventually
from tests.test_voice_asterisk import MOBILE, RealLine, real_line, sounds

pytestmark = pytest.mark.peer("asterisk")


async def _responses(line: RealLine) -> list[SurveyResponse]:
    async with line.ctx.db.session() as s:
        return list((await s.execute(select(SurveyResponse))).scalars())


async def test_menu_option_3_is_the_keypad_survey_without_a_case(real_line: Any) -> None:
    line: RealLine = await real_line()
    await line.call("survey-open", callerid=MOBILE)
    [resp] = await eventually(lambda: _responses(line), "the open keypad survey stored", limit=120)
    assert resp.answers == {"workflow": 4, "information_match": 5, "staff_behaviour": 2, "timeliness": 3}
    assert (resp.channel, resp.scope, resp.invitation_id) == ("voice", "site", None)
    log = line.pbx.log_text()
    assert [f"feedback/survey-q{n}" for n in (1, 2, 3, 4)] == re.findall(
        r"AGI Rx << GET DATA (feedback/survey-q\d) 6000 1", log
    )
    assert not await line.voice_cases()  # no case was opened
