"""The sample dialplan's [feedback-record] steps, played by the tests instead of Asterisk.

It writes the sidecar lines exactly as ``Set(FILE(${META},,,al,u)=key=value)`` does (one
line each, appended), asks the gateway's FastAGI ``reserve-case`` route for a code, writes
the WAV as ``Record()`` would, then the hangup handler's ``status=``/``ended=`` lines and
the ``FeedbackRecorded`` UserEvent through the AMI simulator.
"""

from __future__ import annotations

import io
import math
import random
import struct
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from tests.peers.agi_client import FakeAsterisk
from tests.peers.ami_sim import AMISim


def wav_container(frames: bytes) -> bytes:
    """16-bit mono 8 kHz PCM frames wrapped as a WAV file (what Asterisk's Record writes)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)
    return buf.getvalue()


def make_wav(path: Path | None, seconds: float, amplitude: int = 8000, seed: int = 1) -> bytes:
    """An 8 kHz mono 16-bit WAV (a tone with a little noise); written to ``path`` if given."""
    rng = random.Random(seed)
    n = int(seconds * 8000)
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(i / 8.0)) + rng.randint(-50, 50) if amplitude else 0)
        for i in range(n)
    )
    data = wav_container(frames)
    if path is not None:
        path.write_bytes(data)
    return data


@dataclass
class Call:
    """One caller leaving a message on the suggestion line."""

    spool: Path
    uniqueid: str = "1700000000.42"
    callerid: str = "09121234567"
    category: str = "1"
    started: int = field(default_factory=lambda: int(time.time()))

    @property
    def meta(self) -> Path:
        return self.spool / "incoming" / f"{self.uniqueid}.meta"

    @property
    def wav(self) -> Path:
        return self.spool / "incoming" / f"{self.uniqueid}.wav"

    def append(self, line: str, end: str = "\n") -> None:
        with self.meta.open("a", encoding="utf-8") as f:
            f.write(line + end)

    def begin(self) -> None:
        """The lines written before anything can fail."""
        self.meta.parent.mkdir(parents=True, exist_ok=True)
        for line in (
            f"uniqueid={self.uniqueid}",
            f"callerid={self.callerid}",
            f"category={self.category}",
            f"started={self.started}",
        ):
            self.append(line)

    async def reserve(self, agi_port: int) -> FakeAsterisk:
        """AGI(agi://.../reserve-case,${UNIQUEID},${CATEGORY}); on success: case=... line."""
        agi = await FakeAsterisk(
            agi_port, "reserve-case", [self.uniqueid, self.category], callerid=self.callerid, uniqueid=self.uniqueid
        ).call()
        if agi.variables.get("CASE_CODE"):
            self.append(f"case={agi.variables['CASE_CODE']}")
        return agi

    def record(self, seconds: float = 6.0, amplitude: int = 8000) -> bytes:
        return make_wav(self.wav, seconds, amplitude, seed=sum(map(ord, self.uniqueid)))

    def hangup(self, status: str = "SILENCE") -> None:
        """The hangup handler's completion marker."""
        self.append(f"status={status}")
        self.append(f"ended={self.started + 30}")

    async def poke(self, sim: AMISim, split_at: int | None = None, code: str = "") -> None:
        """UserEvent(FeedbackRecorded,GwFile: ...,GwStatus: ...,GwCategory: ...,GwCase: ...)."""
        await sim.user_event(
            "FeedbackRecorded",
            [
                ("GwFile", f"/var/spool/asterisk/feedback/incoming/{self.uniqueid}.wav"),
                ("GwStatus", "SILENCE"),
                ("GwCategory", self.category),
                ("GwCase", code),
            ],
            uniqueid=self.uniqueid,
            callerid=self.callerid,
            split_at=split_at,
        )
