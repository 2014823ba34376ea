"""Files only the gateway's own user may read: the data folder (0700), the SQLite
database with its WAL and shared-memory files, and the outbox files (0600).

They hold citizens' messages and contacts; a umask of 022 made them world-readable.  The
process umask is left alone on purpose: the voice spool is shared with Asterisk, which
must read what the gateway writes there.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE, FILE_MODE = 0o700, 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) and leave it 0700, also if it existed."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename), mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an old temporary file keeps its mode otherwise
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)


def private_sqlite(database: str | None) -> None:
    """Leave the SQLite file and its companions 0600; called as each connection opens, before
    WAL mode is set (SQLite gives the WAL and -shm files the database file's mode)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    for suffix in SQLITE_SUFFIXES:
        other = path.with_name(path.name + suffix)
        try:
            if other.stat().st_mode & 0o077:
                os.chmod(other, FILE_MODE)
        except FileNotFoundError:
            pass
