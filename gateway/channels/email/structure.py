"""Reading raw bytes into a MIME tree within bounds (pure; raises only :class:`TooComplex`).

A mail can be built to cost a lot: thousands of parts, or parts nested a thousand deep
(which makes the stdlib's recursive walks raise ``RecursionError``).  We count parts and
nesting while the stdlib's feed parser builds the tree and stop at the configured bounds;
the caller then keeps the raw mail whole (``original.eml``) with the reason.

Line endings: a mail whose header lines end in a bare CR (old Mac clients, some
converters) is read with CRLF; the parser would otherwise see one endless header line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.feedparser import BytesFeedParser
from email.message import Message

_FIRST_BREAK = re.compile(rb"[\r\n]")
_ANY_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class MailLimits:
    """Bounds on one mail (``[email]`` config keys of the same names without ``max_``)."""

    attachment_bytes: int = 10 * 2**20  # one attachment; larger ones are noted, not kept
    parts: int = 1000  # MIME parts in the whole tree
    depth: int = 30  # multipart / message nesting
    attachments: int = 200  # attachments stored one by one
    decoded_bytes: int = 50 * 2**20  # all stored attachments together


class TooComplex(Exception):
    """The mail is beyond :class:`MailLimits`; ``reason`` is ``too_many_parts`` or ``too_deep``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _BoundedParser(BytesFeedParser):
    """The stdlib feed parser, counting the parts it makes and how deep they sit."""

    def __init__(self, limits: MailLimits) -> None:
        super().__init__()
        self._limits, self._made = limits, 0

    def _new_message(self) -> None:
        # FeedParser's (private, long-stable) hook: called once for every part it creates,
        # with ``_msgstack`` holding the enclosing parts.
        self._made += 1
        if self._made > self._limits.parts:
            raise TooComplex("too_many_parts")
        if len(self._msgstack) >= self._limits.depth:
            raise TooComplex("too_deep")
        super()._new_message()  # type: ignore[misc]


def normalise_line_endings(raw: bytes) -> bytes:
    """CR-only mail -> CRLF; any other mail is returned as it is (binary parts untouched)."""
    first = _FIRST_BREAK.search(raw, 0, 65536)
    if first is None or raw[first.start() : first.start() + 2] == b"\r\n" or raw[first.start()] == 0x0A:
        return raw
    return _ANY_BREAK.sub(b"\r\n", raw)


def read_message(raw: bytes, limits: MailLimits) -> Message:
    """Parse ``raw`` (compat32) within ``limits``; raise :class:`TooComplex` beyond them."""
    parser = _BoundedParser(limits)
    try:
        parser.feed(normalise_line_endings(raw))
        return parser.close()
    except RecursionError:  # deeper than the interpreter allows, before our bound: same answer
        raise TooComplex("too_deep") from None


def read_headers(raw: bytes) -> Message:
    """Only the top-level header block (cheap, whatever the body holds)."""
    data = normalise_line_endings(raw)
    end = re.search(rb"\r?\n\r?\n", data)
    head = data[: end.end()] if end else data[:65536]
    parser = BytesFeedParser()
    parser.feed(head[:262144])
    return parser.close()
