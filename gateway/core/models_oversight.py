"""ORM tables of follow-through and oversight: notices sent to staff (new-case mail,
digests, reminders, escalations) and forwards of violation reports to external bodies.

Imported at the end of :mod:`gateway.core.models`, on the same ``Base`` (``gateway.core.orm``), so migrations
and tests see them with every other table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.orm import Base, BigId, utcnow


class Notice(Base):
    """One thing the scheduler told (or will tell, in a digest) somebody about a case.

    ``key`` is unique: ``new:<case>:<staff>``, ``reminder:<case>``, ``overdue:<case>``,
    ``office:<case>``.  Inserting it is the claim, so two scheduler processes that race
    past the lease still act once.  ``status`` is ``pending`` while a digest has not yet
    carried it, then ``sent`` (or ``skipped`` when nobody could be told).
    """

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # new | reminder | overdue | office
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[str] = mapped_column(String(16), default="sent")
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notices_staff_status", "staff_id", "status"),)


class Forward(Base):
    """A violation report forwarded to an external oversight body (Article 9-1)."""

    __tablename__ = "forwards"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    body_code: Mapped[str] = mapped_column(String(64))
    body_name: Mapped[str] = mapped_column(String(200))
    body_email: Mapped[str] = mapped_column(String(320))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reporter_revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    message_id: Mapped[str] = mapped_column(String(500), unique=True)  # our Message-ID
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    replied_at: Mapped[datetime | None]
