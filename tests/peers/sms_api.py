"""Local fake SMS provider APIs (Kavenegar REST and a generic JSON endpoint) on loopback.

They keep what they receive so tests can assert on it, and can be told to fail.  The fake
Kavenegar dedupes on ``localid`` the way its documentation describes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.peers import free_port


@dataclass
class FakeSmsApi:
    """One aiohttp server with both fakes; ``fail_with`` forces a reply."""

    api_key: str = "6A4B2C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B"
    sent: list[dict[str, Any]] = field(default_factory=list)
    generic_posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)  # messageid -> Kavenegar status code
    inbox: list[dict[str, Any]] = field(default_factory=list)
    fail_with: tuple[int, int] | None = None  # (HTTP status, return.status)
    generic_reply: tuple[int, dict[str, Any]] = (200, {"id": "g-1"})
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None
    _by_local: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _reply(self, entries: list[dict[str, Any]]) -> web.Response:
        if self.fail_with is not None:
            http, code = self.fail_with
            return web.json_response({"return": {"status": code, "message": "خطا"}, "entries": None}, status=http)
        return web.json_response({"return": {"status": 200, "message": "تایید شد"}, "entries": entries})

    async def kavenegar(self, request: web.Request) -> web.Response:
        if request.match_info["key"] != self.api_key:
            return web.json_response({"return": {"status": 401, "message": "bad key"}, "entries": None}, status=401)
        form = dict(await request.post())
        method = request.match_info["method"]
        if method == "sms/send.json":
            entry = self._by_local.get(str(form.get("localid")))
            if entry is None and self.fail_with is None:
                entry = {
                    "messageid": 8000 + len(self.sent),
                    "message": form["message"],
                    "status": 1,
                    "receptor": form["receptor"],
                    "sender": form["sender"],
                    "cost": 120,
                }
                self.sent.append(dict(form))
                self._by_local[str(form.get("localid"))] = entry
            return self._reply([entry] if entry else [])
        if method == "sms/status.json":
            ids = str(form.get("messageid", "")).split(",")
            return self._reply(
                [{"messageid": int(i), "status": self.statuses.get(i, 100), "statustext": ""} for i in ids if i]
            )
        if method == "sms/receive.json":
            entries, self.inbox = self.inbox, []
            return self._reply(entries)
        return self._reply([])

    async def generic(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.generic_posts.append((dict(request.headers), body))
        status, data = self.generic_reply
        return web.Response(status=status, text=json.dumps(data), content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/{key}/{method:.+}", self.kavenegar)
        app.router.add_post("/generic/send", self.generic)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
