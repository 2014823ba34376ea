"""A generic signed JSON webhook for any other provider.

Inbound ``POST /sms/generic/inbound`` ``{"id", "from", "to", "text", "time"?, "udh"?}`` and
status ``POST /sms/generic/status`` ``{"id"? | "outbox_id"?, "status"}``, each signed with
``X-Gateway-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` under the shared secret.
Outbound: a JSON POST of ``{"to", "from", "text", "ref", "outbox_id", "coding", "parts"}``
to ``send_url``, signed the same way; ``ref`` is our idempotency key, so the provider can
drop a repeat; a JSON reply ``{"id": …}`` gives the provider's id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp import web

from gateway.channels.sms.concat import PartInfo, Reassembler, parse_udh
from gateway.channels.sms.parse import IncomingSms, from_unix
from gateway.channels.sms.providers import HttpClient
from gateway.channels.sms.sender import SmsOut
from gateway.channels.sms.webhook import Reply, SmsInbound
from gateway.core.context import GatewayContext
from gateway.core.messages import SendResult

NAME = "generic"
SIGNATURE_HEADER = "X-Gateway-Signature"
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


def sign(secret: str, body: bytes) -> str:
    """The signature header value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str | None, body: bytes, header: str) -> bool:
    """True if ``header`` is the body's HMAC under ``secret`` (with or without ``sha256=``)."""
    if not secret:
        return False  # no secret configured: refuse everything rather than trust anyone
    given = header.strip().removeprefix("sha256=")
    return hmac.compare_digest(given, sign(secret, body).removeprefix("sha256="))


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
            SIGNATURE_HEADER: sign(self.ctx.config.secret(self.cfg.secret_env) or "", body),
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

    async def signed_json(request: web.Request) -> Any:
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
        secret = ctx.config.secret(ctx.config.sms.generic.secret_env)
        if not verify(secret, body, request.headers.get(SIGNATURE_HEADER, "")):
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
        data = await signed_json(request)
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            return answer(Reply(400, "missing field status"))
        outbox_id, provider_id = data.get("outbox_id"), data.get("id")
        if not isinstance(outbox_id, int) and not isinstance(provider_id, (str, int)):
            return answer(Reply(400, "missing field id or outbox_id"))
        ours = STATUS.get(data["status"].strip().lower())
        if ours is None:
            return answer(Reply(200, "ignored"))
        return answer(
            await inbound.delivery(
                ours,
                outbox_id=outbox_id if isinstance(outbox_id, int) else None,
                provider_id=None if isinstance(outbox_id, int) else str(provider_id),
                detail=f"generic {data['status'][:40]}",
            )
        )

    return [web.post("/sms/generic/inbound", inbound_sms), web.post("/sms/generic/status", status)]
