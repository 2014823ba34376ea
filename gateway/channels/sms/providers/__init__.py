"""SMS provider adapters, same shape each: a status table (provider words -> ours),
``routes(inbound)`` for its webhooks, and a transport with ``send(SmsOut)`` and optional
``start``/``stop`` for pollers.  Outbound HTTP goes through :class:`HttpClient`.
"""

from __future__ import annotations

import aiohttp


class HttpClient:
    """One lazily created aiohttp session with a timeout on every call."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
