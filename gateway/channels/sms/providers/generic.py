"""A generic signed JSON webhook for any other provider.

Inbound ``POST /sms/generic/inbound`` ``{"id", "from", "to", "text", "time"?, "udh"?}`` and
status ``POST /sms/generic/status`` ``{"id"? | "outbox_id"?, "status"}``, each carrying
``X-Gateway-Timestamp: <unix seconds>`` and ``X-Gateway-Signature: sha256=<hex
HMAC-SHA256 of "<timestamp>." + raw body>`` under the shared secret.  A request whose
timestamp is more than ``replay_window_seconds`` from our clock is refused, so a captured
request cannot be replayed later (within the window, the ids make a replay a duplicate).
With ``sms.allow_from`` set the caller's address must be listed too.
Outbound: a JSON POST of ``{"to", "from", "text", "ref", "outbox_id", "coding", "parts"}``
to ``send_url``, signed the same way; ``ref`` is our idempotency key, so the provider can
drop a repeat; a JSON reply ``{"id": …}`` gives the provider's id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from gateway.channels.sms.concat import PartInfo, Reassembler, parse_udh
from gateway.channels.sms.guard import WebhookGuard
from gateway.channels.sms.parse import IncomingSms, from_unix
from gateway.channels.sms.providers import HttpClient
from gateway.channels.sms.sender import SmsOut
from gateway.channels.sms.webhook import Reply, SmsInbound
from gateway.core.context import GatewayContext
from gateway.core.messages import SendResult

NAME = "generic"
SIGNATURE_HEADER = "X-Gateway-Signature"
TIMESTAMP_HEADER = "X-Gateway-Timestamp"
MAX_BODY = 64 * 1024
# Provider status words -> ours.
STATUS = {
    "accepted": "sent",
    "queued": "sent",
    "sent": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "failed": "failed",
    "undelivered": "failed",
    "rejected": "failed",
    "expired": "failed",
}


def sign(secret: str, body: bytes, timestamp: int | str) -> str:
    """The signature header value for a body sent at ``timestamp`` (unix seconds)."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Timestamp and signature headers for a body sent now."""
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, body, timestamp)}


def verify(
    secret: str | None, body: bytes, headers: Mapping[str, str], window: float, now: float | None = None
) -> bool:
    """True if the signature is the HMAC of timestamp and body under ``secret`` and the
    timestamp lies within ``window`` seconds of ``now`` (``sha256=`` prefix optional)."""
    if not secret:
        return False  # no secret configured: refuse everything rather than trust anyone
    stamp = headers.get(TIMESTAMP_HEADER, "").strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:  # "¹".isdigit() is True
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > window:
        return False
    given = headers.get(SIGNATURE_HEADER, "").strip().removeprefix("sha256=")
    return hmac.compare_digest(given.encode(), sign(secret, body, stamp).removeprefix("sha256=").encode())


def parse_inbound(data: Any) -> tuple[IncomingSms, PartInfo | None]:
    """A JSON inbound body -> SMS and its part info; KeyError names a missing field."""
    if not isinstance(data, dict):
        raise KeyError("body must be a JSON object")
    for name in ("id", "from"):
        if not isinstance(data.get(name), (str, int)) or str(data[name]) == "":
            raise KeyError(f"missing field {name}")
    if not isinstance(data.get("text"), str):
        raise KeyError("missing field text")
    sms = IncomingSms(
        provider=NAME,
        external_id=str(data["id"]),
        sender=str(data["from"]),
        recipient=str(data.get("to") or ""),
        text=str(data["text"]),
        received_at=from_unix(data.get("time")),
    )
    udh = data.get("udh")
    return sms, parse_udh(udh) if isinstance(udh, str) and udh else None


