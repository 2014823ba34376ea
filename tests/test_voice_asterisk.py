"""The shipped dialplan on a real Asterisk 22, through a real ``gateway run`` process.

Asterisk runs from the Debian unstable root that ``.ci/asterisk-root`` builds (see
tests/peers/asterisk.py) with config/asterisk/ as shipped (AMI port and FastAGI address
substituted).  Callers are AMI ``Originate``s of Local channels into tests/peers/
asterisk_callers.conf: they press keys, play speech and hang up like a person would.
"""

from __future__ import annotations

import array
import asyncio
import re
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from gateway.channels.voice.ami import AmiClient, AmiMessage
from gateway.channels.voice.parse import REVIEW_NOTE
from gateway.core import answers
from gateway.core.access import Viewer
from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.messages import Channel, InboundMessage
from gateway.core.models import Attachment, Case, Message, Outbox, SurveyResponse
from gateway.core.runtime import running_context
from tests.conftest import BASE_CONFIG, merge
from tests.peers import eventually, free_port
from tests.peers.asterisk import AMI_SECRET, ROOT, SPOOL_IN_ROOT, AsteriskPeer, require_asterisk
from tests.peers.asterisk_prompts import build_sounds
from tests.peers.gateway_proc import GatewayProcess, gateway_process

pytestmark = pytest.mark.peer("asterisk")
MOBILE, MOBILE_E164 = "09121234567", "+989121234567"
LANDLINE, LANDLINE_E164 = "02188776655", "+982188776655"


@pytest.fixture(scope="session")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Persian prompts, digits and the caller's speech, generated once per session."""
    require_asterisk()
    return build_sounds(tmp_path_factory.mktemp("asterisk-sounds"))


@dataclass
class RealLine:
    """A real Asterisk, a real ``gateway run`` and the test's own AMI session and database view."""

    pbx: AsteriskPeer
    gw: GatewayProcess
    ami: AmiClient
    ctx: GatewayContext
    spool: Path
    events: list[AmiMessage] = field(default_factory=list)
    calls: int = 0

    async def call(self, scenario: str, callerid: str = MOBILE) -> str:
        """Originate a fake caller into the line; return the line channel's uniqueid."""
        self.calls += 1
        uid = f"gwtest-{self.pbx.ami_port}-{self.calls}"
        reply = await self.ami.originate(
            [
                ("Channel", f"Local/{scenario}@fake-caller"),
                ("Context", "from-trunk"),
                ("Exten", "100"),
                ("Priority", "1"),
                ("CallerID", f'"citizen" <{callerid}>'),
                ("Timeout", "20000"),
                ("ChannelId", uid),
                ("OtherChannelId", f"{uid}-caller"),
            ],
            action_id=f"call-{uid}",
            timeout=30,
        )
        assert reply.get("Reason") == "4", reply
        return uid

    async def user_events(self, name: str) -> list[AmiMessage]:
        return [e for e in self.events if e.get("UserEvent") == name]

    async def voice_cases(self) -> list[tuple[Case, list[Message], list[Attachment]]]:
        async with self.ctx.db.session() as s:
            out = []
            for case in (await s.execute(select(Case).where(Case.channel == "voice").order_by(Case.id))).scalars():
                msgs = list(
                    (
                        await s.execute(select(Message).where(Message.case_id == case.id, Message.direction == "in"))
                    ).scalars()
                )
                atts = (
                    list(
                        (
                            await s.execute(select(Attachment).where(Attachment.message_id.in_([m.id for m in msgs])))
                        ).scalars()
                    )
                    if msgs
                    else []
                )
                out.append((case, msgs, atts))
            return out


