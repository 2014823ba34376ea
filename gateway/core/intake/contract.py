"""The inbound contract: what a channel adapter hands to the intake writer, and what it
gets back.

Everything the core acts on is a typed field of :class:`InboundMessage`.  ``meta`` is only
stored (on the message row, for staff and support questions); the core never reads it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.core.vocab import Channel, Kind

#: Hours a contact's open case takes follow-ups without a code, when the channel threads
#: by contact (SMS) and does not say otherwise.
DEFAULT_FOLLOW_UP_HOURS = 72

# Keys that older adapters put into ``meta`` for the core to read.  They are lifted into
# the typed fields below, so a branch written against the old contract keeps working;
# new code sets the fields.  Remove once no adapter sets them.
_LEGACY_META = ("thread_by_contact", "follow_up_window_hours", "reserved_key", "ack_channel", "language")


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
    SURVEY_REQUEST = "survey_request"  # SMS: the survey keyword, answered with the digits survey


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

    Identity and dedupe: ``external_id`` is the channel's own id (Message-ID, provider
    message id, Asterisk uniqueid), unique together with ``channel`` and ``provider``.

    Threading, in the order intake tries them: ``reserved_key`` (the dedupe key of a case
    this channel reserved earlier: voice reserves over FastAGI, then the recording appends;
    set by channel code only, never from citizen input), ``thread_refs`` (ids of messages we
    sent, e.g. In-Reply-To/References), ``tracking_code`` and ``body_codes``, and last, when
    ``thread_by_contact`` is set, the contact's open case updated within
    ``follow_up_window_hours``.

    Replies: ``acknowledge`` asks for an acknowledgement with the tracking code, sent on
    ``ack_channel`` (default: the channel it came on) in ``language`` (default: guessed
    from the text).  ``automatic`` marks robot mail: stored on a case if it threads, never
    opens a case and is never answered.
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
    thread_by_contact: bool = False
    follow_up_window_hours: int = DEFAULT_FOLLOW_UP_HOURS
    reserved_key: str | None = None
    ack_channel: Channel | None = None
    language: str | None = None  # "fa" | "en"; None: guessed from the text
    reporter_consent: bool = False  # a violation reporter agreed an external body may see who they are
    meta: dict[str, Any] = field(default_factory=dict)  # stored with the message, never read
    attachment_digests: list[str] = field(default_factory=list)  # filled in by the intake writer

    def __post_init__(self) -> None:
        if any(key in self.meta for key in _LEGACY_META):
            _lift_legacy_meta(self)


def _lift_legacy_meta(msg: InboundMessage) -> None:
    """Move keys of the old untyped contract out of ``meta`` into their fields."""
    meta = msg.meta = dict(msg.meta)
    if meta.pop("thread_by_contact", None):
        msg.thread_by_contact = True
    if "follow_up_window_hours" in meta:
        msg.follow_up_window_hours = int(meta.pop("follow_up_window_hours"))
    if reserved := meta.pop("reserved_key", None):
        msg.reserved_key = str(reserved)
    if ack := meta.pop("ack_channel", None):
        msg.ack_channel = Channel(ack)
    if language := meta.pop("language", None):
        msg.language = str(language)


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
        return self.outcome in _STORED or (self.outcome is Outcome.IGNORED and self.message_id is not None)


_STORED = frozenset({Outcome.CREATED, Outcome.APPENDED, Outcome.DUPLICATE, Outcome.STATUS, Outcome.SURVEY})
