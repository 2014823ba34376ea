"""The words of the case model, shared by intake, outbox and web.

They live apart from both contracts (``gateway.core.intake.contract`` for what comes in,
``gateway.core.messages`` for what goes out) so that neither contract imports the other.
"""

from __future__ import annotations

import enum


class Channel(str, enum.Enum):
    """Channels a case can come in on; the value is stored in the database."""

    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    WEB = "web"


class Kind(str, enum.Enum):
    """Kinds of case."""

    REQUEST = "request"
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"
    CRITICISM = "criticism"
    VIOLATION_REPORT = "violation_report"


#: The survey's questions, in the order they are asked (web form, SMS digits, keypad).
SURVEY_QUESTIONS = ("workflow", "information_match", "staff_behaviour", "timeliness")


class Status(str, enum.Enum):
    """Case status: new -> routed -> answered -> closed; a citizen reply reopens."""

    NEW = "new"
    ROUTED = "routed"
    ANSWERED = "answered"
    CLOSED = "closed"
