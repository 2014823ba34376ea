"""Tables that let several gateway processes share what used to live in one process:
limit counters (:mod:`gateway.core.limits`) and file contents (:mod:`gateway.core.blobs`).

Imported at the end of :mod:`gateway.core.models` so that every place that collects the
models (Alembic, the migration test) sees them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.orm import Base, utcnow


class RateCounter(Base):
    """Hits of one limit key in one fixed window (``window_start`` in epoch milliseconds).

    Keys are stored hashed after their scope (``track:<sha256 prefix>``): a counter table
    holds no addresses or phone numbers."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # epoch ms; swept after


class Blob(Base):
    """File contents by SHA-256 (the PostgreSQL blob store): attachments, recordings,
    outgoing files.  Rows are written before the rows that point at them commit."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
