"""Leases: named locks that one process holds at a time and that fail over in seconds.

Every singleton (a spool drainer, an IMAP mailbox, the voice spool and AMI events,
Kavenegar polling, the scheduler) asks ``await ctx.leases.hold("name")`` before each
pass: True while this instance holds the lease (taking it when it is free).

- **Identity.** The holder is the instance's name: ``gateway.instance_name`` (or the
  ``GATEWAY_INSTANCE_NAME`` variable), else the host name plus the role set of
  ``gateway run`` (``web1:all``, ``web1:http+smtp``).  It is stable across restarts, so a
  restarted instance takes its own leases back at once instead of waiting for them to
  expire.  Two live processes must not share a name: ``gateway run`` takes the lease
  ``instance:<name>`` for its host and PID first and refuses to start while a live process
  holds it (a dead one's, on this host, is taken over at once).
- **Heartbeat.** One task per process renews every lease it holds, and its outbox claims
  (hooks added with :meth:`Leases.on_beat`), every ``lease_seconds / 4`` in one
  transaction.  A dead holder's leases expire ``gateway.lease_seconds`` (3) after its last
  beat; a contender tries again every half second.  A holder that stalls longer than that
  notices at its next beat and stops calling itself the holder; a short overlap is harmless
  because intake dedupes.
- **Clock.** On PostgreSQL expiry times are the database server's clock (``now()``), so
  machines with skewed clocks agree; on SQLite (one machine) the process clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.core.db import Database
from gateway.core.models import Lease, utcnow

log = logging.getLogger(__name__)
Now = datetime | ColumnElement[Any]
BeatHook = Callable[[Session, Now], None]  # runs inside the heartbeat's transaction


class InstanceClash(Exception):
    """Another live process runs under this instance name."""


def instance_name(configured: str, roles: set[str] | None) -> str:
    """The stable name of this instance (see the module doc)."""
    name = os.environ.get("GATEWAY_INSTANCE_NAME") or configured
    if name:
        return name[:100]
    role_set = "+".join(sorted(roles)) if roles else "all"
    return f"{socket.gethostname()}:{role_set}"[:100]


def db_now(s: Session) -> Now:
    """The time leases and claims are measured in: the server's on PostgreSQL."""
    return func.now() if s.get_bind().dialect.name == "postgresql" else utcnow()


def take_lease(s: Session, name: str, holder: str, ttl: float, force: bool = False) -> bool:
    """Take or renew ``name`` for ``holder`` if it is free, expired or already ours."""
    now = db_now(s)
    expires = now + timedelta(seconds=ttl)
    free = or_(Lease.holder == holder, Lease.expires_at < now)
    stmt = update(Lease).where(Lease.name == name).values(holder=holder, expires_at=expires)
    if cast(CursorResult[Any], s.execute(stmt if force else stmt.where(free))).rowcount:
        return True
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    done = s.execute(insert(Lease).values(name=name, holder=holder, expires_at=expires).on_conflict_do_nothing())
    return bool(cast(CursorResult[Any], done).rowcount)


def renew(s: Session, names: list[str], holder: str, ttl: float, hooks: list[BeatHook]) -> set[str]:
    """Extend the leases of ``names`` still held by ``holder``; return those."""
    now = db_now(s)
    kept: set[str] = set()
    if names:
        s.execute(
            update(Lease)
            .where(Lease.name.in_(names), Lease.holder == holder)
            .values(expires_at=now + timedelta(seconds=ttl))
        )
        kept = set(s.execute(select(Lease.name).where(Lease.name.in_(names), Lease.holder == holder)).scalars())
    for hook in hooks:
        hook(s, now)
    return kept


def _identity(s: Session, lease: str, me: str, ttl: float) -> str | None:
    """Take the instance lease; the current live holder's ``host:pid`` if it is not free."""
    row = s.execute(select(Lease.holder, Lease.expires_at >= db_now(s)).where(Lease.name == lease)).first()
    if row is not None and row[1] and row[0] != me and _alive(row[0]):
        return str(row[0])
    take_lease(s, lease, me, ttl, force=True)
    return None


