"""AMI wire format: messages of ``Key: Value`` lines ended by an empty line (CRLF), and
the error classes of the AMI client (README "Voice").

Errors: :class:`AmiError` <- :class:`AmiUnavailable` (no link, lost, timed out: a retry
can help) and :class:`AmiActionError` (Asterisk answered ``Response: Error``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FRAME_END = b"\r\n\r\n"


class AmiError(Exception):
    """Base of AMI failures."""


class AmiUnavailable(AmiError):
    """Not connected, connection lost, or no answer in time (retry later)."""


class AmiActionError(AmiError):
    """Asterisk refused the action (``Response: Error``); ``message`` says why."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.message = message


@dataclass(frozen=True, slots=True)
class AmiMessage:
    """One AMI message: ordered headers, repeats kept (``Variable``, ``ChanVariable``)."""

    pairs: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str = "") -> str:
        """The first value of a header (names are case-insensitive)."""
        key = key.lower()
        return next((v for k, v in self.pairs if k.lower() == key), default)

    def getall(self, key: str) -> list[str]:
        key = key.lower()
        return [v for k, v in self.pairs if k.lower() == key]

    def headers(self) -> dict[str, str]:
        """Lower-cased header names to their first value."""
        out: dict[str, str] = {}
        for k, v in self.pairs:
            out.setdefault(k.lower(), v)
        return out

    @property
    def event(self) -> str:
        return self.get("Event")


def parse_frame(raw: bytes) -> AmiMessage:
    """Parse one message (``Key: Value`` lines); decoded only once it is whole."""
    pairs = []
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key:
            pairs.append((key.strip(), value.strip()))
    return AmiMessage(tuple(pairs))


def build_frame(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Serialise an action; CR/LF in values would inject headers, so they are dropped."""
    clean = (f"{k}: {str(v).replace(chr(13), ' ').replace(chr(10), ' ')}\r\n" for k, v in pairs)
    return ("".join(clean) + "\r\n").encode("utf-8")
