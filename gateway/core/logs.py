"""Structured logging with redaction by construction.

Every record passes through :class:`RedactingFilter`, which masks email addresses (any
local part: quoted, or with ``'`` ``!`` ``/`` and the rest of RFC 5322's atext), phone
numbers, ``key=`` style secrets and token-shaped values (20+ characters of letters and
digits: survey, answer-link, CSRF and API tokens) in the message and in ``extra`` fields,
so a careless ``log.info("from %s", sender)`` still writes no citizen's contact.

Some libraries log whole payloads below WARNING: aiosmtpd's ``mail.log`` writes every
line of a mail at DEBUG, SQLAlchemy's engine writes statements with their parameters at
INFO.  :data:`QUIET_LOGGERS` stay at WARNING whatever ``logging.level`` says.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

# local part: RFC 5322 atext (letters, digits and !#$%&'*+/=?^_`{|}~-, dots) or a quoted string
_EMAIL = re.compile(r"(?:\"(?:[^\"\\\r\n]|\\.){0,200}\"|[\w.!#$%&'*+/=?^`{|}~\-]+)@[\w\-]+(?:\.[\w\-]+)+")
_PHONE = re.compile(r"(?<![\w])(?:\+|00)?[0-9۰-۹٠-٩][0-9۰-۹٠-٩ \-]{7,16}[0-9۰-۹٠-٩](?![\w])")
_SECRET = re.compile(r"(?i)((?:api[_-]?key|apikey|password|passwd|secret|token|pass)[=:/]\s*)([^\s&/\"']+)")
# Kavenegar puts the API key in the URL path: https://api.kavenegar.com/v1/<key>/sms/send.json
_KEY_IN_PATH = re.compile(r"(?i)(/v1/)([A-Za-z0-9+/=\-]{16,})(/)")
# token-shaped: 20+ URL-safe characters (dot-joined parts allowed, one part of 16+) with a
# letter and a digit: signed survey/answer-link tokens, CSRF and API tokens; words, dotted
# module names and addresses like 127.0.0.1 do not qualify
_TOKEN = re.compile(r"(?<![\w\-])[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*(?![\w\-])")
_TOKEN_PART = re.compile(r"[A-Za-z0-9_\-]{16,}")
_DIGIT, _LETTER = re.compile(r"\d"), re.compile(r"[A-Za-z]")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
QUIET_LOGGERS = (
    "mail.log",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "aiosqlite",
    "asyncpg",
    "alembic",
    "aiohttp.access",
)


def _mask_token(m: re.Match[str]) -> str:
    token = m.group(0)
    if len(token) < 20 or not _TOKEN_PART.search(token):
        return token
    return "***" if _DIGIT.search(token) and _LETTER.search(token) else token


def redact(text: str) -> str:
    """Mask secrets, email addresses and phone numbers in a string."""
    text = _SECRET.sub(r"\1***", text)
    text = _KEY_IN_PATH.sub(r"\1***\3", text)
    text = _EMAIL.sub(lambda m: "***@" + m.group(0).rsplit("@", 1)[1], text)
    text = _TOKEN.sub(_mask_token, text)
    return _PHONE.sub(lambda m: "***" + m.group(0)[-2:], text)


class RedactingFilter(logging.Filter):
    """Redact the formatted message and string extras of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class TextFormatter(logging.Formatter):
    """Plain lines; tracebacks redacted too (a library's exception text can quote a request
    line, e.g. aiohttp's "Invalid char in url query: b'GET /sms/…?from=0912…'")."""

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return redact(super().formatStack(stack_info))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once for the process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries()


def quiet_libraries() -> None:
    """Keep the payload-logging libraries at WARNING whatever the root level (their INFO
    and DEBUG lines are raw mails and SQL parameters, which no redaction can make safe)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
