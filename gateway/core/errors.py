"""Every exception the core raises on purpose, in one place.

The tree (``GatewayError`` catches them all; third-party errors are translated at the
boundary with ``raise … from``)::

    GatewayError
    ├── ConfigError            the config file cannot be used (exit code 2); ``problems``
    ├── DatabaseUnavailable    the database cannot be reached or is locked: try later
    ├── CaseActionError        a staff action cannot be done; ``code`` is the API's error code
    ├── SurveyError            a survey response cannot be taken; ``reason``
    └── InputError (ValueError) what a person typed is not usable
        ├── CodeError          not a tracking code; ``reason``: format | check_digit
        ├── FilterError        a case-list filter has a bad value; ``field``
        └── StaffError         a staff command cannot be carried out

Internal and never seen outside its module: ``intake.batch.FastPathFailed`` (the writer
redoes the batch one message at a time).  The modules that raise these re-export them
(``tracking.CodeError``, ``db.DatabaseUnavailable``, …), so either import works.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every exception the core raises on purpose."""


class ConfigError(GatewayError):
    """The config cannot be used; ``problems`` are one line each, key path first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class DatabaseUnavailable(GatewayError):
    """The database cannot be reached or is locked; a retry later may work."""


class CaseActionError(GatewayError):
    """A staff action cannot be done; ``code`` is stable (the API's error code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # not_found | validation_error | forbidden_for_kind | unknown_unit
        self.message = message


class SurveyError(GatewayError):
    """A survey response cannot be taken; ``reason`` is a stable code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # invalid | expired | answered | bad_answers


class InputError(GatewayError, ValueError):
    """What a person typed is not usable (the message says why)."""


class CodeError(InputError):
    """The text is not a tracking code; ``reason`` is ``format`` or ``check_digit``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FilterError(InputError):
    """A list filter has a bad value; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class StaffError(InputError):
    """A staff command cannot be carried out; the message says why."""
