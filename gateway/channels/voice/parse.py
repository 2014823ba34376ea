"""Pure functions of the voice channel: sidecars, events, caller ids, spoken text.

Nothing here does I/O.  The sidecar ``<uniqueid>.meta`` is written by the dialplan with
``Set(FILE(...,,,al,u)=key=value)`` (one line per key, appended); the hangup handler's
``status=`` line is the completion marker (config/asterisk/extensions.conf).
"""

from __future__ import annotations

import array
import io
import re
import struct
import sys
import wave
from dataclasses import dataclass

import phonenumbers

from gateway.core.messages import Kind
from gateway.core.text import to_ascii_digits, to_persian_digits

# Keypad category chosen in the dialplan (prompt "choose-category") -> kind of case.
CATEGORY_KINDS: dict[str, Kind] = {
    "1": Kind.COMPLAINT,
    "2": Kind.SUGGESTION,
    "3": Kind.CRITICISM,
    "4": Kind.REQUEST,
    "5": Kind.VIOLATION_REPORT,
}

# RECORD_STATUS values of app_record, plus ours for calls that never reached the hangup handler.
RECORD_STATUSES = frozenset({"DTMF", "SILENCE", "SKIP", "TIMEOUT", "HANGUP", "ERROR", "ABANDONED", "CRASHED"})

# A uniqueid names files in the spool: keep it to a safe shape (no paths, no dot files).
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,149}$")
_URL = re.compile(r"https?://\S+")
_DIGIT_RUN = re.compile(r"[0-9۰-۹٠-٩]+")


@dataclass(frozen=True, slots=True)
class Sidecar:
    """What the dialplan wrote about one call."""

    uniqueid: str
    caller: str = ""
    category: str = ""
    started: int | None = None
    case_code: str = ""
    status: str = ""  # empty until the hangup handler ran
    ended: int | None = None

    @property
    def complete(self) -> bool:
        """True once the hangup handler wrote its status line."""
        return bool(self.status)


def safe_uniqueid(value: str | None) -> str | None:
    """The uniqueid if it is safe to use as a file name, else None."""
    value = (value or "").strip()
    return value if _SAFE_ID.match(value) and ".." not in value else None


def parse_sidecar(text: str, uniqueid: str) -> Sidecar:
    """Parse a sidecar; a last line without its newline is still being written: ignored."""
    lines = text.split("\n")
    if lines and lines[-1] != "":
        lines = lines[:-1]  # half-written line
    fields: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return Sidecar(
        uniqueid=uniqueid,
        caller=fields.get("callerid", ""),
        category=fields.get("category", ""),
        started=_int(fields.get("started")),
        case_code=to_ascii_digits(fields.get("case", "")),
        status=fields.get("status", "").upper(),
        ended=_int(fields.get("ended")),
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def uniqueid_from_event(headers: dict[str, str]) -> str | None:
    """The recording's uniqueid from a FeedbackRecorded UserEvent (GwFile first, then Uniqueid)."""
    path = headers.get("gwfile") or ""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if name.endswith(".wav"):
        name = name[:-4]
    return safe_uniqueid(name) or safe_uniqueid(headers.get("uniqueid"))


def caller_e164(raw: str | None, region: str = "IR") -> str | None:
    """A caller id as E.164 (+98...), or None when absent, anonymous or not a valid number."""
    digits = to_ascii_digits((raw or "").strip())
    if not digits or not re.fullmatch(r"\+?[0-9]{5,16}", digits):
        return None
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_iranian_mobile(e164: str | None) -> bool:
    """True for +989... numbers (they can receive SMS)."""
    return bool(e164) and e164.startswith("+989") and len(e164) == 13


def dial_number(e164: str, fmt: str) -> str:
    """The number as the trunk wants it: national (09121234567) or E.164."""
    if fmt == "e164":
        return e164
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL).replace(" ", "")


def spoken_text(text: str) -> str:
    """Text for Persian TTS: links dropped, every digit spoken alone ("۱ ۲ ۳", not a number)."""
    text = _URL.sub("", text)
    text = _DIGIT_RUN.sub(lambda m: " ".join(to_persian_digits(m.group(0))), text)
    return re.sub(r"\s+", " ", text).strip()


# Shown to staff on a recording whose sidecar was never written (caller, category unknown).
REVIEW_NOTE = "اطلاعات همراه این تماس ثبت نشد؛ شماره تماس‌گیرنده و دسته را بررسی کنید."


def describe(seconds: float, review: bool = False) -> str:
    """The case message text of a recording, e.g. «پیام صوتی (۳۵ ثانیه)» (+ a note for staff)."""
    text = f"پیام صوتی ({to_persian_digits(str(round(seconds)))} ثانیه)"
    return f"{text} — {REVIEW_NOTE}" if review else text


@dataclass(frozen=True, slots=True)
class WavInfo:
    """Length and loudness of a recording."""

    seconds: float
    peak: int  # largest 16-bit sample magnitude (0 for other sample widths)


def repair_wav(data: bytes) -> bytes:
    """Size the data chunk by the file when its header says 0 bytes or more than there is.

    Asterisk's format_wav writes the RIFF and data sizes when it closes the file, so a
    recording cut by an Asterisk crash (or still being written) says "0 bytes" while the
    audio is all there; a truncated copy claims more than it holds.  Any other file (a
    smaller non-zero size may be followed by other chunks) is returned unchanged.
    """
    at = data.find(b"data", 12)
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE" or at < 0 or len(data) < at + 8:
        return data
    actual = len(data) - at - 8
    declared = struct.unpack_from("<I", data, at + 4)[0]
    if declared == actual or 0 < declared < actual:
        return data
    actual -= actual % 2  # whole 16-bit samples
    return (
        data[:4]
        + struct.pack("<I", at + actual)
        + data[8 : at + 4]
        + struct.pack("<I", actual)
        + data[at + 8 : at + 8 + actual]
    )


def wav_info(data: bytes) -> WavInfo | None:
    """Duration and peak of a WAV file, or None if it is not a readable WAV."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, width, frames = w.getframerate(), w.getsampwidth(), w.getnframes()
            pcm = w.readframes(frames)
    except (wave.Error, EOFError, ValueError):
        return None
    if rate <= 0:
        return None
    peak = 0
    if width == 2 and len(pcm) >= 2:
        samples = array.array("h")
        samples.frombytes(pcm[: len(pcm) // 2 * 2])
        if sys.byteorder == "big":
            samples.byteswap()  # WAV is little-endian
        peak = max(max(samples), -min(samples))
    return WavInfo(seconds=frames / rate, peak=peak)
