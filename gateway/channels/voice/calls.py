"""The FastAGI routes the dialplan calls: ``reserve-case``, ``case-status``, ``survey``.

Decisions live here, audio and menus in the dialplan (config/asterisk/extensions.conf).
Each route hands one :class:`InboundMessage` to ``ctx.intake`` and waits at most
``voice.agi.intake_timeout_seconds`` (the caller is on the line).  When the gateway cannot
answer in time the route sets empty variables and the dialplan takes its fallback
(record anyway, the code goes out afterwards; "try later").

Variables set for the dialplan: ``CASE_CODE`` (reserve-case), ``CASE_STATE`` = badcode |
notfound | found | answered | down and ``ANSWER_AUDIO`` (case-status), ``SURVEY_STATE`` =
recorded | none | down (survey).
"""

from __future__ import annotations

import asyncio
import logging

from gateway.channels.voice.agi import AgiSession, Route
from gateway.channels.voice.parse import CATEGORY_KINDS, caller_e164, safe_uniqueid
from gateway.channels.voice.spool import SpoolPaths
from gateway.channels.voice.tts import TtsError, synthesise
from gateway.core import tracking
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.messages import Channel, InboundMessage, IntakeResult, Intent, Outcome
from gateway.core.replies import SURVEY_QUESTIONS

log = logging.getLogger(__name__)

PROVIDER = "asterisk"
SUBJECT = "پیام صوتی"
SND = "feedback"  # prompt folder under sounds/fa/ (config/asterisk/prompts.txt)


def reserve_key(uniqueid: str) -> str:
    """The dedupe key of a call's reservation; the recording later names it to append."""
    return f"reserve:{uniqueid}"


class CallRoutes:
    """Route handlers bound to a gateway context."""

    def __init__(self, ctx: GatewayContext, spool: SpoolPaths) -> None:
        self.ctx, self.spool = ctx, spool
        self.voice = ctx.config.voice

    def table(self) -> dict[str, Route]:
        return {"reserve-case": self.reserve_case, "case-status": self.case_status, "survey": self.survey}

    async def _submit(self, msg: InboundMessage) -> IntakeResult | None:
        try:
            return await asyncio.wait_for(self.ctx.intake.submit(msg), self.voice.agi.intake_timeout_seconds)
        except (TimeoutError, DatabaseUnavailable):
            log.warning("FastAGI: gateway could not answer %s in time", msg.intent.value)
            return None

    @staticmethod
    def _call_id(agi: AgiSession) -> str:
        return safe_uniqueid(agi.env.get("agi_uniqueid")) or "unknown"

    async def reserve_case(self, agi: AgiSession) -> None:
        """Open the case now and say its code twice; ``CASE_CODE`` empty if we could not."""
        uid = safe_uniqueid(agi.arg(0)) or self._call_id(agi)
        category = agi.arg(1)
        msg = InboundMessage(
            channel=Channel.VOICE,
            provider=PROVIDER,
            text="",
            subject=SUBJECT,
            external_id=reserve_key(uid),
            sender=caller_e164(agi.env.get("agi_callerid")),
            kind_hint=CATEGORY_KINDS.get(category),
            acknowledge=False,
            intent=Intent.RESERVE,
            meta={"uniqueid": uid, "category": category},
        )
        result = await self._submit(msg)
        code = result.case_code if result is not None and result.stored else None
        await agi.set_variable("CASE_CODE", code or "")
        if not code:
            return
        for prompt in ("your-code-is", "i-repeat"):
            await agi.stream_file(f"{SND}/{prompt}")
            await agi.say_digits(code)

    async def case_status(self, agi: AgiSession) -> None:
        """Check a code typed on the keypad; play the status (and the answer to its caller)."""
        raw = agi.arg(0) or await agi.get_data(f"{SND}/enter-code", 10000, 10)
        try:
            code = tracking.parse(raw)
        except tracking.CodeError:
            await agi.set_variable("CASE_STATE", "badcode")
            return
        msg = InboundMessage(
            channel=Channel.VOICE,
            provider=PROVIDER,
            text=code,
            tracking_code=code,
            sender=caller_e164(agi.env.get("agi_callerid")),
            intent=Intent.STATUS_QUERY,
            acknowledge=False,
            meta={"uniqueid": self._call_id(agi)},
        )
        result = await self._submit(msg)
        if result is None:
            await agi.set_variable("CASE_STATE", "down")
            return
        if result.outcome is not Outcome.STATUS:
            await agi.set_variable("CASE_STATE", "notfound")
            return
        # The core puts the answer text in the reply only for the case's own number.
        state = "answered" if result.reason == "status_answer" else "found"
        audio = ""
        out = self.spool.answers / f"status-{self._call_id(agi)}-{code}.wav"
        try:
            await synthesise(result.reply_text or "", out, voice=self.voice.tts_voice, rate=self.voice.tts_rate)
            audio = self.spool.for_asterisk(out)
        except TtsError as e:
            log.error("status TTS failed: %s", e)
        await agi.set_variable("CASE_CODE", code)
        await agi.set_variable("ANSWER_AUDIO", audio)
        await agi.set_variable("CASE_STATE", state)

    async def survey(self, agi: AgiSession) -> None:
        """Ask the survey questions (1-5 on the keypad) unless the digits came as an argument.

        Arguments: case code, digits already collected (or empty), the citizen's number.
        """
        code, given = agi.arg(0), agi.arg(1)
        answers = [int(d) for d in given if d.isdigit()]
        if not answers:
            for n in range(1, len(SURVEY_QUESTIONS) + 1):
                digit = await agi.get_data(f"{SND}/survey-q{n}", 6000, 1)
                if not digit:
                    break
                answers.append(int(digit))
        if not answers:
            await agi.set_variable("SURVEY_STATE", "none")
            return
        # In a callback the citizen is the called party: the dialplan passes the number we dialled.
        sender = caller_e164(agi.arg(2)) or caller_e164(agi.env.get("agi_callerid"))
        msg = InboundMessage(
            channel=Channel.VOICE,
            provider=PROVIDER,
            text="",
            sender=sender,
            tracking_code=code or None,
            intent=Intent.SURVEY_RESPONSE,
            survey_answers=answers,
            acknowledge=False,
            external_id=f"survey:{self._call_id(agi)}",
        )
        result = await self._submit(msg)
        if result is None:
            await agi.set_variable("SURVEY_STATE", "down")
            return
        recorded = result.outcome is Outcome.SURVEY
        await agi.set_variable("SURVEY_STATE", "recorded" if recorded else "none")
        if recorded:
            await agi.stream_file(f"{SND}/survey-thanks")
