"""Pure parsing shared by every SMS provider: phone numbers, what a text means, and the
:class:`InboundMessage` the core gets.

A text that is only a tracking code (any digit script, with separators) is a status
query; one to five digits may answer a pending survey (the core falls back to a normal
submission when there is none); a first word naming a kind or a configured service code
sets it.  Numbers become E.164 with ``phonenumbers`` (+98 for 09…, 0098…, 98…).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import phonenumbers

from gateway.core import tracking
from gateway.core.config import Config
from gateway.core.messages import Channel, InboundMessage, Intent, Kind
from gateway.core.routing import kind_from_word
from gateway.core.surveys_digits import keyword_target
from gateway.core.text import first_word, fold, normalize, to_ascii_digits

# Words that ask for a status when followed by a code ("پیگیری ۱۴۰۳۰۹۰۰۱۲").
STATUS_WORDS = frozenset({"پیگیری", "وضعیت", "status", "track"})
_SURVEY_DIGITS = re.compile(r"^[1-5](?:[\s,،\-.]*[1-5]){0,4}$")
_NOT_DIALABLE = re.compile(r"[^\d+]")
_IR_MOBILE = re.compile(r"^(?:\+98|0098|98|0)(9\d{9})$")  # 09…, +989…, 00989…, 989…


_SURROGATE = re.compile("[\ud800-\udfff]")


class BadRequest(ValueError):
    """A webhook request that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class IncomingSms:
    """One mobile-originated SMS as any provider reports it."""

    provider: str
    external_id: str
    sender: str
    recipient: str
    text: str
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        # A JSON body may carry a lone surrogate ("\ud800"), which no UTF-8 store takes
        # (the spool's encode raised): such characters become U+FFFD (found by fuzzing).
        for name in ("external_id", "sender", "recipient", "text"):
            value = getattr(self, name)
            if not value.isascii() and _SURROGATE.search(value):
                object.__setattr__(self, name, _SURROGATE.sub("\ufffd", value))


def normalize_phone(raw: str, region: str = "IR") -> str | None:
    """E.164 for a citizen's number, or None if it is not a possible phone number."""
    digits = _NOT_DIALABLE.sub("", to_ascii_digits(raw or "").strip())
    if not digits:
        return None
    mobile = _IR_MOBILE.match(digits) if region == "IR" else None
    if mobile:  # the usual shape, without phonenumbers' ~30 us parse (same answer)
        return "+98" + mobile.group(1)
    tries = [digits]
    if not digits.startswith(("+", "0")):
        tries.append("+" + digits)  # "989121234567": country code without the plus
    for candidate in tries:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def national(e164: str, region: str = "IR") -> str:
    """The national form a local provider wants ("09121234567"), digits only."""
    try:
        number = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(number) != region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return _NOT_DIALABLE.sub("", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))


def from_unix(value: str | None) -> datetime | None:
    """A provider's unix time, or None when missing or garbage."""
    try:
        return datetime.fromtimestamp(int(str(value)), tz=UTC) if value else None
    except (ValueError, OverflowError, OSError):
        return None


def interpret(text: str, config: Config) -> dict[str, object]:
    """The InboundMessage fields a text implies: intent, code, survey digits, kind, service."""
    clean = normalize(text)
    if not clean:
        return {}
    if tracking.looks_like_code(clean):
        return {"intent": Intent.STATUS_QUERY, "tracking_code": clean}
    words = clean.split(maxsplit=1)
    if len(words) == 2 and fold(words[0]) in STATUS_WORDS and tracking.looks_like_code(words[1]):
        return {"intent": Intent.STATUS_QUERY, "tracking_code": words[1]}
    if keyword_target(config, clean) is not None:  # «نظرسنجی» (or a service code after it)
        return {"intent": Intent.SURVEY_REQUEST}
    ascii_text = to_ascii_digits(clean)
    if _SURVEY_DIGITS.match(ascii_text):
        return {"intent": Intent.SURVEY_RESPONSE, "survey_answers": [int(d) for d in ascii_text if d.isdigit()]}
    fields: dict[str, object] = {}
    kind = _kind_hint(clean, config)
    if kind is not None:
        fields["kind_hint"] = kind
    word = to_ascii_digits(first_word(clean))
    if word.isdigit() and word in {s.code for s in config.services}:
        fields["service_code"] = word
    return fields


def _kind_hint(text: str, config: Config) -> Kind | None:
    words = fold(text).split()
    extra = config.intake.kind_keywords
    for n in (2, 1):  # "گزارش تخلف" before "گزارش"
        if len(words) >= n:
            kind = kind_from_word(" ".join(words[:n]).strip(".,:;!?،؛؟«»()[]-"), extra)
            if kind is not None:
                return kind
    return None


def checked_sender(sms: IncomingSms, config: Config) -> str:
    """The E.164 sender of a usable SMS; raise :class:`BadRequest` (the only checks
    :func:`to_inbound` makes, so the store-first edge can refuse a request cheaply)."""
    sender = normalize_phone(sms.sender, config.sms.region)
    if sender is None:
        raise BadRequest("sender is not a phone number")
    if not sms.external_id:
        raise BadRequest("missing message id")
    return sender


def to_inbound(sms: IncomingSms, config: Config) -> InboundMessage:
    """Build the core's message from a provider's SMS; raise :class:`BadRequest`."""
    sender = checked_sender(sms, config)
    fields = interpret(sms.text, config)
    return InboundMessage(
        channel=Channel.SMS,
        provider=sms.provider,
        external_id=sms.external_id[:200],
        sender=sender,
        recipient=_digits(sms.recipient) or None,
        text=sms.text,
        received_at=sms.received_at,
        thread_by_contact=True,
        follow_up_window_hours=config.sms.follow_up_window_hours,
        **fields,
    )  # type: ignore[arg-type]


def _digits(value: str) -> str:
    return _NOT_DIALABLE.sub("", to_ascii_digits(value or ""))[:32]


_ESCAPE_RUNS = re.compile(r"((?:%[0-9A-Fa-f]{2})+)")


def unquote_bytes(value: str) -> bytes:
    """A form-encoded value as bytes ('+' is a space), each run of %XX escapes decoded at
    once: a Persian text is nothing but escapes, and the stdlib unquotes them one by one in
    Python (a quarter of the SMS webhook's CPU)."""
    value = value.replace("+", " ")
    if "%" not in value:
        return value.encode("utf-8", "surrogateescape")
    parts = _ESCAPE_RUNS.split(value)
    return b"".join(
        bytes.fromhex(p.replace("%", "")) if i % 2 else p.encode("utf-8", "surrogateescape")
        for i, p in enumerate(parts)
    )


def query_bytes(raw_query: str) -> dict[str, bytes]:
    """A raw query string as {name: value bytes}; blank values kept, the last of a repeated
    name wins."""
    out: dict[str, bytes] = {}
    for field in raw_query.split("&"):
        if field:
            name, _, value = field.partition("=")
            out[unquote_bytes(name).decode("utf-8", "replace")] = unquote_bytes(value)
    return out