def gateway_config(db_url: str, tmp_path: Path, spool: Path, pbx: AsteriskPeer, **voice: Any) -> dict[str, Any]:
    return merge(
        BASE_CONFIG,
        {
            "gateway": {"database_url": db_url, "data_dir": str(tmp_path / "var")},
            "voice": merge(
                {
                    "enabled": True,
                    "spool_dir": str(spool),
                    "asterisk_spool_dir": SPOOL_IN_ROOT,
                    "min_seconds": 1,
                    "max_record_seconds": 60,
                    "reconcile_seconds": 5,
                    "ami": {"port": pbx.ami_port, "reconnect_max_seconds": 2},
                    "agi": {"port": pbx.agi_port, "intake_timeout_seconds": 10},
                    "callback": {"dial": "Local/{number}@fake-callee", "ring_seconds": 20},
                },
                voice,
            ),
        },
    )


@pytest_asyncio.fixture
async def real_line(
    tmp_path: Path, db_url: str, sounds: Path, make_config: Callable[..., Config]
) -> AsyncIterator[Callable[..., Any]]:
    """Start Asterisk + ``gateway run`` (``noload``: Asterisk modules to leave out)."""
    stack: list[Any] = []

    async def start(noload: tuple[str, ...] = (), **voice: Any) -> RealLine:
        spool = tmp_path / "spool"
        for sub in ("incoming", "done", "dropped", "answers", "heard"):
            (spool / sub).mkdir(parents=True, exist_ok=True)
        pbx = AsteriskPeer(spool, sounds, free_port(), noload=noload)
        stack.append(pbx)
        await asyncio.to_thread(pbx.start)
        pbx.cli("agi set debug on")  # the PBX log shows every AGI command (the digits said)
        config = gateway_config(db_url, tmp_path, spool, pbx, **voice)
        gw_cm = gateway_process(config, tmp_path, only="voice,dispatch", env={"GATEWAY_AMI_SECRET": AMI_SECRET})
        gw = await gw_cm.__aenter__()
        stack.append(gw_cm)
        await eventually(lambda: _async("AMI logged in" in gw.output()), "gateway AMI login", limit=60)
        line_events: list[AmiMessage] = []
        ami = AmiClient("127.0.0.1", pbx.ami_port, "gateway", AMI_SECRET, on_event=line_events.append)
        ami.start()
        stack.append(ami)
        assert await ami.wait_connected(30)
        ctx_cm = running_context(make_config(voice=config["voice"]), migrate=False, dispatch=False)
        ctx = await ctx_cm.__aenter__()
        stack.append(ctx_cm)
        return RealLine(pbx, gw, ami, ctx, spool, line_events)

    yield start
    for item in reversed(stack):
        if isinstance(item, AsteriskPeer):
            await asyncio.to_thread(item.stop)
            assert not (ROOT / "proc").is_mount() and not (ROOT / SPOOL_IN_ROOT.lstrip("/")).is_mount()
            item.cleanup(keep_log=tmp_path / f"asterisk-{item.name}.log")
        elif isinstance(item, AmiClient):
            await item.stop()
        else:
            await item.__aexit__(None, None, None)


async def _async(value: Any) -> Any:
    return value


def wav_frames(path: Path) -> int:
    """Frames in a finished WAV file (0 while it is missing or its header is unwritten)."""
    try:
        with wave.open(str(path)) as w:
            return w.getnframes()
    except (OSError, EOFError, wave.Error):
        return 0


def heard_share(heard: Path, played: Path) -> float:
    """The share of the played WAV's loud 20 ms frames found bit for bit in the callee's
    recording.  Local channels pass 8 kHz signed linear unchanged, but MixMonitor may drop
    or shift a frame on a loaded machine, so whole frames are looked for, not one long run."""
    with wave.open(str(played)) as w:
        speech = w.readframes(w.getnframes())
    with wave.open(str(heard)) as w:
        got = w.readframes(w.getnframes())
    frames = [speech[i : i + 320] for i in range(0, len(speech) - 320, 320)]
    loud = [f for f in frames if max(map(abs, array.array("h", f))) > 2000]
    return sum(f in got for f in loud) / len(loud) if loud else 0.0


def digits_said(log: str, uid: str) -> list[str]:
    """The codes the gateway had Asterisk say on channel ``uid``'s line (AGI debug log)."""
    return re.findall(r"AGI Rx << SAY DIGITS (\d+)", log)


