"""Recordings from the spool become cases; nothing is lost, nothing ingested twice.

The file on Asterisk's disk is the source of truth (README
"Voice").  The ``FeedbackRecorded`` UserEvent is only the fast path; :meth:`reconcile` scans
``incoming/`` on start, on every AMI login and periodically, through the same
:meth:`RecordingIngest.ingest`.  The key is the call's Asterisk uniqueid (the intake dedupe
ledger turns a second ingest into ``duplicate``); files move to ``done/`` only after
``ctx.intake.submit`` returned, i.e. after the commit that holds the case and its audio.
A sidecar without its ``status=`` line is a call still in progress, unless it is older than
the longest recording plus a margin (Asterisk died mid-call): then it is ingested as is.
A recording without any sidecar is ingested too, flagged for staff (:mod:`spool_reader`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from datetime import UTC, datetime

from gateway.channels.voice.calls import PROVIDER, SUBJECT, reserve_key
from gateway.channels.voice.parse import (
    CATEGORY_KINDS,
    caller_e164,
    describe,
    is_iranian_mobile,
    uniqueid_from_event,
    wav_info,
)
from gateway.channels.voice.spool import SpoolPaths
from gateway.channels.voice.spool_reader import Loaded, list_calls, load_call
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.messages import Channel, InboundAttachment, InboundMessage

log = logging.getLogger(__name__)


class RecordingIngest:
    """Turns spool entries into intake submissions and files them away afterwards."""

    def __init__(self, ctx: GatewayContext, spool: SpoolPaths) -> None:
        self.ctx, self.spool, self.voice = ctx, spool, ctx.config.voice
        self.stats: Counter[str] = Counter()
        self._busy: set[str] = set()  # uniqueids in flight (an event racing a scan)
        self._scan = asyncio.Lock()

    async def on_event(self, headers: dict[str, str]) -> str:
        """Handle a ``FeedbackRecorded`` UserEvent (headers lower-cased)."""
        uid = uniqueid_from_event(headers)
        if uid is None:
            log.warning("FeedbackRecorded event without a usable file name")
            return self._count("bad_event")
        return await self.ingest(uid, source="event", event=headers)

    async def reconcile(self) -> Counter[str]:
        """Scan ``incoming/`` and ingest every finished call; one scan at a time."""
        async with self._scan:
            names = await asyncio.to_thread(list_calls, self.spool.incoming)
            gate = asyncio.Semaphore(self.voice.reconcile_concurrency)

            async def one(uid: str) -> str:
                async with gate:
                    return await self.ingest(uid, source="scan")

            outcomes = Counter(await asyncio.gather(*(one(u) for u in names)))
        if outcomes:
            log.info("voice reconcile: %s", dict(outcomes))
        return outcomes

    async def ingest(self, uid: str, source: str = "scan", event: dict[str, str] | None = None) -> str:
        """Ingest one call; return an outcome word (ingested, duplicate, pending, ...)."""
        if uid in self._busy:
            return self._count("busy")
        self._busy.add(uid)
        try:
            loaded = await asyncio.to_thread(
                load_call, self.spool.incoming, uid, self.voice.max_record_seconds, event=event
            )
            if loaded is None:
                log.info("voice %s: nothing in incoming/ for %s (already filed)", source, uid)
                return self._count("missing")
            if not loaded.sidecar.complete:
                return self._count("pending")
            return self._count(await self._ingest(loaded, source))
        finally:
            self._busy.discard(uid)

    async def _ingest(self, loaded: Loaded, source: str) -> str:
        sc, uid = loaded.sidecar, loaded.sidecar.uniqueid
        if loaded.audio is None:
            if (self.spool.done / f"{uid}.wav").exists():
                await asyncio.to_thread(self._file, uid, self.spool.done)  # crashed mid-move
                return "duplicate"
            log.info("voice %s: call %s left no recording (%s)", source, uid, sc.status)
            await asyncio.to_thread(self._file, uid, self.spool.dropped)
            return "no_audio"
        info = wav_info(loaded.audio)
        seconds = info.seconds if info else 0.0
        short = info is None or seconds < self.voice.min_seconds or info.peak < self.voice.silence_peak
        if short and self.voice.short_recordings == "drop":
            log.info("voice: dropped short or silent recording %s (%.1f s)", uid, seconds)
            await asyncio.to_thread(self._file, uid, self.spool.dropped)
            return "dropped"
        try:
            # Store the audio first, in parallel with other calls: the single intake writer
            # then finds it in place instead of paying one fsync per recording (content-addressed).
            await self.ctx.store.put(loaded.audio)
            result = await self.ctx.intake.submit(self.message(loaded, seconds, source))
        except (DatabaseUnavailable, OSError):
            log.warning("voice: database or store unavailable; %s stays in the spool", uid)
            return "failed"
        except Exception:
            log.exception("voice: intake failed for %s; it stays in the spool", uid)
            return "failed"
        if not result.stored:
            log.warning("voice: recording %s not stored (%s); parked", uid, result.reason)
            await asyncio.to_thread(self._file, uid, self.spool.dropped)
            return "rejected"
        await asyncio.to_thread(self._file, uid, self.spool.done)
        return "duplicate" if result.outcome.value == "duplicate" else "ingested"

    def message(self, loaded: Loaded, seconds: float, source: str) -> InboundMessage:
        """The InboundMessage for one finished recording."""
        sc, audio = loaded.sidecar, loaded.audio or b""
        caller = caller_e164(sc.caller)
        code = sc.case_code if sc.case_code.isdigit() else ""
        meta: dict[str, object] = {
            "uniqueid": sc.uniqueid,
            "record_status": sc.status,
            "seconds": round(seconds, 1),
            "category": sc.category,
            "source": source,
        }
        if loaded.review:
            meta["review"] = loaded.review
            log.warning("voice %s: recording %s had no sidecar; flagged for staff", source, sc.uniqueid)
        ack, ack_channel, reserved = False, None, None
        if code or loaded.review:
            # the code was spoken in the call; without a sidecar the call's reservation (if
            # the FastAGI call got that far) still knows the caller and the category
            reserved = reserve_key(sc.uniqueid)
        elif caller and is_iranian_mobile(caller) and self.voice.sms_to_mobiles:
            ack_channel, ack = Channel.SMS, True  # gateway was unreachable: text the code
        elif caller and self.voice.callback.ack_by_callback:
            ack_channel, ack = Channel.VOICE, True
        started = datetime.fromtimestamp(sc.started, UTC) if sc.started else None
        return InboundMessage(
            channel=Channel.VOICE,
            provider=PROVIDER,
            external_id=sc.uniqueid,
            sender=caller,
            subject=SUBJECT,
            text=describe(seconds, review=bool(loaded.review)),
            attachments=[InboundAttachment(f"{sc.uniqueid}.wav", "audio/wav", audio)],
            kind_hint=CATEGORY_KINDS.get(sc.category),
            tracking_code=code or None,
            acknowledge=ack,
            ack_channel=ack_channel,
            reserved_key=reserved,
            language="fa",
            received_at=started,
            meta=meta,
        )

    def _file(self, uid: str, folder: os.PathLike[str]) -> None:
        """Move a call's files out of incoming/ (audio first: the sidecar is the scan key)."""
        for suffix in (".wav", ".meta"):
            try:
                os.replace(self.spool.incoming / f"{uid}{suffix}", os.path.join(folder, f"{uid}{suffix}"))
            except FileNotFoundError:
                pass

    def _count(self, outcome: str) -> str:
        self.stats[outcome] += 1
        return outcome
