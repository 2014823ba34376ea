"""IMAP mailbox poller (aioimaplib): UID-based, UIDVALIDITY-aware, IDLE when offered.

Per mailbox we keep ``{uidvalidity, last_uid}`` in ``ctx.state``.  A message is flagged
``\\Seen`` (or moved to ``processed_folder``) and ``last_uid`` advanced only after
``core.intake`` committed it, so a crash between fetch and commit refetches it and the
Message-ID dedupe makes the second pass a no-op.  A changed UIDVALIDITY (RFC 3501 section
2.3.1.1) means the old UIDs are meaningless: rescan the folder (dedupe keeps it exactly
once).  One process polls a mailbox at a time (a lease).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import ssl

import aioimaplib

from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.core.config import ImapMailbox
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable, is_unavailable
from gateway.core.spool import SpoolWriter

log = logging.getLogger(__name__)
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_UID = re.compile(rb"UID (\d+)")


class ImapError(Exception):
    """The IMAP server said NO/BAD or the connection broke; reconnect later."""


def parse_fetch(lines: list[bytes | bytearray]) -> dict[int, bytes]:
    """Pair each ``n FETCH (... UID u ...`` with its literal (the UID may follow the literal)."""
    out: dict[int, bytes] = {}
    uid: int | None = None
    literal: bytes | None = None
    for line in lines:
        if isinstance(line, bytearray):
            literal = bytes(line)
        elif re.match(rb"^\d+ FETCH \(", line):
            if uid is not None and literal is not None:
                out[uid] = literal
            m = _FETCH_UID.search(line)
            uid, literal = (int(m.group(1)) if m else None), None
        elif uid is None and (m := _FETCH_UID.search(line)):
            uid = int(m.group(1))
    if uid is not None and literal is not None:
        out[uid] = literal
    return out


class ImapPoller:
    """Polls one mailbox for as long as it runs."""

    def __init__(
        self, ctx: GatewayContext, intake: MailIntake, box: ImapMailbox, holder: str, spool: SpoolWriter
    ) -> None:
        self.ctx, self.intake, self.box, self.holder, self.spool = ctx, intake, box, holder, spool
        self.key = f"email:imap:{box.username}@{box.host}:{box.port}/{box.folder}"
        self._lost = asyncio.Event()
        self.ingested = 0

    # -- one connection -------------------------------------------------------------
    async def connect(self) -> aioimaplib.IMAP4:
        box = self.box
        self._lost.clear()
        context = None
        if box.tls:
            context = ssl.create_default_context(cafile=str(self.ctx.config.path(box.ca_file)) if box.ca_file else None)
        client = aioimaplib.IMAP4(
            host=box.host,
            port=box.port,
            timeout=box.timeout_seconds,
            ssl_context=context,
            conn_lost_cb=lambda _exc: self._lost.set(),
        )
        await client.wait_hello_from_server()
        password = self.ctx.config.secret(box.password_env) or ""
        _ok(await client.login(box.username, password), "login")
        return client

    async def select(self, client: aioimaplib.IMAP4) -> int:
        r = _ok(await client.select(self.box.folder), "select")
        for line in r.lines:
            if isinstance(line, bytes) and (m := _UIDVALIDITY.search(line)):
                return int(m.group(1))
        raise ImapError("no UIDVALIDITY in SELECT response")

    async def fetch_new(self, client: aioimaplib.IMAP4, uidvalidity: int) -> int:
        """Ingest every message above the stored UID; return how many were committed."""
        state = await self.ctx.state.get(self.key) or {}
        last = int(state.get("last_uid", 0))
        if state.get("uidvalidity") != uidvalidity:
            if state:
                log.warning("UIDVALIDITY changed for a mailbox: rescanning it")
            last = 0
            await self.ctx.state.put(self.key, {"uidvalidity": uidvalidity, "last_uid": 0})
        r = _ok(await client.uid_search(f"UID {last + 1}:*", charset=None), "search")
        uids = sorted(int(u) for u in b" ".join(r.lines[:1]).split() if u.isdigit() and int(u) > last)
        done = 0
        for i in range(0, len(uids), self.box.fetch_batch):
            chunk = uids[i : i + self.box.fetch_batch]
            done += await self._handle_chunk(client, uidvalidity, chunk)
        return done

    async def _handle_chunk(self, client: aioimaplib.IMAP4, uidvalidity: int, chunk: list[int]) -> int:
        uid_set = ",".join(map(str, chunk))
        r = _ok(await client.uid("fetch", uid_set, "(UID BODY.PEEK[])"), "fetch")
        mails = parse_fetch(r.lines)
        uids = [u for u in chunk if u in mails]
        results = await asyncio.gather(*(self._ingest(u, uidvalidity, mails[u]) for u in uids), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result  # database away or a crash: nothing flagged, nothing advanced
        await self._mark_processed(client, uids)
        await self.ctx.state.put(self.key, {"uidvalidity": uidvalidity, "last_uid": max(chunk)})
        self.ingested += len(uids)
        return len(uids)

    async def _ingest(self, uid: int, uidvalidity: int, raw: bytes) -> None:
        try:
            await self.intake.ingest(raw, Envelope("imap"))
        except DatabaseUnavailable:
            raise
        except Exception as e:
            if is_unavailable(e):
                raise
            log.warning("mailbox message could not be processed (%s); spooling it", type(e).__name__)
            await self.spool.put(raw, self.key[:100], f"{uidvalidity}:{uid}", {"source": "imap"})

    async def _mark_processed(self, client: aioimaplib.IMAP4, uids: list[int]) -> None:
        if not uids:
            return
        uid_set = ",".join(map(str, uids))
        target = self.box.processed_folder
        if target and client.has_capability("MOVE"):
            _ok(await client.uid("move", uid_set, target), "move")
            return
        if target:
            _ok(await client.uid("copy", uid_set, target), "copy")
        _ok(await client.uid("store", uid_set, "+FLAGS", r"(\Seen)"), "store")

    async def wait(self, client: aioimaplib.IMAP4) -> None:
        """Until the server reports news (IDLE) or the poll interval passes."""
        if not (self.box.idle and client.has_capability("IDLE")):
            await asyncio.sleep(self.box.poll_seconds)
            return
        idle = await client.idle_start(timeout=min(25 * 60, self.box.poll_seconds * 2 + 10))
        try:
            await client.wait_server_push(timeout=self.box.poll_seconds)
        except TimeoutError:
            pass
        if self._lost.is_set():
            raise ImapError("connection lost")
        client.idle_done()
        await asyncio.wait_for(idle, self.box.timeout_seconds)

    # -- lifecycle ------------------------------------------------------------------
    async def poll_once(self) -> int:
        """Connect, ingest what is new, disconnect (for tests and one-shot runs)."""
        client = await self.connect()
        try:
            return await self.fetch_new(client, await self.select(client))
        finally:
            await _logout(client)

    async def run(self) -> None:
        """Poll forever: hold the lease, reconnect with capped exponential backoff."""
        delay, lease = 1.0, f"{self.key}"[:100]
        while True:
            try:  # one poller per mailbox across processes (ctx.leases: fails over in seconds)
                if await self.ctx.leases.hold(lease):
                    await self._session(lease)
                    delay = 1.0
                else:
                    await asyncio.sleep(self.ctx.leases.retry)
                    continue
            except asyncio.CancelledError:
                await self.ctx.leases.release(lease)
                raise
            except Exception as e:  # noqa: BLE001 - any trouble: reconnect later
                log.warning("IMAP poller error (%s); reconnecting in %.0f s", type(e).__name__, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 300.0)

    async def _session(self, lease: str) -> None:
        client = await self.connect()
        try:
            uidvalidity = await self.select(client)
            while await self.ctx.leases.hold(lease):
                await self.fetch_new(client, uidvalidity)
                await self.wait(client)
                uidvalidity = await self.select(client)  # also notices a UIDVALIDITY change
        finally:
            await _logout(client)


def _ok(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        raise ImapError(f"{what} failed: {response.result}")
    return response


async def _logout(client: aioimaplib.IMAP4) -> None:
    """LOGOUT politely (ending IDLE first); close the socket whatever happens."""
    try:
        if client.protocol is not None and client.has_pending_idle():  # cancelled mid-IDLE
            client.idle_done()
        await asyncio.wait_for(client.logout(), 5)
    except Exception:  # noqa: BLE001 - already gone
        pass
    finally:
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()
