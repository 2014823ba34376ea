"""Reading one call from the spool's ``incoming/``: its sidecar when the dialplan wrote one,
else what the ``FeedbackRecorded`` event or the recording itself can tell.

The dialplan writes ``<uniqueid>.meta`` before anything else, but a PBX can fail to (a
FILE() mode its version does not accept, func_env not loaded, a full or read-only disk).
The recording must still become a case: with the event's snapshot (caller id, category,
the code that was said) when the event arrives, or, found by a scan with no event, once
the file is older than the longest recording plus a margin (nobody is writing it).  Such a
call is flagged (:attr:`Loaded.review`) so that staff check what could not be known.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from gateway.channels.voice.parse import Sidecar, parse_sidecar, repair_wav, safe_uniqueid
from gateway.core.text import to_ascii_digits

CRASH_MARGIN_SECONDS = 60
NO_SIDECAR = "no_sidecar"  # Loaded.review: the dialplan wrote no sidecar for this call


@dataclass(frozen=True, slots=True)
class Loaded:
    """A call's sidecar and audio as read from the spool (``audio`` None: not there yet)."""

    sidecar: Sidecar
    audio: bytes | None
    review: str = ""  # why staff should check the case ("" when the sidecar was complete)


def list_calls(incoming: Path) -> list[str]:
    """The uniqueids in ``incoming/``: every sidecar, and every recording without one."""
    metas, wavs = set(), set()
    with os.scandir(incoming) as it:
        for entry in it:
            stem, dot, suffix = entry.name.rpartition(".")
            uid = safe_uniqueid(stem) if dot else None
            if uid is not None and suffix in ("meta", "wav"):
                (metas if suffix == "meta" else wavs).add(uid)
    return sorted(metas | wavs)


def sidecar_from_event(uid: str, headers: dict[str, str]) -> Sidecar:
    """What the hangup handler's ``FeedbackRecorded`` event says about the call."""
    status = (headers.get("gwstatus") or "").strip().upper() or "ABANDONED"
    return Sidecar(
        uniqueid=uid,
        caller=headers.get("calleridnum", ""),
        category=headers.get("gwcategory", "").strip(),
        case_code=to_ascii_digits(headers.get("gwcase", "").strip()),
        status=status,
    )


def load_call(
    incoming: Path,
    uid: str,
    max_record_seconds: float,
    *,
    event: dict[str, str] | None = None,
    now: float | None = None,
) -> Loaded | None:
    """Read one call; None when neither its sidecar nor its recording is in ``incoming/``."""
    now = time.time() if now is None else now
    oldest = max_record_seconds + CRASH_MARGIN_SECONDS
    wav, review = incoming / f"{uid}.wav", ""
    try:
        meta = incoming / f"{uid}.meta"
        sidecar, mtime = parse_sidecar(meta.read_text("utf-8", errors="replace"), uid), meta.stat().st_mtime
    except FileNotFoundError:
        try:
            mtime = wav.stat().st_mtime
        except FileNotFoundError:
            return None
        if event is not None:
            sidecar = sidecar_from_event(uid, event)
        elif now - mtime >= oldest:
            sidecar = Sidecar(uniqueid=uid, status="NOSIDECAR")
        else:
            return Loaded(Sidecar(uniqueid=uid), None)  # maybe still recording: later
        review = NO_SIDECAR
    if not sidecar.complete:
        if now - (sidecar.started or mtime) < oldest:
            return Loaded(sidecar, None)
        sidecar = replace(sidecar, status="CRASHED")  # the hangup handler never ran
    try:
        audio: bytes | None = repair_wav(wav.read_bytes())
    except FileNotFoundError:
        audio = None
    return Loaded(sidecar, audio, review)
