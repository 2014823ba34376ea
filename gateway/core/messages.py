"""The outbound contract: what the outbox dispatcher hands to a channel sender.

Senders receive an :class:`OutboundMessage` and answer with a :class:`SendResult` saying
whether a retry can help.  The inbound contract (:class:`InboundMessage`,
:class:`IntakeResult`) lives in ``gateway.core.intake.contract``; it and the case-model
words (``gateway.core.vocab``) are re-exported here so older imports keep working.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from gateway.core.intake.contract import InboundAttachment, InboundMessage, IntakeResult, Intent, Outcome
from gateway.core.vocab import Channel, Kind, Status

__all__ = [
    "Channel",
    "InboundAttachment",
    "InboundMessage",
    "IntakeResult",
    "Intent",
    "Kind",
    "OutboundMessage",
    "Outcome",
    "SendResult",
    "SendStatus",
    "Status",
]


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
