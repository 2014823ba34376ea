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
from gateway.core.templates import Templates

if TYPE_CHECKING:
    from gateway.core.blobs import BlobStore
    from gateway.core.dispatcher import Dispatcher
    from gateway.core.intake.writer import IntakeWriter
    from gateway.core.limits import Limiter
    from gateway.core.state import StateStore


@dataclass
class GatewayContext:
    """Shared services of one gateway process."""

    config: Config
    db: Database
    store: BlobStore  # file contents (gateway.core.blobs): a folder, or the database
    templates: Templates
    signer: Signer
    senders: SenderRegistry
    intake: IntakeWriter = field(init=False)
    dispatcher: Dispatcher = field(init=False)
    state: StateStore = field(init=False)
    limiter: Limiter = field(init=False)  # shared limits (gateway.core.limits)
    extras: dict[str, Any] = field(default_factory=dict)

    def new_key(self, channel: str) -> str:
        """A fresh idempotency key (our signed Message-ID for email)."""
        return new_idempotency_key(channel, self.signer, self.config.email.message_id_domain)

    def track_link(self, code: str, language: str | None = None) -> str:
        """The public tracking page for a code, in the citizen's language when it is not
        the office's default (so an English writer's links open English pages)."""
        return f"{self.config.gateway.public_base_url}/track?code={code}{self.lang_param(language)}"

    def lang_param(self, language: str | None, first: bool = False) -> str:
        """``&lang=xx`` (``?lang=xx`` when ``first``) for a language other than the default."""
        if not language or language == self.config.gateway.language:
            return ""
        return f"{'?' if first else '&'}lang={language}"
