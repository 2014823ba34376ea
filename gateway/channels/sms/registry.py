"""SMS providers by name, as ``sms.provider`` names them (the channel registry's shape:
one line per provider).  Adding a provider is its module under ``providers/`` and one line
in :data:`PROVIDERS`; nothing else chooses between providers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from gateway.channels.sms.providers import generic, kannel, kavenegar
from gateway.channels.sms.sender import Transport
from gateway.channels.sms.webhook import SmsInbound
from gateway.core.context import GatewayContext


class ProviderTransport(Transport, Protocol):
    """A provider's outbound side with its lifecycle (pollers start and stop with it)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Provider:
    """One configured provider: its transport and the webhook routes it answers."""

    transport: ProviderTransport
    routes: Sequence[web.RouteDef]


ProviderFactory = Callable[[GatewayContext, SmsInbound], Provider]

PROVIDERS: dict[str, ProviderFactory] = {
    "kannel": lambda ctx, inbound: Provider(kannel.KannelTransport(ctx), kannel.routes(inbound)),
    "kavenegar": lambda ctx, inbound: Provider(kavenegar.KavenegarTransport(ctx, inbound), kavenegar.routes(inbound)),
    "generic": lambda ctx, inbound: Provider(generic.GenericTransport(ctx), generic.routes(inbound)),
}


def provider_for(ctx: GatewayContext, inbound: SmsInbound) -> Provider:
    """The provider ``sms.provider`` names (KeyError for a name not registered)."""
    return PROVIDERS[ctx.config.sms.provider](ctx, inbound)
