"""The SMS channel: Kannel, Kavenegar and a signed generic JSON webhook (README "SMS").

Convention: ``registry.py`` names the providers (one line each); ``providers/<name>.py`` parses the provider's requests into
:class:`~gateway.channels.sms.parse.IncomingSms` and delivery reports; ``webhook.py``
stores requests in the SMS spool (``core.spool``) and drains them into ``core.intake``
under the abuse limits (or submits directly with ``sms.spool_first = false``); ``sender.py`` fits replies into
the segment budget and hands them to the provider's transport.  No module here touches
the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.channels.sms.registry import provider_for
from gateway.channels.sms.sender import SmsSender, check_templates
from gateway.channels.sms.webhook import SmsInbound
from gateway.core.config import ConfigError
from gateway.core.config.inbound import sms_problems
from gateway.core.context import GatewayContext


class SmsPlugin:
    """Webhook routes, the sender and (Kavenegar) pollers of the configured provider."""

    name = "sms"

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.provider = ctx.config.sms.provider
        self.inbound = SmsInbound(ctx)
        chosen = provider_for(ctx, self.inbound)
        self.transport, self._routes = chosen.transport, chosen.routes
        self.sender = SmsSender(ctx, self.transport)

    def routes(self) -> Sequence[Any]:
        return self._routes

    async def start(self) -> None:
        """The spool writer and drainer (both modes: parked rows are replayed), then pollers."""
        await self.inbound.start()
        await self.transport.start()

    async def stop(self) -> None:
        await self.transport.stop()
        await self.inbound.stop()


def create(ctx: GatewayContext) -> SmsPlugin | None:
    """The SMS plugin for ``sms.provider``; None for ``file`` (the file sender stands in).
    Raises ConfigError for webhooks that would accept anyone (no secret, no allowlist)."""
    if ctx.config.sms.provider == "file":
        return None
    problems = sms_problems(ctx.config) + check_templates(ctx)
    if problems:
        raise ConfigError(problems)
    plugin = SmsPlugin(ctx)
    ctx.senders.register("sms", plugin.sender)
    return plugin
