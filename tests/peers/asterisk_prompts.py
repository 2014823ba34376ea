"""Persian prompts for a real Asterisk, generated at test time from config/asterisk/prompts.txt
with espeak-ng and sox (8 kHz mono 16-bit WAV, what format_wav plays).

A deployment records these with a human voice; the tests only need each prompt to exist and
to be audible, so the texts in prompts.txt are spoken by the same TTS the gateway uses for
answers.  Also made here: the digits 0-9 for ``SayDigits``/``SAY DIGITS`` and the fake
caller's own speech.
"""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

from gateway.channels.voice.tts import TELEPHONY_WAV
from tests.peers import require_binary

PROMPTS = Path(__file__).resolve().parent.parent.parent / "config" / "asterisk" / "prompts.txt"
DIGITS = ["صفر", "یک", "دو", "سه", "چهار", "پنج", "شش", "هفت", "هشت", "نه"]
CALLER_SPEECH = "سلام. چراغ‌های خیابان بهار سه هفته است که خاموش است. لطفاً زودتر رسیدگی کنید. با تشکر."


def prompt_texts(text: str) -> dict[str, str]:
    """Name -> Persian text from prompts.txt (columns split by 2+ spaces; an indented line
    continues the previous one; ``a-q1 .. a-q4`` names a numbered series)."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        series = re.match(r"(\S+?\d+ \.\. \S+?\d+)\s+(.*)", line)
        cols = list(series.groups()) if series else re.split(r"\s{2,}", line.strip())
        if line[0].isspace() and entries:
            entries[-1][1] += " " + re.split(r"\s{2,}", line.strip())[0]
        elif len(cols) >= 2:
            entries.append([cols[0], re.split(r"\s{2,}", cols[1].strip())[0]])
    out: dict[str, str] = {}
    for name, words in entries:
        series = re.fullmatch(r"(.*?)(\d+) \.\. \1(\d+)", name)
        if series:
            first, last = int(series.group(2)), int(series.group(3))
            topics = words.split(":", 1)[-1].split("؛")[0].split(" / ")
            tail = words.split("؛", 1)[-1] if "؛" in words else ""
            for n in range(first, last + 1):
                topic = topics[n - first] if len(topics) == last - first + 1 else words
                out[f"{series.group(1)}{n}"] = f"{topic.strip()}؛ {tail.strip()}"
        else:
            out[name] = words
    return out


def speak(text: str, out: Path, rate: int = 190) -> None:
    """espeak-ng -v fa | sox -> an 8 kHz mono 16-bit WAV at ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    espeak = subprocess.run(
        ["espeak-ng", "-v", "fa", "-s", str(rate), "--stdout", text], check=True, capture_output=True, timeout=60
    )
    subprocess.run(
        [
            "sox",
            "-q",
            "-t",
            "wav",
            "-",
            *TELEPHONY_WAV,
            str(out),
            "vol",
            "0.9",
        ],
        input=espeak.stdout,
        check=True,
        timeout=60,
    )


def build_sounds(sounds: Path) -> Path:
    """Write ``fa/feedback/*.wav``, ``fa/digits/0-9.wav`` and ``fake/speech.wav`` under ``sounds``."""
    require_binary("espeak-ng", "espeak-ng")
    require_binary("sox", "sox")
    for name, words in prompt_texts(PROMPTS.read_text(encoding="utf-8")).items():
        speak(words, sounds / "fa" / "feedback" / f"{name}.wav")
    for n, word in enumerate(DIGITS):
        speak(word, sounds / "fa" / "digits" / f"{n}.wav")
    speak(CALLER_SPEECH, sounds / "fake" / "speech.wav", rate=150)
    subprocess.run(
        [
            "sox",
            "-q",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(sounds / "fa" / "beep.wav"),
            "synth",
            "0.25",
            "sine",
            "1000",
            "vol",
            "0.5",
        ],
        check=True,
        timeout=60,
    )  # Record()'s beep (the minimal root has no sounds)
    return sounds


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()