def parse_status(data: Any) -> tuple[str | None, int | None, str | None, str]:
    """A JSON status body -> (our status or None to ignore, outbox id, provider id, the
    provider's word); KeyError names what is missing."""
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        raise KeyError("missing field status")
    outbox_id, provider_id = data.get("outbox_id"), data.get("id")
    if isinstance(outbox_id, bool) or not isinstance(outbox_id, int):
        outbox_id = None
    elif not 0 < outbox_id < 2**63:  # not one of ours (and no database integer)
        raise KeyError("outbox_id out of range")
    if outbox_id is None and (isinstance(provider_id, bool) or not isinstance(provider_id, (str, int))):
        raise KeyError("missing field id or outbox_id")
    word = data["status"]
    return (STATUS.get(word.strip().lower()), outbox_id, None if outbox_id is not None else str(provider_id), word[:40])


class GenericTransport:
    """JSON POST to ``sms.generic.send_url``."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx, self.cfg = ctx, ctx.config.sms.generic
        self.http = HttpClient(self.cfg.timeout_seconds)

    async def send(self, sms: SmsOut) -> SendResult:
        if not self.cfg.send_url:
            return SendResult.permanent("generic_no_url", "sms.generic.send_url is not set")
        body = json.dumps(
            {
                "to": sms.to,
                "from": self.cfg.sender,
                "text": sms.text,
                "ref": sms.local_id,
                "outbox_id": sms.outbox_id,
                "coding": "ucs2" if sms.ucs2 else "gsm",
                "parts": sms.parts,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            **signed_headers(self.ctx.config.secret(self.cfg.secret_env) or "", body),
        }
        try:
            async with self.http.session.post(self.cfg.send_url, data=body, headers=headers) as r:
                text = await r.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as e:
            return SendResult.temporary("generic_unreachable", type(e).__name__)
        if 200 <= r.status < 300:
            try:
                provider_id = json.loads(text).get("id")
            except (ValueError, AttributeError):
                provider_id = None
            return SendResult.sent(str(provider_id) if provider_id is not None else None)
        if r.status == 429 or r.status >= 500:
            return SendResult.temporary(f"generic_{r.status}", text[:200])
        return SendResult.permanent(f"generic_{r.status}", text[:200])

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.http.close()


def routes(inbound: SmsInbound) -> Sequence[web.RouteDef]:
    """POST /sms/generic/inbound and POST /sms/generic/status."""
    ctx = inbound.ctx
    parts = Reassembler(ctx.state)
    addresses = WebhookGuard(ctx.config.sms.allow_from, None)
    window = ctx.config.sms.generic.replay_window_seconds

    async def signed_json(request: web.Request) -> Any:
        if not addresses.address_allowed(request.remote):
            raise web.HTTPUnauthorized(text=json.dumps({"result": "unauthenticated"}), content_type="application/json")
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
        secret = ctx.config.secret(ctx.config.sms.generic.secret_env)
        if not verify(secret, body, request.headers, window):
            raise web.HTTPUnauthorized(text=json.dumps({"result": "bad signature"}), content_type="application/json")
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise web.HTTPBadRequest(text=json.dumps({"result": "not JSON"}), content_type="application/json") from None

    def answer(reply: Reply) -> web.Response:
        return web.json_response(reply.as_json(), status=reply.status)

    async def inbound_sms(request: web.Request) -> web.Response:
        try:
            sms, part = parse_inbound(await signed_json(request))
        except KeyError as e:
            return answer(Reply(400, str(e.args[0])))
        if part is None:
            return answer(await inbound.accept(sms))
        whole = await parts.add(sms, part)
        if whole is None:
            return answer(Reply(200, "part_stored"))
        reply = await inbound.accept(whole)
        if reply.status == 200:
            await parts.finish(sms, part)
        return answer(reply)

    async def status(request: web.Request) -> web.Response:
        try:
            ours, outbox_id, provider_id, word = parse_status(await signed_json(request))
        except KeyError as e:
            return answer(Reply(400, str(e.args[0])))
        if ours is None:
            return answer(Reply(200, "ignored"))
        return answer(
            await inbound.delivery(ours, outbox_id=outbox_id, provider_id=provider_id, detail=f"generic {word}")
        )

    return [web.post("/sms/generic/inbound", inbound_sms), web.post("/sms/generic/status", status)]
