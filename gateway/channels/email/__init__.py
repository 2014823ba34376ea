"""The email channel: our SMTP server, IMAP pollers, parsing, loop safety, outbound mail.

Convention: ``parse`` (with ``charsets``, ``body``, ``loops``) is pure; ``inbound`` turns a
parsed mail into an ``InboundMessage``; ``smtp_server``/``spool`` and ``imap_poller`` are
the inbound edges; ``sender`` builds and sends what we write; ``importer`` backs
``gateway import-eml``.  Nothing here touches the database: it goes through ``ctx``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from gateway.channels.email import worker
from gateway.channels.email.imap_poller import ImapPoller
from gateway.channels.email.inbound import MailIntake
from gateway.channels.email.sender import EmlFolderSender, SmtpRelaySender
from gateway.channels.email.smtp_server import SmtpHandler, SmtpServer
from gateway.channels.email.spool import MailDrainer, mail_spool
from gateway.core.context import GatewayContext

log = logging.getLogger(__name__)


class EmailPlugin:
    """The running email channel (a :class:`gateway.core.channel.ChannelPlugin`)."""

    name = "email"

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.holder = ctx.leases.name  # the lease holder (gateway.core.leases)
        self.intake = MailIntake(ctx)
        self.spool = mail_spool(ctx)
        self.drainer = MailDrainer(ctx, self.intake, self.spool)
        self.smtp: SmtpServer | None = None
        if ctx.config.email.smtp.enabled:
            self.smtp = SmtpServer(ctx.config, SmtpHandler(ctx.config, self.intake, self.spool))
        self.pollers = [ImapPoller(ctx, self.intake, box, self.holder, self.spool) for box in ctx.config.email.imap]
        self._tasks: list[asyncio.Task[None]] = []

    def routes(self) -> Sequence[Any]:
        return []

    async def start(self) -> None:
        self.spool.start()
        self.drainer.start()
        if self.smtp is not None:
            await self.smtp.start()
        self._tasks = [asyncio.create_task(p.run(), name=f"imap-{i}") for i, p in enumerate(self.pollers)]

    async def stop(self) -> None:
        if self.smtp is not None:
            await self.smtp.stop()  # no new DATA; those in flight finish through the spool
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.spool.stop()
        await self.drainer.stop()
        await worker.shutdown()


def register_sender(ctx: GatewayContext) -> None:
    """The relay sender when ``[email.outbound]`` is set, else the .eml folder sender."""
    cfg = ctx.config.email
    if cfg.outbound is not None:
        ca = ctx.config.path(cfg.outbound.ca_file) if cfg.outbound.ca_file else None
        password = ctx.config.secret(cfg.outbound.password_env)
        ctx.senders.register("email", SmtpRelaySender(cfg, cfg.outbound, password, ca))
    else:
        ctx.senders.register("email", EmlFolderSender(cfg, ctx.config.data_dir / "outbox" / "email"))


def create(ctx: GatewayContext) -> EmailPlugin:
    """Register the email sender and build the channel (servers start in ``start``)."""
    register_sender(ctx)
    return EmailPlugin(ctx)
