"""Our inbound SMTP server (aiosmtpd), run in the gateway's own event loop.

Accepts mail for the configured addresses only, enforces the size limit, speaks SMTPUTF8
and 8BITMIME, offers STARTTLS when a certificate is configured.  DATA is answered 250 only
after a commit: of the raw mail into the spool (``mode = "spool"``) or of the case
(``mode = "direct"``).  The database being away is a 451, never a 5xx.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import weakref
from email.utils import format_datetime, localtime
from typing import Any

from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.channels.email.spool import SOURCE
from gateway.core.config import Config
from gateway.core.db import DatabaseUnavailable, is_unavailable
from gateway.core.spool import SpoolWriter

log = logging.getLogger(__name__)

# Our replies, by name (RFC 5321 section 4.2, RFC 3463 enhanced codes).
REPLY = {
    "rcpt_ok": "250 2.1.5 OK",
    "rcpt_unknown": "550 5.1.1 <{address}>: recipient address rejected: no such mailbox here",
    "stored": "250 2.0.0 OK: message accepted ({ref})",
    "try_later": "451 4.3.0 Temporary local problem, please try again later",
}


class GatewaySMTP(SMTP):
    """aiosmtpd's server with a longer line limit: RFC 5321 section 4.5.3.1.6 allows 1000
    octets, but real MTAs relay longer lines (HTML mail without breaks), and aiosmtpd's
    ``500 Line too long`` is permanent, so the citizen's mail would be lost."""

    def __init__(self, *args: Any, line_length_limit: int = 1001, **kwargs: Any) -> None:
        self.line_length_limit = line_length_limit  # read by SMTP.__init__ for the reader's limit
        super().__init__(*args, **kwargs)


class SmtpHandler:
    """aiosmtpd handler: recipient check, then store (spool) or ingest (direct)."""

    def __init__(self, config: Config, intake: MailIntake, spool: SpoolWriter | None) -> None:
        smtp = config.email.smtp
        self.addresses = {a.lower() for a in smtp.addresses} | {a.lower() for a in smtp.aliases}
        self.hostname, self.intake, self.spool = smtp.hostname, intake, spool
        self.direct = smtp.mode == "direct"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() not in self.addresses:
            return REPLY["rcpt_unknown"].format(address=address.replace("\r", "").replace("\n", ""))
        envelope.rcpt_tos.append(address)
        return REPLY["rcpt_ok"]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        raw = self._trace_header(session) + bytes(envelope.original_content or b"")
        mail_from = envelope.mail_from if envelope.mail_from not in (None, "<>") else ""
        env = {"mail_from": mail_from, "rcpt_tos": list(envelope.rcpt_tos)}
        try:
            if self.direct:
                try:
                    result = await self.intake.ingest(raw, Envelope("smtp", mail_from, env["rcpt_tos"]))
                    return REPLY["stored"].format(ref=result.outcome.value)
                except DatabaseUnavailable:
                    raise
                except Exception as e:
                    if is_unavailable(e) or self.spool is None:
                        raise
                    log.warning("direct ingest failed (%s); spooling for replay", type(e).__name__)
            if self.spool is None:
                raise DatabaseUnavailable("no spool")
            await self.spool.put(raw, SOURCE, None, env)
            return REPLY["stored"].format(ref="queued")
        except Exception as e:  # noqa: BLE001 - nothing committed: the client must retry
            log.warning("mail not accepted, answering 451: %s", type(e).__name__)
            return REPLY["try_later"]

    async def handle_PROXY(self, server: SMTP, session: Session, envelope: SmtpEnvelope, proxy_data: Any) -> bool:
        """Behind a balancer (``email.smtp.proxy_protocol``): the client is who it says."""
        if proxy_data.src_addr is not None:
            session.peer = (str(proxy_data.src_addr), proxy_data.src_port)
        return True

    async def handle_exception(self, error: Exception) -> str:
        """Any unexpected error is temporary for the client and says nothing internal."""
        log.error("SMTP session error: %s", type(error).__name__)
        return REPLY["try_later"]

    def _trace_header(self, session: Session) -> bytes:
        """A Received: line (RFC 5321 section 4.4) without the client's address text."""
        helo = "".join(c for c in str(session.host_name or "unknown") if c.isalnum() or c in ".-[]:")[:100]
        line = f"Received: from {helo} by {self.hostname} with ESMTP; {format_datetime(localtime())}\r\n"
        return line.encode("ascii", "replace")


class SmtpServer:
    """Start and stop the listener; ``port`` is the bound port (for port 0 in tests)."""

    def __init__(self, config: Config, handler: SmtpHandler) -> None:
        self.config, self.handler = config, handler
        self.server: asyncio.base_events.Server | None = None
        self.port: int | None = None
        self._live: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self.tls_context = self._tls_context()

    def _tls_context(self) -> ssl.SSLContext | None:
        smtp = self.config.email.smtp
        if not (smtp.tls_cert and smtp.tls_key):
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.path(smtp.tls_cert), self.config.path(smtp.tls_key))
        return context

    def _factory(self) -> SMTP:
        smtp = self.config.email.smtp
        kwargs: dict[str, Any] = {}
        if self.tls_context is not None:
            kwargs["tls_context"] = self.tls_context
        if smtp.proxy_protocol:  # aiosmtpd reads the balancer's PROXY header first
            kwargs["proxy_protocol_timeout"] = 10
        protocol = GatewaySMTP(
            self.handler,
            hostname=smtp.hostname,
            data_size_limit=smtp.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            timeout=smtp.timeout_seconds,
            ident="citizen-gateway",
            line_length_limit=smtp.max_line_bytes,
            **kwargs,
        )
        self._live.add(protocol)
        return protocol

    async def start(self) -> None:
        smtp = self.config.email.smtp
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._factory, host=smtp.host, port=smtp.port)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("SMTP listening on %s:%d", smtp.host, self.port)

    async def stop(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for protocol in list(self._live):  # on 3.12+ wait_closed waits for open clients
            if protocol.transport is not None:
                protocol.transport.close()
        await self.server.wait_closed()
        self.server = None
