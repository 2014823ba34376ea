"""A dialplan that fails to write the sidecar (as the shipped one did on Asterisk 22) loses no
voice message: the recording is ingested from the FeedbackRecorded event or, with no event,
once it is older than the longest recording; flagged for staff, never left in incoming/."""

from __future__ import annotations

import os
import struct
import time
from typing import Any

import pytest

from gateway.channels.voice.parse import REVIEW_NOTE, repair_wav, wav_info
from tests.peers import eventually
from tests.peers.voice_dialplan import Call, make_wav
from tests.test_voice_channel import Line, line_factory, sim


async def _gone_from_incoming(line: Line) -> bool:
    return not any((line.spool / "incoming").iterdir())


async def test_event_without_sidecar_attaches_to_the_reserved_case(line_factory: Any) -> None:
    line: Line = await line_factory()
    call = line.call(uniqueid="1700000020.1", callerid="09121234567", category="3")
    agi = await call.reserve(line.agi_port)  # the FastAGI call reserved the case and said the code
    call.meta.unlink()  # ... but no FILE() line ever reached the disk
    audio = call.record(seconds=5)
    await call.poke(line.sim, code=agi.variables["CASE_CODE"])
    await eventually(lambda: _gone_from_incoming(line), "recording filed")

    [case] = await line.cases()
    assert case.code == agi.variables["CASE_CODE"] and case.contact == "+989121234567"
    assert case.kind == "criticism"
    [(msg, [att])] = [(m, a) for m, a in await line.voice_messages(case) if a]
    assert msg.text.endswith(REVIEW_NOTE) and msg.meta["review"] == "no_sidecar"
    assert msg.meta["record_status"] == "SILENCE" and msg.meta["source"] == "event"
    assert await line.ctx.store.get(att.sha256) == audio
    assert (line.spool / "done" / f"{call.uniqueid}.wav").exists()


@pytest.mark.parametrize("reserved", [True, False], ids=["reservation-made", "agi-never-reached"])
async def test_orphan_recording_found_by_scan_once_old_enough(line_factory: Any, reserved: bool) -> None:
    line: Line = await line_factory(max_record_seconds=30)
    call = line.call(uniqueid="1700000021.5", callerid="09127654321")
    agi = await call.reserve(line.agi_port) if reserved else None
    if call.meta.exists():
        call.meta.unlink()
    call.wav.parent.mkdir(parents=True, exist_ok=True)
    call.record(seconds=4)  # the gateway was down: no event either

    assert (await line.channel.ingest.reconcile())["pending"] == 1  # may still be recording
    assert call.wav.exists()
    old = time.time() - (30 + 60)  # older than the longest recording plus the margin
    os.utime(call.wav, (old, old))
    await line.channel.ingest.reconcile()  # (or the channel's own periodic pass)
    await eventually(lambda: _gone_from_incoming(line), "the orphan recording filed")
    cases = await line.cases()
    [case] = cases
    recordings = [(m, a) for m, a in await line.voice_messages(case) if a]
    [(msg, [att])] = recordings
    assert msg.meta["review"] == "no_sidecar" and msg.text.endswith(REVIEW_NOTE)
    if agi is not None:  # the reservation knew the caller: the case has the number and the code
        assert case.code == agi.variables["CASE_CODE"] and case.contact == "+989127654321"
    else:
        assert case.contact is None
    assert (await line.channel.ingest.reconcile()) == {}  # nothing left, nothing twice
    assert await line.recordings() == 1


async def test_orphan_sidecar_less_short_recording_is_dropped_not_left(line_factory: Any) -> None:
    line: Line = await line_factory()
    call = Call(line.spool, uniqueid="1700000022.2")
    call.wav.parent.mkdir(parents=True, exist_ok=True)
    call.record(seconds=0.5)
    old = time.time() - 3600
    os.utime(call.wav, (old, old))
    await line.channel.ingest.reconcile()  # (or the channel's own pass on start)
    await eventually(lambda: _gone_from_incoming(line), "the short orphan filed")
    assert (line.spool / "dropped" / f"{call.uniqueid}.wav").exists() and await line.recordings() == 0


def _cut_header(wav: bytes) -> bytes:
    """What format_wav leaves when Asterisk dies mid-recording: sizes still zero."""
    at = wav.find(b"data")
    return wav[:4] + struct.pack("<I", 0) + wav[8 : at + 4] + struct.pack("<I", 0) + wav[at + 8 :]


@pytest.mark.parametrize(
    "mangle, seconds",
    [
        pytest.param(lambda w: w, 3.0, id="intact"),
        pytest.param(_cut_header, 3.0, id="sizes-zero-after-crash"),
        pytest.param(lambda w: _cut_header(w) + b"\x01", 3.0, id="odd-trailing-byte"),
        pytest.param(lambda w: w[:-800], 2.95, id="truncated-but-header-says-more"),
    ],
)
def test_repair_wav_sizes_the_data_by_the_file(mangle: Any, seconds: float) -> None:
    wav = make_wav(None, 3.0)
    info = wav_info(repair_wav(mangle(wav)))
    assert info is not None and info.seconds == pytest.approx(seconds, abs=0.01) and info.peak > 7000


def test_repair_wav_leaves_other_files_alone() -> None:
    assert repair_wav(b"not a wav") == b"not a wav"
    assert repair_wav(b"RIFF\x00\x00\x00\x00WAVEfmt ") == b"RIFF\x00\x00\x00\x00WAVEfmt "
