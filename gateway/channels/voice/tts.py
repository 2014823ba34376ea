"""Persian text to an 8 kHz mono 16-bit WAV that Asterisk's format_wav plays.

``espeak-ng -v fa --stdout TEXT | sox -t wav - -r 8000 -c 1 -b 16 -e signed-integer OUT``
(Debian packages espeak-ng and sox).  The
text goes through :func:`~gateway.channels.voice.parse.spoken_text` first so that codes are
read digit by digit.  Files are written under a temporary name and renamed, so Asterisk
never plays half a file, and an existing file is reused (a retried callback says the same).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from gateway.channels.voice.parse import spoken_text

TIMEOUT_SECONDS = 30

# sox output format of every prompt and answer: what Asterisk plays without transcoding.
TELEPHONY_WAV = ("-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer")


class TtsError(Exception):
    """Synthesis failed (tool missing or it exited with an error)."""


async def synthesise(text: str, out: Path, *, voice: str = "fa", rate: int = 150) -> Path:
    """Write ``out`` (``.wav``) with ``text`` spoken; return the path."""
    if out.exists():
        return out
    words = spoken_text(text) or "."
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.wav")
    try:
        read_fd, write_fd = os.pipe()
        try:
            espeak = await asyncio.create_subprocess_exec(
                "espeak-ng",
                "-v",
                voice,
                "-s",
                str(rate),
                "--stdout",
                words,
                stdout=write_fd,
                stderr=asyncio.subprocess.DEVNULL,
            )
            sox = await asyncio.create_subprocess_exec(
                "sox",
                "-q",
                "-t",
                "wav",
                "-",
                *TELEPHONY_WAV,
                str(tmp),
                stdin=read_fd,
                stderr=asyncio.subprocess.PIPE,
            )
        finally:
            os.close(read_fd)
            os.close(write_fd)
        codes = await asyncio.wait_for(asyncio.gather(espeak.wait(), sox.wait()), TIMEOUT_SECONDS)
    except FileNotFoundError as e:
        raise TtsError(f"not installed: {e.filename}") from e
    except TimeoutError as e:
        for proc in (espeak, sox):
            if proc.returncode is None:
                proc.kill()
        raise TtsError("synthesis timed out") from e
    if codes != [0, 0] or not tmp.exists():
        tmp.unlink(missing_ok=True)
        raise TtsError(f"espeak-ng/sox exited with {codes}")
    os.replace(tmp, out)
    return out
