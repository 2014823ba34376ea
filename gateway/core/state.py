"""Small durable facts for channels (IMAP UIDVALIDITY and last UID, AMI state), named
leases so that a mailbox or the AMI link is held by one process at a time, and delivery
reports applied to the outbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from gateway.core.db import Database, rows_changed
from gateway.core.models import ChannelState, Lease, Outbox, utcnow
from gateway.core.outbox import record_delivery


class StateStore:
    """Key/value state, leases and delivery reports, each in its own short transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> dict[str, Any] | None:
        async with self.db.session() as s:
            row = await s.get(ChannelState, key)
            return dict(row.value) if row else None

    async def put(self, key: str, value: dict[str, Any]) -> None:
        async with self.db.session() as s:
            row = await s.get(ChannelState, key)
            if row is None:
                s.add(ChannelState(key=key, value=value))
            else:
                row.value = value

    async def put_once(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        """Store ``value`` under ``key`` unless something is there; return what is there
        (the first writer wins, also across processes)."""
        try:
            async with self.db.session() as s:
                row = await s.get(ChannelState, key)
                if row is not None:
                    return dict(row.value)
                s.add(ChannelState(key=key, value=value))
            return value
        except IntegrityError:  # another process stored it first
            stored = await self.get(key)
            if stored is None:
                raise
            return stored

    async def acquire(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew lease ``name`` for ``holder``; False if someone else holds it."""
        now = utcnow()
        expires = now + timedelta(seconds=ttl_seconds)
        try:
            async with self.db.session() as s:
                res = await s.execute(
                    update(Lease)
                    .where(Lease.name == name, (Lease.holder == holder) | (Lease.expires_at < now))
                    .values(holder=holder, expires_at=expires)
                )
                if rows_changed(res):
                    return True
                if await s.get(Lease, name) is not None:
                    return False
                s.add(Lease(name=name, holder=holder, expires_at=expires))
            return True
        except IntegrityError:
            return False  # another process created it first

    async def release(self, name: str, holder: str) -> None:
        async with self.db.session() as s:
            await s.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))

    async def delivery(
        self,
        *,
        status: str,
        outbox_id: int | None = None,
        provider_id: str | None = None,
        detail: str = "",
        channel: str | None = None,
    ) -> bool:
        """Apply a delivery report; False if the outbox row is unknown."""
        async with self.db.session() as s:
            row = await record_delivery(
                s, status=status, outbox_id=outbox_id, provider_id=provider_id, detail=detail, channel=channel
            )
            return row is not None

    async def outbox_row(self, outbox_id: int) -> dict[str, Any] | None:
        """A read-only view of an outbox row (for senders that need its state)."""
        async with self.db.session() as s:
            row = await s.get(Outbox, outbox_id)
            if row is None:
                return None
            return {
                "id": row.id,
                "status": row.status,
                "provider_id": row.provider_id,
                "channel": row.channel,
                "attempts": row.attempts,
                "case_id": row.case_id,
            }
