"""Attachment files on disk, content-addressed by SHA-256 (``data_dir/files/ab/cd/<hash>``):
the local-folder backend of the blob store (:mod:`gateway.core.blobs`).

A file is written to a temporary name, fsynced and renamed before the database row that
points at it is committed, so a committed row never points at a missing file.  Names given
by citizens are never used as paths.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

from gateway.core.text import strip_format

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def safe_filename(name: str | None, default: str = "attachment") -> str:
    """A display name with no path parts, control or format characters (a U+202E makes
    "invoice\u202efdp.exe" show as "invoiceexe.pdf") or leading dots."""
    name = strip_format(unicodedata.normalize("NFC", name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name.encode("utf-8")) > 200:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = stem.encode("utf-8")[:180].decode("utf-8", "ignore") + ("." + ext if ext else "")
    return name or default


def check_digest(sha256: str) -> None:
    """Refuse anything but a SHA-256 hex digest (names are never paths)."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a sha256 hex digest")


class FileStore:
    """Write and read content-addressed files under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        check_digest(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_sync(self, data: bytes) -> str:
        """Store bytes durably (blocking); return their SHA-256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    async def put(self, data: bytes) -> str:
        """Store bytes durably; return their SHA-256 hex digest."""
        return await asyncio.to_thread(self.put_sync, data)

    async def get(self, sha256: str) -> bytes:
        """Read a stored file back."""
        return await asyncio.to_thread(self.path_for(sha256).read_bytes)

    def writer(self, session: object) -> Callable[[bytes], str]:
        """A put for code inside a transaction: the file is fsynced before the commit."""
        return self.put_sync

    async def delete(self, sha256: str) -> bool:
        """Remove a stored file (retention); True if it was there."""

        def remove() -> bool:
            path = self.path_for(sha256)
            existed = path.exists()
            path.unlink(missing_ok=True)
            return existed

        return await asyncio.to_thread(remove)
