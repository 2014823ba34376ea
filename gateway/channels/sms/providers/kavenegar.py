"""Kavenegar REST (``{api_url}/v1/{API-KEY}/{scope}/{method}.json``; the key sits in the
URL path, so it is never logged and ``gateway.core.logs`` masks ``/v1/<key>/`` anyway).

Send ``sms/send.json`` with our outbox id as ``localid``, so a retry returns the first
message instead of sending twice.  Delivery by polling ``sms/status.json`` (no webhook is
documented).  Inbound by the panel's forwarding URL ``/sms/kavenegar/inbound`` or by
polling ``sms/receive.json`` (``sms.kavenegar.inbound``); polled messages are spooled
before intake, because the provider marks them read.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from gateway.channels.sms.guard import WebhookGuard
from gateway.channels.sms.parse import IncomingSms, from_unix, national
from gateway.channels.sms.providers import HttpClient
from gateway.channels.sms.sender import SmsOut
from gateway.channels.sms.webhook import Reply, SmsInbound, encode
from gateway.core.context import GatewayContext
from gateway.core.messages import SendResult

log = logging.getLogger(__name__)
NAME = "kavenegar"
PENDING_KEY = "sms:kavenegar:pending"
# Message status codes -> ours (kavenegar.com/rest.html); 100 = unknown id.
STATUS = {
    1: "sent",
    2: "sent",
    4: "sent",
    5: "sent",
    6: "failed",
    10: "delivered",
    11: "failed",
    13: "failed",
    14: "failed",
}
RETRYABLE = {409, 418}  # server busy; no credit (refilled by staff, then it goes)


class KavenegarError(Exception):
    """A call failed; ``code`` is return.status or the HTTP status."""

    def __init__(self, code: int, text: str = "") -> None:
        super().__init__(f"kavenegar {code}")
        self.code, self.text = code, text


def parse_reply(http_status: int, body: str) -> list[dict[str, Any]]:
    """A REST reply -> its ``entries`` (objects only); raise :class:`KavenegarError`."""
    try:
        data = json.loads(body)
        code = int(data["return"]["status"])
    except (ValueError, KeyError, TypeError, OverflowError):
        raise KavenegarError(http_status, "unreadable reply") from None
    if code != 200 or http_status != 200:
        raise KavenegarError(code if code != 200 else http_status, str(data["return"].get("message", "")))
    entries = data.get("entries") or []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def status_of(entry: dict[str, Any]) -> tuple[str, int]:
    """A status entry -> (message id, status code; 0 when unreadable)."""
    try:
        code = int(entry.get("status") or 0)
    except (ValueError, TypeError, OverflowError):
        code = 0
    return str(entry.get("messageid")), code


def polled_sms(entry: dict[str, Any]) -> IncomingSms:
    """A ``sms/receive.json`` entry -> :class:`IncomingSms`."""
    return IncomingSms(
        NAME,
        str(entry.get("messageid") or ""),
        str(entry.get("sender") or ""),
        str(entry.get("receptor") or ""),
        str(entry.get("message") or ""),
        from_unix(entry.get("date")),
    )


def parse_forward(fields: Mapping[str, str]) -> IncomingSms:
    """The forwarding URL's fields -> :class:`IncomingSms`; KeyError when one is missing."""
    if not fields.get("messageid") or not fields.get("from") or "message" not in fields:
        raise KeyError("messageid, from and message are required")
    return IncomingSms(
        NAME,
        fields["messageid"],
        fields["from"],
        fields.get("to", ""),
        fields["message"],
        from_unix(fields.get("date")),
    )