async def test_caller_leaves_a_message_and_hears_its_code(real_line: Any) -> None:
    line: RealLine = await real_line()
    uid = await line.call("message-3")
    found = await eventually(lambda: line.voice_cases(), "a voice case", limit=90)

    async def with_audio() -> Any:
        cases = await line.voice_cases()
        return cases if cases and cases[0][2] else None

    [(case, msgs, atts)] = await eventually(with_audio, "the recording attached", limit=90)
    log = line.pbx.log_text()
    assert digits_said(log, uid) == [case.code, case.code]  # said twice by the gateway over FastAGI
    assert case.kind == "criticism" and case.contact == MOBILE_E164
    [att] = atts
    assert att.filename == f"{uid}.wav"
    [recorded] = await line.user_events("FeedbackRecorded")
    assert recorded.get("GwCase") == case.code and recorded.get("GwStatus") == "HANGUP"

    async def filed() -> bool:  # the files move to done/ just after the case commits
        return (line.spool / "done" / f"{uid}.wav").exists() and not list((line.spool / "incoming").iterdir())

    await eventually(filed, "the recording and its sidecar moved to done/", limit=30)
    meta = (line.spool / "done" / f"{uid}.meta").read_text()
    assert f"case={case.code}\n" in meta and "status=HANGUP\n" in meta
    with wave.open(str(line.spool / "done" / f"{uid}.wav")) as w:
        assert w.getnframes() / w.getframerate() > 2  # the caller's speech was recorded
    del found, msgs


async def test_sidecar_cannot_be_written_still_a_case_with_audio(real_line: Any) -> None:
    """func_env left out of the PBX: every Set(FILE(...)) fails, as it did on Asterisk 22."""
    line: RealLine = await real_line(noload=("func_env",))
    uid = await line.call("message-5")

    async def with_audio() -> Any:
        cases = await line.voice_cases()
        return cases if cases and cases[0][2] else None

    [(case, msgs, [att])] = await eventually(with_audio, "the recording attached", limit=120)
    assert "Function FILE not registered" in line.pbx.log_text() or "FILE" in line.pbx.log_text()
    assert not (line.spool / "done" / f"{uid}.meta").exists()  # there never was a sidecar
    assert digits_said(line.pbx.log_text(), uid) == [case.code, case.code]
    assert case.kind == "violation_report" and case.contact == MOBILE_E164  # from the event
    [recording] = [m for m in msgs if m.id == att.message_id]
    assert recording.meta["review"] == "no_sidecar" and REVIEW_NOTE in recording.text
    assert att.filename == f"{uid}.wav" and (line.spool / "done" / f"{uid}.wav").exists()
    assert not list((line.spool / "incoming").iterdir())


async def _case_for(line: RealLine, sender: str) -> Case:
    """A voice case from ``sender`` made through the core (as a finished call would)."""
    result = await line.ctx.intake.submit(
        InboundMessage(
            channel=Channel.VOICE,
            provider="asterisk",
            external_id=f"seed-{sender}",
            sender=sender,
            subject="پیام صوتی",
            text="پیام صوتی (۱۲ ثانیه)",
            acknowledge=False,
        )
    )
    async with line.ctx.db.session() as s:
        return (await s.execute(select(Case).where(Case.code == result.case_code))).scalar_one()


async def _survey_answers(line: RealLine) -> list[dict[str, int]]:
    async with line.ctx.db.session() as s:
        return [r.answers for r in (await s.execute(select(SurveyResponse))).scalars()]


ANSWER = "چراغ‌های خیابان بهار فردا تعمیر می‌شوند."
STAFF = Viewer(0, "کارشناس", "pr", "supervisor")


