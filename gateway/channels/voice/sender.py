"""The voice sender: an outbox row becomes a callback that plays the synthesised text.

The text is spoken with espeak-ng's Persian voice into ``answers/<key>.wav`` (8 kHz mono),
then AMI ``Originate`` (``Async: true``) calls the citizen into the ``feedback-callback``
context, which plays the intro, the code digit by digit and the answer, then offers the
keypad survey.  ``ActionID`` and ``ChannelId`` are the outbox idempotency key: a resend
after a crash cannot run beside the first call under the same channel id.  The outcome is
the ``Reason`` of ``OriginateResponse`` (table below); the dispatcher retries temporaries.
"""

from __future__ import annotations

import logging

from gateway.channels.voice.ami import AmiActionError, AmiClient, AmiUnavailable
from gateway.channels.voice.parse import caller_e164, dial_number
from gateway.channels.voice.spool import SpoolPaths
from gateway.channels.voice.tts import TtsError, synthesise
from gateway.core.context import GatewayContext
from gateway.core.messages import OutboundMessage, SendResult, SendStatus

log = logging.getLogger(__name__)

# OriginateResponse Reason: the last control frame (AST_CONTROL_*, include/asterisk/frame.h).
REASONS: dict[str, tuple[SendStatus, str]] = {
    "4": (SendStatus.DELIVERED, "answered"),
    "5": (SendStatus.TEMPORARY, "busy"),
    "3": (SendStatus.TEMPORARY, "no_answer"),  # rang until Timeout
    "1": (SendStatus.TEMPORARY, "hung_up"),  # rejected while ringing
    "8": (SendStatus.TEMPORARY, "congestion"),
    "0": (SendStatus.TEMPORARY, "unavailable"),  # failed before ringing: trunk down, no route
}


def safe_key(key: str) -> str:
    """An idempotency key usable as a file name and an Asterisk channel id."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:100]


class VoiceSender:
    """Sends ``voice`` outbox rows as callbacks."""

    # Asterisk keeps no record of ChannelIds after the call: a callback whose
    # OriginateResponse was lost is not placed again before outbox.report_wait_seconds
    idempotent = False

    def __init__(self, ctx: GatewayContext, spool: SpoolPaths, ami: AmiClient) -> None:
        self.ctx, self.spool, self.ami = ctx, spool, ami
        self.voice = ctx.config.voice

    def originate_headers(
        self, message: OutboundMessage, number: str, audio: str, channel_id: str
    ) -> list[tuple[str, str]]:
        """The Originate action's headers (``Async`` is added by the AMI client)."""
        cb = self.voice.callback
        headers = [
            ("Channel", cb.dial.format(number=dial_number(number, cb.number_format))),
            ("Context", cb.context),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Timeout", str(cb.ring_seconds * 1000)),
            ("ChannelId", channel_id),
            ("Variable", f"CASE_CODE={message.case_code or ''}"),
            ("Variable", f"ANSWER_AUDIO={audio}"),
            ("Variable", f"GW_PURPOSE={message.purpose}"),
            ("Variable", f"GW_NUMBER={number}"),
        ]  # the survey's respondent
        if cb.caller_id:
            headers.append(("CallerID", cb.caller_id))
        return headers

    async def send(self, message: OutboundMessage) -> SendResult:
        """Synthesise, call, and judge the call by its OriginateResponse."""
        number = caller_e164(message.recipient)
        if number is None:
            return SendResult.permanent("bad_number", "recipient is not a valid phone number")
        key = safe_key(message.idempotency_key)
        out = self.spool.answers / f"{key}.wav"
        try:
            await synthesise(message.text, out, voice=self.voice.tts_voice, rate=self.voice.tts_rate)
        except TtsError as e:
            return SendResult.temporary("tts_failed", str(e))
        headers = self.originate_headers(message, number, self.spool.for_asterisk(out), key)
        timeout = max(1.0, self.ctx.config.outbox.send_timeout_seconds - 2)
        try:
            event = await self.ami.originate(headers, action_id=key, timeout=timeout)
        except AmiActionError as e:
            log.error("Originate refused for outbox %s: %s", message.outbox_id, e.message)
            return SendResult.permanent("originate_refused", e.message)
        except AmiUnavailable as e:
            return SendResult.temporary("ami_unavailable", str(e))
        reason = event.get("Reason")
        status, word = REASONS.get(reason, (SendStatus.TEMPORARY, f"reason_{reason or 'none'}"))
        log.info("callback for outbox %s: %s", message.outbox_id, word)
        if status is SendStatus.DELIVERED:
            return SendResult(SendStatus.DELIVERED, provider_id=event.get("Uniqueid") or key)
        return SendResult(status, None, word, f"OriginateResponse Reason {reason}")
