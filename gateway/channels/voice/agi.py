"""A FastAGI server: the dialplan's ``AGI(agi://host:4573/<route>,args)`` lands here.

Asterisk connects, sends ``agi_*: value`` lines and an empty line, then reads one reply
line per command we write (Asterisk's AGI protocol): ``200 result=n
[(data)]``, ``510`` unknown command, a multi-line ``520-`` usage text ending ``520 End of
proper usage.`` (read to its end, or the session falls out of step), ``511`` on a dead
channel, and a bare ``HANGUP`` line when the caller hangs up.  Routes are ``async``
functions of an :class:`AgiSession`; a route error is logged and the socket closed, so the
dialplan goes on with its own fallback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

ENV_MAX_LINES = 200
_REPLY = re.compile(r"^(\d{3})[ -]?(.*)$")
_RESULT = re.compile(r"result=(-?\S*)(?:\s+\((.*?)\))?")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
Route = Callable[["AgiSession"], Awaitable[None]]


class AgiHangup(Exception):
    """The caller hung up; the route should stop talking to the channel."""


class AgiProtocolError(Exception):
    """Asterisk answered something we cannot read, or nothing in time."""


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One command's reply: status code, ``result=`` value and the text in parentheses."""

    code: int
    result: str = ""
    data: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200 and self.result != "-1"


def parse_reply(line: str) -> AgiReply:
    """Parse ``200 result=123 (timeout)`` and friends."""
    m = _REPLY.match(line.strip())
    if m is None:
        raise AgiProtocolError("unreadable AGI reply")
    code, rest = int(m.group(1)), m.group(2)
    r = _RESULT.search(rest) if code == 200 else None
    return AgiReply(code, r.group(1) if r else "", (r.group(2) or "") if r else "")


def quote(value: str) -> str:
    """An AGI argument in double quotes (no line breaks, quotes and backslashes escaped)."""
    value = value.replace("\r", " ").replace("\n", " ").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


@dataclass
class AgiSession:
    """One AGI call: the environment Asterisk sent and a command channel."""

    env: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    timeout: float = 60.0
    hung_up: bool = False
    log: list[str] = field(default_factory=list)  # commands sent (no replies), for debugging

    @property
    def script(self) -> str:
        return self.env.get("agi_network_script", "").strip("/").split("?", 1)[0]

    @property
    def args(self) -> list[str]:
        n, out = 1, []
        while f"agi_arg_{n}" in self.env:
            out.append(self.env[f"agi_arg_{n}"])
            n += 1
        return out

    def arg(self, index: int) -> str:
        args = self.args
        return args[index].strip() if index < len(args) else ""

    async def command(self, line: str) -> AgiReply:
        """Send one command, return its reply; raise :class:`AgiHangup` on a dead channel."""
        if self.hung_up:
            raise AgiHangup()
        self.log.append(line)
        self.writer.write(line.encode("utf-8") + b"\n")
        await self.writer.drain()
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), self.timeout)
            if not raw:
                raise AgiHangup()
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if text == "HANGUP":  # asynchronous notice; the command's own reply follows
                self.hung_up = True
                continue
            reply = parse_reply(text)
            if reply.code == 100:
                continue
            if text.startswith("520-"):
                await self._skip_usage()
            if reply.code == 511 or (self.hung_up and not reply.ok):
                self.hung_up = True
                raise AgiHangup()
            return reply

    async def _skip_usage(self) -> None:
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), self.timeout)
            if not raw or raw.startswith(b"520 "):
                return

    async def set_variable(self, name: str, value: str) -> None:
        if not _SAFE_NAME.match(name):
            raise ValueError("bad variable name")
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def stream_file(self, name: str) -> AgiReply:
        """Play a prompt (path without extension) with no escape digits."""
        return await self.command(f'STREAM FILE {name} ""')

    async def say_digits(self, digits: str) -> None:
        if not digits.isdigit() or not digits.isascii():
            raise ValueError("SAY DIGITS takes digits only")
        await self.command(f'SAY DIGITS {digits} ""')  # the escape argument is required

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """Play ``prompt`` and collect keypad digits (empty on timeout without input)."""
        reply = await self.command(f"GET DATA {prompt} {timeout_ms} {max_digits}")
        return reply.result if reply.ok and reply.result.isdigit() else ""


class AgiServer:
    """Serves the routes on one TCP port."""

    def __init__(
        self, routes: dict[str, Route], *, command_timeout: float = 60.0, allow_from: Sequence[str] = ()
    ) -> None:
        self.routes = routes
        self.command_timeout = command_timeout
        self.networks = [ipaddress.ip_network(n, strict=False) for n in allow_from]
        self.server: asyncio.Server | None = None
        self._sessions: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._handle, host, port)

    async def stop(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for w in list(self._sessions):
            w.close()
        await self.server.wait_closed()
        self.server = None

    def allowed(self, peer: object) -> bool:
        """A connection from ``allow_from`` (any peer when the list is empty: loopback)."""
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])  # type: ignore[index]
        except (ValueError, TypeError, IndexError):
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self.networks)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.allowed(writer.get_extra_info("peername")):
            log.warning("FastAGI: connection from an address not in voice.agi.allow_from refused")
            writer.close()
            return
        self._sessions.add(writer)
        try:
            env = await asyncio.wait_for(self._read_env(reader), 10)
            session = AgiSession(env, reader, writer, timeout=self.command_timeout)
            route = self.routes.get(session.script)
            if route is None:
                log.warning("FastAGI: unknown route %r", session.script[:40])
                return
            await route(session)
        except AgiHangup:
            log.info("FastAGI: caller hung up")
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, AgiProtocolError) as e:
            log.warning("FastAGI session ended: %s", type(e).__name__)
        except Exception:
            log.exception("FastAGI route failed")
        finally:
            self._sessions.discard(writer)
            writer.close()

    @staticmethod
    async def _read_env(reader: asyncio.StreamReader) -> dict[str, str]:
        env: dict[str, str] = {}
        for _ in range(ENV_MAX_LINES):
            line = (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                return env
            key, sep, value = line.partition(":")
            if sep:
                env[key.strip()] = value.strip()
        raise AgiProtocolError("AGI environment too long")