class KavenegarClient:
    """The few REST calls we use."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.cfg = ctx.config.sms.kavenegar
        self.key = ctx.config.secret(self.cfg.api_key_env) or ""
        self.http = HttpClient(self.cfg.timeout_seconds)

    async def call(self, method: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """POST one method; return ``entries``; raise :class:`KavenegarError`."""
        url = f"{self.cfg.api_url.rstrip('/')}/v1/{self.key}/{method}.json"
        async with self.http.session.post(url, data=params) as r:
            body = await r.text(errors="replace")
        return parse_reply(r.status, body)


class KavenegarTransport:
    """Send, and poll delivery status and (optionally) inbound messages."""

    def __init__(self, ctx: GatewayContext, inbound: SmsInbound) -> None:
        self.ctx, self.inbound, self.cfg = ctx, inbound, ctx.config.sms.kavenegar
        self.client = KavenegarClient(ctx)
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    async def send(self, sms: SmsOut) -> SendResult:
        params = {
            "receptor": national(sms.to, self.ctx.config.sms.region),
            "message": sms.text,
            "sender": self.cfg.sender,
            "localid": str(sms.outbox_id),
        }
        try:
            entries = await self.client.call("sms/send", params)
        except KavenegarError as e:
            make = SendResult.temporary if e.code in RETRYABLE or e.code >= 500 else SendResult.permanent
            return make(f"kavenegar_{e.code}", e.text[:200])
        except (aiohttp.ClientError, TimeoutError) as e:
            return SendResult.temporary("kavenegar_unreachable", type(e).__name__)
        message_id = str(entries[0].get("messageid")) if entries else None
        if message_id:
            await self._remember(message_id, sms.outbox_id)
        return SendResult.sent(message_id)

    async def _remember(self, message_id: str, outbox_id: int) -> None:
        async with self._lock:
            pending = await self.ctx.state.get(PENDING_KEY) or {}
            pending[message_id] = outbox_id
            await self.ctx.state.put(PENDING_KEY, pending)

    async def poll_status(self) -> int:
        """Ask for the status of sent messages; apply the reports; return how many."""
        async with self._lock:
            pending: dict[str, int] = await self.ctx.state.get(PENDING_KEY) or {}
        ids = list(pending)[:500]
        if not ids:
            return 0
        entries = await self.client.call("sms/status", {"messageid": ",".join(ids)})
        done = []
        for entry in entries:
            mid, code = status_of(entry)
            ours = STATUS.get(code)
            if mid in pending and ours is not None:
                await self.inbound.delivery(ours, outbox_id=pending[mid], detail=f"kavenegar {code}")
            if ours in ("delivered", "failed") or code == 100:
                done.append(mid)
        async with self._lock:
            current = await self.ctx.state.get(PENDING_KEY) or {}
            await self.ctx.state.put(PENDING_KEY, {k: v for k, v in current.items() if k not in done})
        return len(entries)

    async def poll_inbound(self) -> int:
        """Fetch unread messages, spool each (the provider marks them read), then drain the
        SMS spool once; return how many spool rows that pass settled."""
        entries = await self.client.call("sms/receive", {"linenumber": self.cfg.sender, "isread": "0"})
        texts = [polled_sms(e) for e in entries]
        await asyncio.gather(*(self.inbound.spool.put(encode(sms), NAME, sms.external_id, {}) for sms in texts))
        return await self.inbound.drainer.run_once()

    async def _loop(self, name: str, every: float, step: Any) -> None:
        while True:
            try:  # one poller for all processes: the lease fails over within seconds
                if await self.ctx.leases.hold(f"sms:kavenegar:{name}"):
                    await step()
            except Exception as e:  # noqa: BLE001 - the provider or database is down: next round
                log.warning("kavenegar %s poll failed: %s", name, type(e).__name__)
            await asyncio.sleep(every)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._loop("status", self.cfg.status_poll_seconds, self.poll_status)))
        if self.cfg.inbound == "poll":
            self._tasks.append(asyncio.create_task(self._loop("inbound", self.cfg.poll_seconds, self.poll_inbound)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.client.http.close()


def routes(inbound: SmsInbound) -> Sequence[web.RouteDef]:
    """The panel's forwarding URL: GET or POST /sms/kavenegar/inbound (messageid, from, to,
    message), only with ``inbound = "forward"`` and for callers that pass the guard (the
    panel sends no headers, so the secret may come as ``token=``)."""
    ctx = inbound.ctx
    cfg = ctx.config.sms
    if cfg.kavenegar.inbound != "forward":
        return []
    guard = WebhookGuard(cfg.allow_from, ctx.config.secret(cfg.kavenegar.forward_token_env), query_token=True)

    async def forward(request: web.Request) -> web.Response:
        fields = dict(request.query)
        if request.method == "POST":
            fields.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        if not guard.allows(request, fields):
            return web.Response(status=401, text="unauthenticated")
        try:
            sms = parse_forward(fields)
        except KeyError as e:
            return web.Response(status=400, text=str(e.args[0]))
        reply: Reply = await inbound.accept(sms)
        return web.Response(status=reply.status, text=reply.result)

    return [web.get("/sms/kavenegar/inbound", forward), web.post("/sms/kavenegar/inbound", forward)]
