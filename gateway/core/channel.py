"""The shape every channel package exposes to the CLI.

Each ``gateway/channels/<name>/__init__.py`` has ``create(ctx) -> ChannelPlugin | None``
(None when the channel is not configured).  The plugin registers its sender with
``ctx.senders``, offers HTTP routes for the app to mount, and starts/stops its servers or
pollers inside the gateway's event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class ChannelPlugin(Protocol):
    """A running channel: inbound side, sender, lifecycle."""

    name: str

    def routes(self) -> Sequence[Any]:
        """aiohttp route definitions to mount (webhooks), or an empty list."""
        ...

    async def start(self) -> None:
        """Start servers and pollers (called after the HTTP app is set up)."""
        ...

    async def stop(self) -> None:
        """Stop accepting input and finish in-flight work."""
        ...
