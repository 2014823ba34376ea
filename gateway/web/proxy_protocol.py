"""The PROXY protocol (HAProxy's, versions 1 and 2) in front of the HTTP server, so that
behind a TCP load balancer ``request.remote`` is the client's address, not the balancer's.

With ``http.proxy_protocol = true`` every connection must begin with a PROXY header (the
balancer's ``send-proxy`` / ``send-proxy-v2``, nginx stream's ``proxy_protocol on``); one
that does not is closed.  Only turn it on when nothing but the balancer can reach the
port: the header is believed.  Spec: https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt

:class:`ProxyProtocol` wraps the aiohttp protocol factory: it reads the header, then hands
the connection on with a transport whose ``peername`` is the client's.  SMTP uses
aiosmtpd's own support (``email.smtp.proxy_protocol``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections.abc import Callable
from typing import Any

from aiohttp import web

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MAX = 107  # the longest v1 line, CRLF included (spec section 2.1)
HEADER_TIMEOUT = 10.0


class ProxyHeaderError(ValueError):
    """Not a PROXY protocol header (or one we cannot read)."""


def parse_proxy_header(data: bytes) -> tuple[tuple[str, int] | None, int] | None:
    """(client address or None for LOCAL/UNKNOWN, header length), or None if more bytes
    are needed.  Raises ProxyHeaderError on anything else."""
    if data.startswith(V2_SIGNATURE[: len(data)]) and len(data) < 16:
        return None
    if data.startswith(V2_SIGNATURE):
        return _parse_v2(data)
    if not b"PROXY "[: len(data)].startswith(data[:6]):
        raise ProxyHeaderError("no PROXY header")
    end = data.find(b"\r\n")
    if end < 0:
        if len(data) >= V1_MAX:
            raise ProxyHeaderError("PROXY v1 line too long")
        return None
    parts = data[:end].decode("ascii", "replace").split(" ")
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return None, end + 2
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError("bad PROXY v1 line")
    try:
        ipaddress.ip_address(parts[2])
        port = int(parts[4])
    except ValueError as e:
        raise ProxyHeaderError("bad PROXY v1 address") from e
    return (parts[2], port), end + 2


def _parse_v2(data: bytes) -> tuple[tuple[str, int] | None, int] | None:
    ver_cmd, family, length = data[12], data[13], struct.unpack("!H", data[14:16])[0]
    if ver_cmd >> 4 != 2:
        raise ProxyHeaderError("bad PROXY v2 version")
    total = 16 + length
    if len(data) < total:
        return None
    if ver_cmd & 0x0F == 0:  # LOCAL: the balancer's own health check
        return None, total
    body = data[16:total]
    if family >> 4 == 1 and len(body) >= 12:  # AF_INET
        return (str(ipaddress.IPv4Address(body[0:4])), struct.unpack("!H", body[8:10])[0]), total
    if family >> 4 == 2 and len(body) >= 36:  # AF_INET6
        return (str(ipaddress.IPv6Address(body[0:16])), struct.unpack("!H", body[32:34])[0]), total
    return None, total  # AF_UNIX or unspecified: no address to report


class _ClientTransport:
    """The balancer's connection, reporting the client's address as its peer."""

    def __init__(self, transport: asyncio.Transport, peer: tuple[str, int] | None) -> None:
        self._transport, self._peer = transport, peer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername" and self._peer is not None:
            return self._peer
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class ProxyProtocol(asyncio.Protocol):
    """Reads the PROXY header, then passes the connection to ``inner_factory()``'s protocol."""

    def __init__(self, inner_factory: Callable[[], asyncio.Protocol], timeout: float = HEADER_TIMEOUT) -> None:
        self.inner_factory, self.timeout = inner_factory, timeout
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._timer = asyncio.get_running_loop().call_later(self.timeout, transport.close)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)
            return
        assert self.transport is not None
        self._buffer += data
        try:
            parsed = parse_proxy_header(self._buffer)
        except ProxyHeaderError:
            self.transport.close()
            return
        if parsed is None:
            return
        peer, used = parsed
        if self._timer is not None:
            self._timer.cancel()
        self.inner = self.inner_factory()
        self.inner.connection_made(_ClientTransport(self.transport, peer))  # type: ignore[arg-type]
        rest, self._buffer = self._buffer[used:], b""
        if rest:
            self.inner.data_received(rest)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


class ProxyProtocolSite(web.TCPSite):
    """An aiohttp TCP site whose connections start with a PROXY header."""

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            lambda: ProxyProtocol(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
