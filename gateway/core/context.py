"""The gateway context: what channels and the web layer get from the core.

Channels never touch the database; they hold a :class:`GatewayContext` and call
``ctx.intake.submit(message)``, ``ctx.deliveries`` and ``ctx.state`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.core.config import Config
from gateway.core.db import Database
from gateway.core.outbox import new_idempotency_key
from gateway.core.security import Signer
from gateway.core.senders import SenderRegistry
from gateway.core.store import FileStore
from gateway.core.templates import Templates

if TYPE_CHECKING:
    from gateway.core.dispatcher import Dispatcher
    from gateway.core.intake.writer import IntakeWriter
    from gateway.core.state import StateStore


@dataclass
class GatewayContext:
    """Shared services of one gateway process."""

    config: Config
    db: Database
    store: FileStore
    templates: Templates
    signer: Signer
    senders: SenderRegistry
    intake: IntakeWriter = field(init=False)
    dispatcher: Dispatcher = field(init=False)
    state: StateStore = field(init=False)
    extras: dict[str, Any] = field(default_factory=dict)

    def new_key(self, channel: str) -> str:
        """A fresh idempotency key (our signed Message-ID for email)."""
        return new_idempotency_key(channel, self.signer, self.config.email.message_id_domain)

    def track_link(self, code: str) -> str:
        """The public tracking page for a code."""
        return f"{self.config.gateway.public_base_url}/track?code={code}"