async def test_status_by_keypad_plays_the_answer_then_keypad_survey(real_line: Any) -> None:
    line: RealLine = await real_line()
    case = await _case_for(line, MOBILE_E164)
    await answers.answer_case(line.ctx, STAFF, case.code, ANSWER)  # goes out by SMS to a mobile
    await line.call(f"status-{case.code}", callerid=MOBILE)
    got = await eventually(lambda: _survey_answers(line), "the keypad survey stored", limit=120)
    assert got == [{"workflow": 5, "information_match": 4, "staff_behaviour": 3, "timeliness": 5}]
    log = line.pbx.log_text()
    played = re.findall(r"Playing '(/var/spool/asterisk/feedback/answers/status-[^']+)'", log)
    assert played and played[0].endswith(case.code + ".slin")  # the status with the answer, in TTS
    status_wav = line.spool / "answers" / Path(played[0]).with_suffix(".wav").name
    assert wave.open(str(status_wav)).getnframes() > 8000 * 3
    assert [f"feedback/survey-q{n}" for n in (1, 2, 3, 4)] == re.findall(
        r"AGI Rx << GET DATA (feedback/survey-q\d) 6000 1", log
    )


async def test_callback_answer_rings_the_citizen_who_hears_it(real_line: Any) -> None:
    line: RealLine = await real_line()
    case = await _case_for(line, LANDLINE_E164)
    await answers.answer_case(line.ctx, STAFF, case.code, ANSWER)  # a landline: called back

    async def delivered() -> Any:
        async with line.ctx.db.session() as s:
            rows = list(
                (await s.execute(select(Outbox).where(Outbox.channel == "voice", Outbox.purpose == "answer"))).scalars()
            )
        return rows if rows and rows[0].status == "delivered" else None

    [row] = await eventually(delivered, "the callback answered", limit=120)
    got = await eventually(lambda: _survey_answers(line), "the callee's keypad survey", limit=120)
    assert got == [{"workflow": 5, "information_match": 4, "staff_behaviour": 3, "timeliness": 5}]
    heard = line.spool / "heard" / f"{LANDLINE}.wav"
    answer_wav = line.spool / "answers" / f"{row.idempotency_key}.wav"
    log = line.pbx.log_text()
    assert f"Playing '{SPOOL_IN_ROOT}/answers/{row.idempotency_key}.slin'" in log
    said = "".join(re.findall(r"fake-callee-\w+;1> Playing 'digits/(\d)\.slin'", log))
    assert said == case.code  # SayDigits(${CASE_CODE}) in feedback-callback
    # MixMonitor writes the WAV header when the call ends: wait for a whole file
    await eventually(lambda: _async(wav_frames(heard) > 0), "the callee's recording closed")
    assert heard_share(heard, answer_wav) > 0.5, "the callee did not hear the answer's audio"


@pytest.mark.parametrize("crash", [False, True], ids=["core-stop-now", "killed"])
async def test_asterisk_restart_mid_call_ingests_the_recording_once(real_line: Any, crash: bool) -> None:
    """Stopped (hangup handlers run) or killed (no completion line, WAV header never
    written: ingested once older than the longest recording, with all its audio)."""
    line: RealLine = await real_line(max_record_seconds=10)
    uid = await line.call("speak-and-hold")
    wav = line.spool / "incoming" / f"{uid}.wav"
    await eventually(
        lambda: _async(wav.exists() and wav.stat().st_size > 8000 * 2 * 3), "three seconds recorded", limit=90
    )
    await asyncio.to_thread(line.pbx.stop, kill=crash)  # the call is cut mid-recording
    if crash:
        assert "status=" not in (line.spool / "incoming" / f"{uid}.meta").read_text()
    await asyncio.to_thread(line.pbx.start)
    line.pbx.cli("agi set debug on")

    async def with_audio() -> Any:
        cases = await line.voice_cases()
        return cases if cases and cases[0][2] else None

    [(case, msgs, [att])] = await eventually(with_audio, "the cut recording ingested", limit=150)
    assert att.filename == f"{uid}.wav" and att.size > 8000 * 2 * 3
    await asyncio.sleep(12)  # two more reconcile passes and any late event: still one recording
    [(again, _, atts)] = await line.voice_cases()
    assert again.id == case.id and len(atts) == 1
    assert not list((line.spool / "incoming").iterdir())
