"""The gateway context: the wiring of one process, built once by ``gateway.core.runtime``.

It holds the concrete services; it is not a place to look things up at run time.  Every
field is set when it is built (no late attributes, no free-form slots).  Core parts are
given the ports they need (``gateway.core.ports``); channels and the web app take their
parts from the context when they are set up (``ctx.intake.submit(message)``,
``ctx.state``, ``ctx.senders``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.blobs import BlobStore
from gateway.core.config import Config
from gateway.core.db import Database
from gateway.core.dispatcher import Dispatcher
from gateway.core.leases import Leases
from gateway.core.limits import Limiter
from gateway.core.ports import Addresses, Doorbells, Intake
from gateway.core.security import Signer
from gateway.core.senders import SenderRegistry
from gateway.core.state import StateStore
from gateway.core.templates import Templates


@dataclass
class GatewayContext:
    """The services of one gateway process."""

    config: Config
    db: Database
    store: BlobStore  # file contents (gateway.core.blobs): a folder, or the database
    templates: Templates
    signer: Signer
    senders: SenderRegistry
    addresses: Addresses
    state: StateStore
    limiter: Limiter  # shared limits (gateway.core.limits)
    leases: Leases  # this instance's leases (gateway.core.leases)
    dispatcher: Dispatcher
    intake: Intake  # gateway.core.intake.writer.IntakeWriter
    doorbells: Doorbells = field(default_factory=Doorbells)

    def new_key(self, channel: str) -> str:
        """A fresh idempotency key (our signed Message-ID for email)."""
        return self.addresses.new_key(channel)

    def track_link(self, code: str, language: str | None = None) -> str:
        """The public tracking page for a code, in the citizen's language when it is not
        the office's default (so an English writer's links open English pages)."""
        return self.addresses.track_link(code, language)

    def lang_param(self, language: str | None, first: bool = False) -> str:
        """``&lang=xx`` (``?lang=xx`` when ``first``) for a language other than the default."""
        return self.addresses.lang_param(language, first)
