"""The blob store: file contents by SHA-256 behind one interface, so that every process sees
every file (attachments, voice recordings, oversize texts).

Two backends:

- :class:`~gateway.core.store.FileStore`, a local folder (``data_dir/files/ab/cd/<hash>``):
  the default with SQLite, where there is one process (or one machine) anyway.
- :class:`DatabaseBlobs`, the ``blobs`` table: the default with PostgreSQL, so N processes
  on M machines share files through the database they already share.  A blob is
  committed before the row that names it (its own transaction in :meth:`put`, or the
  same transaction through :meth:`writer`), so a committed row never names a missing
  blob.  Files written to the local folder before the switch are still read from there.

``gateway.blob_store`` chooses: ``auto`` (the defaults above), ``folder`` or ``database``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.core.db import Database, rows_changed
from gateway.core.shared_tables import Blob
from gateway.core.store import FileStore, check_digest


class BlobStore(Protocol):
    """Where file contents live (see the module doc)."""

    async def put(self, data: bytes) -> str:
        """Store bytes durably; return their SHA-256 hex digest."""
        ...

    async def get(self, sha256: str) -> bytes:
        """The bytes stored under a digest (FileNotFoundError if none)."""
        ...

    def writer(self, session: Session) -> Callable[[bytes], str]:
        """A put for code running inside a synchronous transaction (the intake writer)."""
        ...

    async def delete(self, sha256: str) -> bool:
        """Remove the bytes of a digest (retention); True if they were there."""
        ...


def insert_blob(s: Session, data: bytes) -> str:
    """Add ``data`` to the ``blobs`` table in the session's transaction (once per digest)."""
    digest = hashlib.sha256(data).hexdigest()
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(insert(Blob).values(sha256=digest, size=len(data), data=data).on_conflict_do_nothing())
    return digest


class DatabaseBlobs:
    """Blobs in the database's ``blobs`` table (content-addressed, shared by all processes)."""

    def __init__(self, db: Database, fallback: FileStore | None = None) -> None:
        self.db, self.fallback = db, fallback

    async def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        async with self.db.read_session() as s:
            if (await s.execute(select(Blob.sha256).where(Blob.sha256 == digest))).first():
                return digest  # already there: do not send the bytes again
        return await self.db.write(partial(insert_blob, data=data))

    async def get(self, sha256: str) -> bytes:
        check_digest(sha256)
        async with self.db.read_session() as s:
            data = (await s.execute(select(Blob.data).where(Blob.sha256 == sha256))).scalar()
        if data is not None:
            return bytes(data)
        if self.fallback is not None:
            return await self.fallback.get(sha256)
        raise FileNotFoundError(f"no blob {sha256[:12]}…")

    def writer(self, session: Session) -> Callable[[bytes], str]:
        return partial(insert_blob, session)

    async def delete(self, sha256: str) -> bool:
        check_digest(sha256)
        async with self.db.session() as s:
            gone = rows_changed(await s.execute(delete(Blob).where(Blob.sha256 == sha256)))
        if self.fallback is not None and await self.fallback.delete(sha256):
            gone += 1
        return gone > 0


def make_blob_store(choice: str, db: Database, folder: FileStore) -> BlobStore:
    """The store ``gateway.blob_store`` asks for (``auto``: database on PostgreSQL)."""
    if choice == "database" or (choice == "auto" and not db.is_sqlite):
        return DatabaseBlobs(db, fallback=folder)
    return folder
