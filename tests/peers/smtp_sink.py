"""A real SMTP server (aiosmtpd, in the test's loop) that keeps what it receives.

Stands in for the relay we send through.  ``responder`` makes it an auto-replying peer:
for every mail it gets it can send a reply back to another SMTP server (loop tests).
"""

from __future__ import annotations

import asyncio
import email
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class SmtpSink:
    """Received mails, parsed; ``reply_code`` forces an answer (e.g. "451 ..." or "550 ...")."""

    messages: list[EmailMessage] = field(default_factory=list)
    reply_code: str | None = None
    responder: Callable[[EmailMessage], Awaitable[None]] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reply_code:
            return self.reply_code
        msg = email.message_from_bytes(bytes(envelope.original_content or b""), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.arrived.set()
        if self.responder is not None:
            asyncio.get_running_loop().create_task(self.responder(msg))
        return "250 2.0.0 OK"

    async def wait_for(self, count: int, timeout: float = 20) -> list[EmailMessage]:
        """Wait until ``count`` mails are in (a generous cap, not a speed assertion)."""

        async def _wait() -> None:
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(_wait(), timeout)
        return self.messages


async def start_sink(sink: SmtpSink) -> asyncio.base_events.Server:
    """Listen on an ephemeral loopback port; ``sink.port`` tells which."""
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink, hostname="sink.test", enable_SMTPUTF8=True, decode_data=False), host="127.0.0.1", port=0
    )
    sink.port = server.sockets[0].getsockname()[1]
    return server
