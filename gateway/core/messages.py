"""The value objects that cross the boundary between channels and the core.

Channel adapters build an :class:`InboundMessage` from raw input and hand it to
``core.intake``; they get back an :class:`IntakeResult` whose ``outcome`` is one of a
closed set.  Senders receive an :class:`OutboundMessage` from the outbox dispatcher and
answer with a :class:`SendResult` saying whether a retry can help.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Channel(str, enum.Enum):
    """Channels a case can come in on; the value is stored in the database."""

    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    WEB = "web"


class Kind(str, enum.Enum):
    """Kinds of case (DESIGN.md section 3)."""

    REQUEST = "request"
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"
    CRITICISM = "criticism"
    VIOLATION_REPORT = "violation_report"


class Status(str, enum.Enum):
    """Case status: new -> routed -> answered -> closed; a citizen reply reopens."""

    NEW = "new"
    ROUTED = "routed"
    ANSWERED = "answered"
    CLOSED = "closed"


class Intent(str, enum.Enum):
    """What an inbound message asks of the core.

    Channels decide the intent from the channel's own conventions (an SMS that is only a
    tracking code is a status query; digits answering a pending survey are a survey
    response); the core carries it out in the same transaction as everything else.
    """

    SUBMISSION = "submission"
    STATUS_QUERY = "status_query"
    SURVEY_RESPONSE = "survey_response"
    RESERVE = "reserve"  # voice: open the case now, the recording follows


class Outcome(str, enum.Enum):
    """The closed set of intake outcomes; each channel maps them to one protocol reply."""

    CREATED = "created"
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    STATUS = "status"  # a status query was answered (reply queued in the outbox)
    SURVEY = "survey"  # a survey response was recorded
    IGNORED = "ignored"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class InboundAttachment:
    """A file that came with a message; ``data`` is the raw bytes."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass(slots=True)
class InboundMessage:
    """One message from a citizen, as parsed by a channel adapter.

    ``external_id`` is the channel's own id (Message-ID, provider message id, Asterisk
    uniqueid) and the dedupe key together with ``channel`` (and ``provider``).
    ``thread_refs`` are channel thread hints, such as the Message-IDs in In-Reply-To and
    References, matched against the ids of messages we sent.
    ``automatic`` marks robot mail: it is stored on a case if it threads, but never opens a
    case and is never answered.
    """

    channel: Channel
    text: str
    external_id: str | None = None
    provider: str = ""
    sender: str | None = None  # email address or E.164 phone; None for anonymous
    sender_name: str | None = None
    recipient: str | None = None  # our address / short code it was sent to
    subject: str | None = None
    attachments: list[InboundAttachment] = field(default_factory=list)
    tracking_code: str | None = None  # an explicit code the adapter found (e.g. [#code])
    body_codes: list[str] = field(default_factory=list)  # codes seen in the body text
    thread_refs: list[str] = field(default_factory=list)
    kind_hint: Kind | None = None
    unit_hint: str | None = None
    service_code: str | None = None
    automatic: bool = False
    acknowledge: bool = True
    intent: Intent = Intent.SUBMISSION
    survey_answers: list[int] = field(default_factory=list)
    received_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    attachment_digests: list[str] = field(default_factory=list)  # filled in by the intake writer


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What ``core.intake`` did with one message."""

    outcome: Outcome
    case_code: str | None = None
    case_id: int | None = None
    message_id: int | None = None
    reason: str | None = None
    reply_text: str | None = None  # for synchronous channels (status query over AGI)

    @property
    def stored(self) -> bool:
        """True when the message is durably held by the core (ack the transport)."""
        return self.outcome in (Outcome.CREATED, Outcome.APPENDED, Outcome.DUPLICATE,
                                Outcome.STATUS, Outcome.SURVEY) or (
            self.outcome is Outcome.IGNORED and self.message_id is not None)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One row of the outbox as handed to a channel sender.

    ``idempotency_key`` stays the same across retries (it is the Message-ID for email and
    the provider's local id for SMS), so a resend after a crash is the same message.
    """

    outbox_id: int
    channel: Channel
    purpose: str  # ack | answer | survey | status | help | notice | digest
    recipient: str
    subject: str
    text: str
    idempotency_key: str
    case_code: str | None = None
    html: str | None = None
    language: str = "fa"
    headers: dict[str, str] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1


class SendStatus(str, enum.Enum):
    """Result of one send attempt."""

    SENT = "sent"  # handed over; a delivery report may follow
    DELIVERED = "delivered"  # final success known at once
    TEMPORARY = "temporary"  # retry later with backoff
    PERMANENT = "permanent"  # give up; staff see it


@dataclass(frozen=True, slots=True)
class SendResult:
    """A sender's answer: status plus the provider's id and a stable error code."""

    status: SendStatus
    provider_id: str | None = None
    error_code: str | None = None
    detail: str | None = None

    @classmethod
    def sent(cls, provider_id: str | None = None) -> SendResult:
        """Handed to the provider."""
        return cls(SendStatus.SENT, provider_id)

    @classmethod
    def temporary(cls, code: str, detail: str = "") -> SendResult:
        """A failure that a retry can fix."""
        return cls(SendStatus.TEMPORARY, None, code, detail)

    @classmethod
    def permanent(cls, code: str, detail: str = "") -> SendResult:
        """A failure a retry cannot fix."""
        return cls(SendStatus.PERMANENT, None, code, detail)
