"""A small asyncio client for the Asterisk Manager Interface (AMI), owned by the gateway.

Why not panoramisk 1.4 (see README "Voice"): it decodes each TCP read on its own (drops a
Persian character split across reads), resends unfinished actions after a reconnect (an
``Originate`` could ring a citizen twice), never checks Ping replies and needs a wrapper
for timeouts.  Framing here is on bytes (``readuntil(b"\\r\\n\\r\\n")``, decoded per whole
message), every action has a timeout, a Ping watchdog drops half-open links, nothing is
resent, and a raising event handler cannot stop the reader.

Errors and the wire format are in :mod:`ami_frames`; matching answers to actions by
ActionID (``EventList: start``/``Complete`` lists, the async ``OriginateResponse``) is in
:mod:`ami_actions`.  This module owns the link: banner line, ``Login``, the reader, the
Ping watchdog and reconnects (README "Voice").
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from gateway.channels.voice.ami_actions import PendingAction, PendingActions
from gateway.channels.voice.ami_frames import (
    FRAME_END,
    AmiActionError,
    AmiError,
    AmiMessage,
    AmiUnavailable,
    build_frame,
    parse_frame,
)
from gateway.channels.voice.ami_link import Backoff, LinkReport, cancel_bounded, sleep_unless, wait_future

log = logging.getLogger(__name__)

__all__ = ["AmiActionError", "AmiClient", "AmiError", "AmiMessage", "AmiUnavailable", "build_frame", "parse_frame"]

BANNER_PREFIX = b"Asterisk Call Manager/"
EventHandler = Callable[["AmiMessage"], Awaitable[None] | None]
LoginHandler = Callable[[], Awaitable[None] | None]


@dataclass
class AmiClient:
    """Keeps one logged-in AMI session alive; reconnects with a capped, jittered backoff."""

    host: str
    port: int
    username: str
    secret: str
    action_timeout: float = 10.0
    ping_seconds: float = 20.0
    reconnect_max: float = 30.0
    on_event: EventHandler | None = None
    on_login: LoginHandler | None = None
    state: str = "stopped"  # stopped | connecting | connected | auth_failed | unreachable | down
    logins: int = 0
    attempts: int = 0  # connection attempts since start (tests and operators)
    _pending: PendingActions = field(default_factory=PendingActions)
    _writer: asyncio.StreamWriter | None = None
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _report: LinkReport = field(default_factory=lambda: LinkReport("", 0))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _prefix: str = field(default_factory=lambda: "gw-" + secrets.token_hex(3))

    def start(self) -> None:
        """Connect in the background (and again whenever the link drops)."""
        if self._task is None:
            self._stopping.clear()
            self._report = LinkReport(self.username, self.reconnect_max)
            self._task = asyncio.create_task(self._run(), name="ami-client")

    async def stop(self) -> None:
        """Log off politely (bounded), stop reconnecting; returns within seconds in any state."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None and self._connected.is_set():
            try:
                await self.action("Logoff", timeout=1)
            except AmiError:
                pass
        if task is not None:
            await cancel_bounded(task, self._writer)
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._teardown()
        self.state = "stopped"
        if task is not None:
            self._report.change("stopped")

    async def wait_connected(self, timeout: float) -> bool:
        """True once logged in (within ``timeout`` seconds)."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def action(
        self, name: str, headers: Iterable[tuple[str, str]] = (), *, timeout: float | None = None
    ) -> AmiMessage | list[AmiMessage]:
        """Send an action; return its response (a list for event-list actions)."""
        timeout = timeout or self.action_timeout
        pending = await self._send(name, headers, timeout)
        return await self._wait(name, pending, timeout)

    async def originate(self, headers: Iterable[tuple[str, str]], *, action_id: str, timeout: float) -> AmiMessage:
        """Queue an ``Originate`` with ``Async: true``; return its ``OriginateResponse`` event."""
        loop = asyncio.get_running_loop()
        pending = await self._send(
            "Originate", [*headers, ("Async", "true")], timeout, action_id=action_id, originate=loop.create_future()
        )
        assert pending.originate is not None
        try:
            await self._wait("Originate", pending, timeout)
            return await wait_future(pending.originate, timeout)
        finally:
            self._pending.discard(action_id)

    # -- internals ------------------------------------------------------------------------
    async def _send(
        self,
        name: str,
        headers: Iterable[tuple[str, str]],
        timeout: float,
        *,
        action_id: str | None = None,
        originate: asyncio.Future[AmiMessage] | None = None,
    ) -> PendingAction:
        if name.lower() != "login" and not await self.wait_connected(timeout):
            raise AmiUnavailable(f"{name}: not connected")
        writer = self._writer
        if writer is None or writer.is_closing():
            raise AmiUnavailable(f"{name}: not connected")
        aid = action_id or f"{self._prefix}-{next(self._ids)}"
        if aid in self._pending:
            raise AmiActionError(name, "ActionID already in use")
        pending = self._pending.add(aid, originate)
        writer.write(build_frame([("Action", name), ("ActionID", aid), *headers]))
        return pending

    async def _wait(self, name: str, pending: PendingAction, timeout: float) -> AmiMessage | list[AmiMessage]:
        reply = await wait_future(pending.future, timeout)
        first = reply[0] if isinstance(reply, list) else reply
        if first.get("Response").lower() == "error":
            raise AmiActionError(name, first.get("Message"))
        return reply

    async def _run(self) -> None:
        """Connect, serve the session, wait a backoff delay; until :meth:`stop`."""
        backoff = Backoff(cap=self.reconnect_max)
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            began = loop.time()
            try:
                if await self._session() and loop.time() - began >= self.reconnect_max:
                    backoff.reset()  # it stayed up: reconnect quickly after e.g. a PBX restart
                if self.state == "connected":
                    self._set_state("down", "closed by the PBX")
            except (TimeoutError, OSError, asyncio.IncompleteReadError, AmiError) as e:
                self._set_state(
                    "down" if self.state == "connected" else "unreachable",
                    str(e) if isinstance(e, AmiError) else type(e).__name__,
                )
            finally:
                self._teardown()
            if not self._stopping.is_set():
                await sleep_unless(self._stopping, backoff.next_delay())

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        self._report.change(state, detail=detail, logins=self.logins)

    async def _session(self) -> bool:
        """One connection: banner, login, read until it drops; False if login was refused."""
        self.state, self.attempts = "connecting", self.attempts + 1
        reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=1 << 20), self.action_timeout
        )
        banner = await asyncio.wait_for(reader.readline(), self.action_timeout)
        if not banner.startswith(BANNER_PREFIX):
            raise AmiUnavailable("not an AMI server")
        reading = asyncio.create_task(self._read(reader), name="ami-reader")
        try:
            try:
                await self.action("Login", [("Username", self.username), ("Secret", self.secret), ("Events", "on")])
            except AmiActionError as e:
                self._set_state("auth_failed", e.message)
                return False
            if self._stopping.is_set():
                return True
            self.logins += 1
            self._set_state("connected")
            self._connected.set()
            if self.on_login is not None:
                self._spawn(self.on_login)
            pinger = asyncio.create_task(self._watchdog(), name="ami-ping")
            try:
                await reading
            finally:
                pinger.cancel()
            return True
        finally:
            reading.cancel()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                self._dispatch(parse_frame(await reader.readuntil(FRAME_END)))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass  # the run loop reports the state change, once
        finally:
            self._connected.clear()
            self._pending.fail_all()  # waiters learn at once, not at their timeout

    def _dispatch(self, msg: AmiMessage) -> None:
        if not self._pending.route(msg) and msg.event and self.on_event is not None:
            self._spawn(self.on_event, msg)

    def _spawn(self, fn: Callable[..., Awaitable[None] | None], *args: AmiMessage) -> None:
        """Run a handler; its failure is logged and never reaches the reader."""
        try:
            result = fn(*args)
        except Exception:
            log.exception("AMI handler failed")
            return
        if isinstance(result, Awaitable):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("AMI handler failed: %r", task.exception())

    async def _watchdog(self) -> None:
        """Ping; a link that does not answer is closed so that the reconnect path runs."""
        while True:
            await asyncio.sleep(self.ping_seconds)
            try:
                await self.action("Ping", timeout=min(self.action_timeout, 5))
            except AmiError:
                log.warning("AMI ping unanswered: reconnecting")
                if self._writer is not None:
                    self._writer.transport.abort()
                return

    def _teardown(self) -> None:
        self._connected.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._pending.fail_all()
