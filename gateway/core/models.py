"""ORM models: cases, messages, attachments, units, services, staff, outbox, audit,
surveys, plus small tables for channel state, leases and the raw inbound spool.

Timestamps are timezone-aware UTC.  Enumerations are stored as short strings (no database
ENUM types) so that SQLite and PostgreSQL share one migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.config import DEFAULT_SLA_DAYS

# The base lives in gateway.core.orm; these names stay importable from here.
from gateway.core.orm import NAMING as NAMING
from gateway.core.orm import Base as Base
from gateway.core.orm import BigId as BigId
from gateway.core.orm import UTCDateTime as UTCDateTime
from gateway.core.orm import utcnow as utcnow


class Unit(Base):
    __tablename__ = "units"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))


class Service(Base):
    __tablename__ = "services"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    unit_code: Mapped[str] = mapped_column(String(64))
    sla_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_SLA_DAYS)
    card: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the full service identity card


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str | None] = mapped_column(String(320), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    unit_code: Mapped[str] = mapped_column(String(64))
    service_code: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(8), default="fa")
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    related_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    due_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # the person in the unit responsible for the case, and who gave the latest answer
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # the reporter agreed, on submission, that an external oversight body may see who they are
    reporter_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    purged_at: Mapped[datetime | None]  # personal data removed by the retention policy
    # an appeal ("not satisfied" after an answer): who in the appeal unit handles it
    appeal_level: Mapped[str | None] = mapped_column(String(16))  # None | supervisor | unit
    appealed_at: Mapped[datetime | None]

    messages: Mapped[list[Message]] = relationship(back_populates="case", order_by="Message.id")

    __table_args__ = (Index("ix_cases_unit_status_created", "unit_code", "status", "created_at"),)


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in | out | note
    channel: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32), default="")
    external_id: Mapped[str | None] = mapped_column(String(500))
    sender: Mapped[str | None] = mapped_column(String(320))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text, default="")
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str | None] = mapped_column(String(200))  # staff name for out/note
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="message", order_by="Attachment.id")

    # The dedupe key: a retried delivery of the same provider message is one row.
    __table_args__ = (
        UniqueConstraint("channel", "provider", "external_id", name="uq_messages_channel_provider_external_id"),
    )


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    inline: Mapped[bool] = mapped_column(Boolean, default=False)

    message: Mapped[Message] = relationship(back_populates="attachments")


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    unit_code: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # new cases: "immediate" (one email each), "digest" (one email a day) or "none"
    notify: Mapped[str] = mapped_column(String(16), default="digest", server_default="digest")
    # bumped by a password change, token revoke or deactivation: older console sessions end
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Outbox(Base):
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="fa")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(255), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

    # one-way many-to-one links, so intake can add a whole case graph and flush once
    case: Mapped[Case | None] = relationship()
    message: Mapped[Message | None] = relationship()

    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))  # "system", "citizen", "staff:<name>"
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    case: Mapped[Case | None] = relationship()

    __table_args__ = (Index("ix_audit_events_action_at", "action", "at"),)


class SurveyInvitation(Base):
    __tablename__ = "survey_invitations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # None: an open survey a citizen asked for (the SMS keyword), see core.surveys_open
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), unique=True)
    scope: Mapped[str] = mapped_column(String(16), default="case", server_default="case")
    unit_code: Mapped[str | None] = mapped_column(String(64))
    service_code: Mapped[str | None] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(320), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]


class SurveyResponse(Base):
    __tablename__ = "survey_responses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # None for open surveys (site, service, unit pages, kiosk, paper, keypad)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("survey_invitations.id"), unique=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # question -> 1..5
    improper_request: Mapped[bool | None] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16))  # web | kiosk | paper | email | sms | voice
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    scope: Mapped[str] = mapped_column(String(16), default="case", server_default="case")
    unit_code: Mapped[str | None] = mapped_column(String(64), index=True)
    service_code: Mapped[str | None] = mapped_column(String(64))
    # who served the citizen: the answering staff member, or the desk code they named
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # paper forms
    visit_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # one per visit


class ChannelState(Base):
    """Small per-channel facts that must survive restarts (IMAP UIDVALIDITY/last UID...)."""

    __tablename__ = "channel_state"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Lease(Base):
    """A named lock held by one process until ``expires_at`` (IMAP mailbox, AMI link)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]


class InboundSpool(Base):
    """Raw inbound input kept durably before (or instead of) parsing, for replay."""

    __tablename__ = "inbound_spool"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(100), default="")
    external_id: Mapped[str | None] = mapped_column(String(500))
    envelope: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    # the instance draining the row now (core.spool_drain), renewed by its heartbeat
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("channel", "source", "external_id", name="uq_inbound_spool_channel_source_external_id"),
    )


class InboundKey(Base):
    """Every inbound (channel, provider, external id) seen, with what became of it.

    This is the dedupe ledger: a retried delivery finds its row and gets the original
    outcome back, also for status queries and survey replies that add no case message.
    """

    __tablename__ = "inbound_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32), default="")
    external_id: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case | None] = relationship()
    message: Mapped[Message | None] = relationship()

    __table_args__ = (
        UniqueConstraint("channel", "provider", "external_id", name="uq_inbound_keys_channel_provider_external_id"),
    )


# Tables shared across processes (limit counters, blobs) and of the oversight area (notices,
# forwards) live in their own modules; importing them here puts them on Base.metadata
# wherever the models are collected.
from gateway.core import models_oversight, shared_tables  # noqa: E402,F401
