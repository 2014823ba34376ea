"""The ports: small typed interfaces that the core's parts are given, instead of reaching
into one shared context for whatever they like.

A part declares the narrowest port it needs: the intake writer gets the database,
:class:`IntakeServices` (config, templates, :class:`Addresses`, the blob store) and a
:data:`WakeOutbox` callback, never the context; spool writers wake their drainer through
:class:`Doorbells`.  ``gateway.core.runtime`` wires the concrete objects in once, and
:class:`~gateway.core.context.GatewayContext` holds that wiring for the channels and the web
app, which take what they need from it when they are set up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.core.blobs import BlobStore
from gateway.core.config import Config
from gateway.core.intake.contract import InboundMessage, IntakeResult
from gateway.core.outbox import new_idempotency_key
from gateway.core.security import Signer
from gateway.core.templates import Templates


class Intake(Protocol):
    """The one way in (``gateway.core.intake.writer.IntakeWriter``): hand a message over,
    get the committed outcome; started and stopped with the process."""

    batches: int  # group commits so far (metrics, benchmarks)

    async def submit(self, message: InboundMessage) -> IntakeResult: ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...


#: Called after a commit that queued outbox rows, so they go out within moments.
WakeOutbox = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Addresses:
    """How we name what we send: idempotency keys (our signed Message-IDs for email) and
    links to the public tracking page."""

    signer: Signer
    message_id_domain: str
    public_base_url: str
    default_language: str = "fa"

    def new_key(self, channel: str, token: str | None = None) -> str:
        """A fresh idempotency key (our signed Message-ID for email); with ``token``, the
        same key every time (see :func:`~gateway.core.outbox.new_idempotency_key`)."""
        return new_idempotency_key(channel, self.signer, self.message_id_domain, token)

    def track_link(self, code: str, language: str | None = None) -> str:
        """The public tracking page for a code, in the citizen's language when it is not
        the office's default (so an English writer's links open English pages)."""
        return f"{self.public_base_url}/track?code={code}{self.lang_param(language)}"

    def lang_param(self, language: str | None, first: bool = False) -> str:
        """``&lang=xx`` (``?lang=xx`` when ``first``) for a language other than the default."""
        if not language or language == self.default_language:
            return ""
        return f"{'?' if first else '&'}lang={language}"


@dataclass(frozen=True, slots=True)
class IntakeServices:
    """What intake's planning and replies read: the config, the templates, how to name
    what it queues, and where oversize texts go."""

    config: Config
    templates: Templates
    addresses: Addresses
    store: BlobStore

    def new_key(self, channel: str) -> str:
        """A fresh idempotency key for an outgoing message on ``channel``."""
        return self.addresses.new_key(channel)

    def track_link(self, code: str, language: str | None = None) -> str:
        """The public tracking page for a code (in ``language`` if not the default)."""
        return self.addresses.track_link(code, language)


@dataclass(slots=True)
class Doorbells:
    """Wake-up events by name: a spool writer rings ``spool:<channel>`` after its commit,
    and that channel's drainer (in the same process) waits on it instead of its poll."""

    _events: dict[str, asyncio.Event] = field(default_factory=dict)

    def event(self, name: str) -> asyncio.Event:
        """The event for ``name`` (made on first use)."""
        return self._events.setdefault(name, asyncio.Event())

    def ring(self, name: str) -> None:
        """Wake whoever waits on ``name``; nothing if nobody does yet."""
        event = self._events.get(name)
        if event is not None:
            event.set()