def _alive(holder: str) -> bool:
    """Is the process ``host:pid`` alive?  (Only knowable on this host: elsewhere, yes.)"""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname():
        return True
    if not pid.isdigit() or int(pid) == os.getpid():
        return False  # our own PID again: a previous life (containers reuse PID 1)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Leases:
    """The leases of one instance, kept alive by one heartbeat task."""

    def __init__(self, db: Database, name: str, ttl: float = 3.0, retry: float = 0.5) -> None:
        self.db, self.name, self.ttl, self.retry = db, name, ttl, retry
        self.started = utcnow()
        self._held: dict[str, float] = {}  # lease -> local deadline (monotonic)
        self._retry_at: dict[str, float] = {}
        self._hooks: list[BeatHook] = []
        self._identity: tuple[str, str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def on_beat(self, hook: BeatHook) -> None:
        """Run ``hook(session, now)`` in every heartbeat's transaction (outbox claims)."""
        self._hooks.append(hook)

    def holds(self, lease: str) -> bool:
        """True while ``lease`` is ours by the last heartbeat (no IO)."""
        return time.monotonic() < self._held.get(lease, 0.0)

    async def hold(self, lease: str) -> bool:
        """True if this instance holds ``lease``, taking it when free (tried every ``retry`` s)."""
        if self.holds(lease):
            return True
        started = time.monotonic()
        if started < self._retry_at.get(lease, 0.0):
            return False
        got = await self.db.write(partial(take_lease, name=lease, holder=self.name, ttl=self.ttl))
        if got:
            if lease not in self._held:
                log.info("lease %s taken by %s", lease, self.name)
            self._held[lease] = started + self.ttl
            self.start()
        else:
            self._held.pop(lease, None)
            self._retry_at[lease] = started + self.retry
        return got

    async def release(self, lease: str) -> None:
        """Give ``lease`` up (others may take it at once)."""
        self._held.pop(lease, None)
        await self.db.write(lambda s: s.execute(delete(Lease).where(Lease.name == lease, Lease.holder == self.name)))

    async def claim_identity(self) -> None:
        """Take ``instance:<name>`` for this host and PID; InstanceClash if a live process has it."""
        lease, me = f"instance:{self.name}"[:255], f"{socket.gethostname()}:{os.getpid()}"
        other = await self.db.write(partial(_identity, lease=lease, me=me, ttl=self.ttl))
        if other is not None:
            raise InstanceClash(
                f"instance name {self.name!r} is in use by a live process ({other}); "
                "give each process its own gateway.instance_name"
            )
        self._identity = (lease, me)
        self.start()

    async def beat(self) -> None:
        """One heartbeat: renew what we hold and run the hooks."""
        names, started = list(self._held), time.monotonic()
        hooks = list(self._hooks)
        if self._identity is not None:
            lease, me = self._identity

            def keep_identity(s: Session, _now: Now) -> None:
                take_lease(s, lease, me, self.ttl, force=True)

            hooks.append(keep_identity)
        kept = await self.db.write(partial(renew, names=names, holder=self.name, ttl=self.ttl, hooks=hooks))
        for lease in names:
            if lease in kept:
                self._held[lease] = started + self.ttl
            elif self._held.pop(lease, None) is not None:
                log.warning("lease %s lost by %s (another process took it over)", lease, self.name)

    def start(self) -> None:
        """Start the heartbeat (idempotent)."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="lease-heartbeat")

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), self.ttl / 4)
                return  # stopping: no beat cut mid-transaction
            except TimeoutError:
                pass
            try:
                await self.beat()
            except Exception as e:  # noqa: BLE001 - database away: leases lapse, try again
                log.warning("lease heartbeat failed: %s", type(e).__name__)

    async def stop(self) -> None:
        """Stop the heartbeat and give every lease up."""
        if self._task is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except (TimeoutError, Exception):  # noqa: BLE001 - cut short below
                pass
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        names = list(self._held) + ([self._identity[0]] if self._identity else [])
        self._held.clear()
        if not names:
            return
        identity = self._identity

        def drop(s: Session) -> None:
            s.execute(delete(Lease).where(Lease.name.in_(names), Lease.holder == self.name))
            if identity is not None:
                s.execute(delete(Lease).where(Lease.name == identity[0], Lease.holder == identity[1]))

        try:
            await self.db.write(drop)
        except Exception as e:  # noqa: BLE001 - they expire on their own
            log.warning("leases not released: %s", type(e).__name__)
