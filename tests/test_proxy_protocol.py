"""PROXY protocol (v1 and v2) in front of the HTTP server: behind a TCP balancer the
citizen's address is what rate limits see; a connection without the header is closed."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import struct
from email.message import EmailMessage

import pytest
from aiohttp import web

from gateway.web.proxy_protocol import V2_SIGNATURE, ProxyHeaderError, ProxyProtocolSite, parse_proxy_header


def v2(src: str, port: int, command: int = 1) -> bytes:
    body = socket.inet_aton(src) + socket.inet_aton("10.0.0.1") + struct.pack("!HH", port, 8080)
    return V2_SIGNATURE + bytes([0x20 | command, 0x11]) + struct.pack("!H", len(body)) + body


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 8080\r\nGET /", (("203.0.113.7", 51000), 44), id="v1-tcp4"
        ),
        pytest.param(b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n", (("2001:db8::1", 4000), 44), id="v1-tcp6"),
        pytest.param(b"PROXY UNKNOWN\r\n", (None, 15), id="v1-unknown"),
        pytest.param(b"PROXY TCP4 203.0.113.7", None, id="v1-incomplete"),
        pytest.param(b"\r\n\r\n\x00", None, id="v2-incomplete-signature"),
        pytest.param(v2("198.51.100.9", 40000) + b"GET", (("198.51.100.9", 40000), 28), id="v2-tcp4"),
        pytest.param(v2("198.51.100.9", 40000, command=0), (None, 28), id="v2-local-health-check"),
    ],
)
def test_parse(data: bytes, expected: object) -> None:
    assert parse_proxy_header(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"GET / HTTP/1.1\r\n", id="plain-http"),
        pytest.param(b"PROXY TCP4 not-an-ip 10.0.0.1 1 2\r\n", id="bad-address"),
        pytest.param(b"PROXY TCP4 " + b"1" * 120, id="too-long"),
    ],
)
def test_not_a_header(data: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse_proxy_header(data)


async def _request(port: int, prefix: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(prefix + b"GET /whoami HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


async def test_the_http_server_sees_the_client_behind_the_balancer() -> None:
    async def whoami(request: web.Request) -> web.Response:
        return web.Response(text=f"remote={request.remote}")

    app = web.Application()
    app.router.add_get("/whoami", whoami)
    runner = web.AppRunner(app)
    await runner.setup()
    site = ProxyProtocolSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert b"remote=203.0.113.7" in await _request(port, b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 8080\r\n")
        assert b"remote=198.51.100.9" in await _request(port, v2("198.51.100.9", 40000))
        assert await _request(port, b"") == b""  # no header: closed, nothing answered
    finally:
        await runner.cleanup()


class ProxiedSMTP(smtplib.SMTP):
    """smtplib behind a balancer: the connection opens with a PROXY v1 line."""

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        sock.sendall(b"PROXY TCP4 203.0.113.5 10.0.0.1 40000 25\r\n")
        return sock


def send_through(port: int, proxied: bool) -> dict[str, object]:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "citizen@example.org", "feedback@example.ir", "چراغ خاموش"
    m.set_content("چراغ کوچه خاموش است.")
    with (ProxiedSMTP if proxied else smtplib.SMTP)("127.0.0.1", port, timeout=30) as s:
        return s.send_message(m)


async def test_smtp_behind_the_balancer_reads_the_client_address(make_config) -> None:
    from gateway.channels.email import create
    from gateway.core.runtime import running_context

    seen: list[object] = []
    config = make_config(email={"smtp": {"port": 0, "proxy_protocol": True}})
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        handler = plugin.smtp.handler
        original = handler.handle_DATA

        async def spy(server, session, envelope):
            seen.append(session.peer)
            return await original(server, session, envelope)

        handler.handle_DATA = spy
        await plugin.start()
        try:
            assert await asyncio.to_thread(send_through, plugin.smtp.port, True) == {}
            with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
                await asyncio.to_thread(send_through, plugin.smtp.port, False)  # no header: closed
        finally:
            await plugin.stop()
    assert seen == [("203.0.113.5", 40000)]
