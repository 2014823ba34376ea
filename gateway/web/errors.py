"""The exceptions of the web layer, answered by the section that raises them::

    WebError
    ├── ApiError       staff API: JSON ``{"error": {"code", "message"}}`` with a stable code
    └── Open311Error   Open311: the GeoReport v2 error list, with an HTTP status

Core errors (``gateway.core.errors``) are translated to these (or to a page) at the
handler; nothing else leaves a handler as an exception.
"""

from __future__ import annotations


class WebError(Exception):
    """Base of the web layer's exceptions."""


class ApiError(WebError):
    """An error answered as JSON with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Open311Error(WebError):
    """An error answered in the spec's error format."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description
