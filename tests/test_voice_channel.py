"""The voice channel end to end: AMI simulator + fake-Asterisk FastAGI calls + shared spool.

Each test runs the real plugin (AMI client, FastAGI server on an ephemeral port, spool
reconciler) against tests/peers/ami_sim.py and tests/peers/agi_client.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from gateway.channels.voice import VoiceChannel, create
from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.models import Attachment, Case, Message, Outbox
from gateway.core.runtime import running_context
from tests.peers import eventually
from tests.peers.agi_client import FakeAsterisk
from tests.peers.ami_sim import AMISim
from tests.peers.voice_dialplan import Call


@dataclass
class Line:
    """A running gateway with its voice channel, wired to the AMI simulator."""

    ctx: GatewayContext
    channel: VoiceChannel
    sim: AMISim
    spool: Path

    @property
    def agi_port(self) -> int:
        return self.channel.agi.port

    def call(self, uniqueid: str = "1700000000.42", **kw: Any) -> Call:
        return Call(self.spool, uniqueid=uniqueid, **kw)

    async def cases(self) -> list[Case]:
        async with self.ctx.db.session() as s:
            return list((await s.execute(select(Case).order_by(Case.id))).scalars())

    async def voice_messages(self, case: Case | None = None) -> list[tuple[Message, list[Attachment]]]:
        async with self.ctx.db.session() as s:
            q = select(Message).where(Message.channel == "voice", Message.direction == "in")
            if case is not None:
                q = q.where(Message.case_id == case.id)
            out = []
            for m in (await s.execute(q.order_by(Message.id))).scalars():
                atts = list((await s.execute(select(Attachment).where(Attachment.message_id == m.id))).scalars())
                out.append((m, atts))
            return out

    async def recordings(self) -> int:
        async with self.ctx.db.session() as s:
            return int((await s.execute(select(func.count()).select_from(Attachment))).scalar_one())


def voice_config(make_config: Callable[..., Config], spool: Path, ami_port: int, **over: Any) -> Config:
    voice = {
        "enabled": True,
        "spool_dir": str(spool),
        "min_seconds": 2,
        "reconcile_seconds": 3600,  # tests drive reconcile through start/login/kick
        "ami": {"port": ami_port, "action_timeout_seconds": 3, "reconnect_max_seconds": 0.2},
        "agi": {"port": 0, "intake_timeout_seconds": 10},
    }
    for k, v in over.items():
        voice[k] = {**voice[k], **v} if isinstance(v, dict) and isinstance(voice.get(k), dict) else v
    return make_config(voice=voice)


@pytest_asyncio.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AMISim]:
    monkeypatch.setenv("GATEWAY_AMI_SECRET", "s3cret")
    s = AMISim()
    await s.start()
    yield s
    await s.stop()


@pytest_asyncio.fixture
async def line_factory(
    make_config: Callable[..., Config], sim: AMISim, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    """Start the gateway (any number of times: a stopped one is a gateway that is down)."""
    stack: list[tuple[Any, VoiceChannel]] = []
    spool = tmp_path / "spool"

    async def start(**over: Any) -> Line:
        cm = running_context(voice_config(make_config, spool, sim.port, **over), migrate=False, dispatch=False)
        ctx = await cm.__aenter__()
        channel = create(ctx)
        assert isinstance(channel, VoiceChannel)
        await channel.start()
        stack.append((cm, channel))
        await sim.wait_logins(sum(1 for _ in stack))
        return Line(ctx, channel, sim, spool)

    yield start
    for cm, channel in reversed(stack):
        await channel.stop()
        await cm.__aexit__(None, None, None)


async def test_recorded_call_becomes_case_with_audio_and_spoken_code(line_factory: Any) -> None:
    line: Line = await line_factory()
    call = line.call(callerid="09121234567", category="1")
    call.begin()
    agi = await call.reserve(line.agi_port)
    audio = call.record(seconds=6)
    call.hangup("SILENCE")
    await call.poke(line.sim, split_at=150, code=agi.variables["CASE_CODE"])
    await eventually(lambda: _filed(call), "files moved to done/")

    [case] = await line.cases()
    spoken = [c.split()[2] for c in agi.commands if c.startswith("SAY DIGITS")]
    assert spoken == [case.code, case.code]  # said twice, digit by digit, the case's code
    assert agi.variables["CASE_CODE"] == case.code
    assert (case.contact, case.kind, case.channel) == ("+989121234567", "complaint", "voice")
    messages = await line.voice_messages(case)
    recording = [(m, a) for m, a in messages if a]
    [(msg, [att])] = recording
    assert msg.external_id == call.uniqueid and msg.text == "پیام صوتی (۶ ثانیه)"
    assert (att.filename, att.content_type, att.size) == (f"{call.uniqueid}.wav", "audio/wav", len(audio))
    assert await line.ctx.store.get(att.sha256) == audio


async def _filed(call: Call) -> bool:
    done = call.spool / "done"
    return (done / f"{call.uniqueid}.meta").exists() and (done / f"{call.uniqueid}.wav").exists()


async def test_gateway_down_during_call_ingested_once_at_next_reconcile(line_factory: Any, sim: AMISim) -> None:
    line: Line = await line_factory()
    await line.channel.stop()  # the gateway goes down
    spool_call = line.call(uniqueid="1700000001.7", callerid="09127654321")
    spool_call.begin()
    agi_failed = True  # AGI() could not connect: the dialplan says "code by SMS" and records
    spool_call.record(seconds=5)
    spool_call.hangup("SILENCE")
    await spool_call.poke(sim)  # nobody listens: the event is lost
    assert agi_failed and spool_call.meta.exists()

    again: Line = await line_factory()  # gateway back: reconcile on start and on AMI login
    await eventually(lambda: _filed(spool_call), "recording reconciled")
    await again.channel.ingest.reconcile()
    await spool_call.poke(sim)  # a late duplicate event
    assert await again.channel.ingest.ingest(spool_call.uniqueid) == "missing"
    [case] = await again.cases()
    assert len([m for m, a in await again.voice_messages(case) if a]) == 1
    async with again.ctx.db.session() as s:
        acks = list((await s.execute(select(Outbox).where(Outbox.purpose == "ack"))).scalars())
    # a mobile caller who heard no code gets it by SMS
    assert [(o.channel, o.recipient) for o in acks] == [("sms", "+989127654321")]


@pytest.mark.parametrize(
    "case_id, prepare, expected",
    [
        ("event-for-missing-file", lambda c: None, "missing"),
        ("half-written-sidecar", lambda c: (c.begin(), c.record(4), c.append("stat", end="")), "pending"),
        ("call-still-recording", lambda c: (c.begin(), c.record(4)), "pending"),
        (
            "asterisk-died-mid-call",
            lambda c: (setattr(c, "started", 1_700_000_000), c.begin(), c.record(4)),
            "ingested",
        ),
        ("no-audio-left", lambda c: (c.begin(), c.hangup("ABANDONED")), "no_audio"),
        ("short-recording-dropped", lambda c: (c.begin(), c.record(1), c.hangup()), "dropped"),
        ("silent-recording-dropped", lambda c: (c.begin(), c.record(5, amplitude=0), c.hangup()), "dropped"),
        ("finished-call", lambda c: (c.begin(), c.record(4), c.hangup()), "ingested"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_event_edge_cases(line_factory: Any, case_id: str, prepare: Any, expected: str) -> None:
    line: Line = await line_factory()
    call = line.call(uniqueid="1700000002.3")
    prepare(call)
    outcome = await line.channel.ingest.on_event(
        {"gwfile": f"/elsewhere/incoming/{call.uniqueid}.wav", "uniqueid": call.uniqueid}
    )
    assert outcome == expected
    if expected == "pending":  # still in incoming/, ingested once the handler finishes
        assert call.meta.exists()
    if expected in ("dropped", "no_audio"):
        assert (line.spool / "dropped" / f"{call.uniqueid}.meta").exists()


async def test_half_written_sidecar_completes_later(line_factory: Any) -> None:
    line: Line = await line_factory()
    call = line.call(uniqueid="1700000003.1")
    call.begin()
    call.record(4)
    call.append("status=SIL", end="")  # the hangup handler is mid-write
    assert await line.channel.ingest.ingest(call.uniqueid) == "pending"
    call.append("ENCE")
    assert await line.channel.ingest.ingest(call.uniqueid) == "ingested"
    assert await line.recordings() == 1


async def test_duplicate_events_ingest_once(line_factory: Any) -> None:
    line: Line = await line_factory()
    call = line.call(uniqueid="1700000004.9")
    call.begin()
    call.record(4)
    call.hangup()
    await asyncio.gather(*(call.poke(line.sim) for _ in range(3)), line.channel.ingest.reconcile())
    await eventually(lambda: _filed(call), "filed")
    await call.poke(line.sim)
    await eventually(lambda: _true(line.channel.ingest.stats["missing"] >= 1), "late event seen")
    assert await line.recordings() == 1


async def _true(value: bool) -> bool:
    return value


async def test_lost_ami_connection_reconciles_after_relogin(line_factory: Any, sim: AMISim) -> None:
    line: Line = await line_factory()
    logins = line.channel.ami.logins
    await sim.stop()  # Asterisk restarts; meanwhile a call finishes and its event is lost
    call = line.call(uniqueid="1700000005.2")
    call.begin()
    call.record(4)
    call.hangup()
    await sim.start(sim.port)
    await eventually(lambda: _true(line.channel.ami.logins > logins), "AMI re-login")
    await eventually(lambda: _filed(call), "reconciled after re-login")
    assert await line.recordings() == 1


async def test_anonymous_caller_recording_appends_to_reserved_case(line_factory: Any) -> None:
    line: Line = await line_factory()
    call = line.call(uniqueid="1700000006.4", callerid="anonymous", category="2")
    call.begin()
    agi = await call.reserve(line.agi_port)
    call.record(5)
    call.hangup()
    await call.poke(line.sim)
    await eventually(lambda: _filed(call), "filed")
    [case] = await line.cases()
    assert agi.variables["CASE_CODE"] == case.code and case.contact is None and case.kind == "suggestion"
    assert len(await line.voice_messages(case)) == 2  # the reservation and the recording


async def test_short_recording_kept_when_configured(line_factory: Any) -> None:
    line: Line = await line_factory(short_recordings="keep")
    call = line.call(uniqueid="1700000007.5")
    call.begin()
    call.record(1)
    call.hangup()
    assert await line.channel.ingest.ingest(call.uniqueid) == "ingested"
    assert await line.recordings() == 1


async def test_reserve_case_when_gateway_cannot_answer(line_factory: Any) -> None:
    line: Line = await line_factory()
    await line.ctx.intake.stop()  # the database writer is gone
    agi = await FakeAsterisk(line.agi_port, "reserve-case", ["1700000008.1", "1"]).call()
    assert agi.variables == {"CASE_CODE": ""}  # dialplan: "code by SMS", record anyway
    line.ctx.intake.start()
