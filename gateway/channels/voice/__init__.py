"""The voice channel: an Asterisk suggestion-box line (AMI + FastAGI + a shared spool).

Files: ``ami`` (our asyncio AMI client), ``agi`` (FastAGI server), ``calls`` (the AGI
routes: reserve-case, case-status, survey), ``recordings`` (spool ingest and reconcile),
``sender`` (callback answers by Originate), ``tts`` (espeak-ng + sox), ``parse`` (pure
functions), ``spool`` (folder layout).  The dialplan lives in config/asterisk/.

Several processes may run the channel: each serves FastAGI and keeps an AMI link (for
Originate), but only the holder of the ``voice:spool`` lease ingests recordings, so two
processes do not race over the same files (the dedupe ledger would catch it anyway).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from gateway.channels.voice.agi import AgiServer
from gateway.channels.voice.ami import AmiClient, AmiMessage
from gateway.channels.voice.calls import CallRoutes
from gateway.channels.voice.recordings import RecordingIngest
from gateway.channels.voice.sender import VoiceSender
from gateway.channels.voice.spool import SpoolPaths
from gateway.core.context import GatewayContext

log = logging.getLogger(__name__)

LEASE = "voice:spool"


class VoiceChannel:
    """The running channel: FastAGI server, AMI client, spool reconciler, sender."""

    name = "voice"

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx, cfg = ctx, ctx.config.voice
        self.spool = SpoolPaths.from_config(ctx.config)
        self.ingest = RecordingIngest(ctx, self.spool)
        self.ami = AmiClient(
            cfg.ami.host,
            cfg.ami.port,
            cfg.ami.username,
            ctx.config.secret(cfg.ami.secret_env) or "",
            action_timeout=cfg.ami.action_timeout_seconds,
            ping_seconds=cfg.ami.ping_seconds,
            reconnect_max=cfg.ami.reconnect_max_seconds,
            on_event=self._on_event,
            on_login=self.kick,
        )
        self.agi = AgiServer(
            CallRoutes(ctx, self.spool).table(),
            command_timeout=cfg.agi.command_timeout_seconds,
            allow_from=cfg.agi.allow_from,
        )
        self.sender = VoiceSender(ctx, self.spool, self.ami)
        ctx.senders.register("voice", self.sender)
        # AMI UserEvent names (the dialplan's UserEvent(Name,...)) -> handler.
        self.user_events: dict[str, Callable[[dict[str, str]], Awaitable[str]]] = {
            "FeedbackRecorded": self.ingest.on_event,
        }
        self.holds_spool = False
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def routes(self) -> Sequence[Any]:
        return []

    async def start(self) -> None:
        await asyncio.to_thread(self.spool.create)
        cfg = self.ctx.config.voice
        if cfg.agi.enabled:
            await self.agi.start(cfg.agi.host, cfg.agi.port)
            log.info("FastAGI on %s:%d", cfg.agi.host, self.agi.port)
        self.ami.start()
        self._stopping = False
        self._task = asyncio.create_task(self._maintain(), name="voice-reconcile")

    async def stop(self) -> None:
        if self._task is not None:
            # a flag as well as the cancel: Python 3.11's wait_for drops a cancellation that
            # arrives as the kick is set, and the loop would run on (see core.spool_drain)
            self._stopping = True
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.agi.stop()
        await self.ami.stop()
        try:
            await self.ctx.leases.release(LEASE)
        except Exception:  # noqa: BLE001 - the lease expires by itself
            log.warning("could not release the voice spool lease")
        self.holds_spool = False

    def kick(self) -> None:
        """Reconcile now (called on every AMI login: events may have been missed)."""
        self._kick.set()

    async def _on_event(self, msg: AmiMessage) -> None:
        if msg.event != "UserEvent":
            return
        handler = self.user_events.get(msg.get("UserEvent"))
        if handler is not None and self.holds_spool:
            await handler(msg.headers())

    async def _maintain(self) -> None:
        """Hold the spool lease and reconcile on start, when kicked and periodically."""
        cfg = self.ctx.config.voice
        tick = min(cfg.reconcile_seconds, self.ctx.leases.retry)
        last = 0.0
        while not self._stopping:
            try:
                self.holds_spool = await self.ctx.leases.hold(LEASE)
                due = self._kick.is_set() or time.monotonic() - last >= cfg.reconcile_seconds
                if self.holds_spool and due:
                    self._kick.clear()
                    last = time.monotonic()
                    await self.ingest.reconcile()
            except Exception:
                log.exception("voice reconcile pass failed")
            try:
                await asyncio.wait_for(self._kick.wait(), tick)
            except TimeoutError:
                pass


def create(ctx: GatewayContext) -> VoiceChannel | None:
    """The voice channel when ``voice.enabled``; None otherwise (the file sender stands in)."""
    if not ctx.config.voice.enabled:
        return None
    return VoiceChannel(ctx)
