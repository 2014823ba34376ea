"""Kannel: MO by the sms-service ``get-url``, MT by the sendsms HTTP interface, DLR by
the ``dlr-url`` we pass with each MT (Kannel's user guide, "dlr-url" and "get-url").

sms-service: ``get-url = "<base>/sms/kannel/mo?from=%p&to=%P&text=%b&charset=%C&coding=%c&id=%I&ts=%T&smsc=%i"``.
``%b`` is the binary-exact text, decoded here by ``%C`` (or, with ``post-url``, the body); the dedupe key is ``%I``, which
Kannel keeps when it retries a callback.  Both callbacks must pass the
webhook guard (``guard.py``): the secret of ``callback_token_env``, which Kannel sends as
HTTP Basic auth when the URL carries it (``http://kannel:<secret>@host/...``), and/or the
caller's address in ``sms.allow_from``.  The dlr-url also carries our outbox id and a MAC
of it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping, Sequence

import aiohttp
from aiohttp import web
from yarl import URL

from gateway.channels.sms.guard import WebhookGuard
from gateway.channels.sms.parse import IncomingSms, from_unix, query_bytes
from gateway.channels.sms.providers import HttpClient
from gateway.channels.sms.sender import SmsOut
from gateway.channels.sms.webhook import Reply, SmsInbound
from gateway.core.context import GatewayContext
from gateway.core.messages import SendResult

log = logging.getLogger(__name__)
NAME = "kannel"
# dlr-mask values (%d) -> our delivery status (Kannel user guide, "Delivery reports").
STATUS = {"1": "delivered", "2": "failed", "4": "sent", "8": "sent", "16": "failed"}
# %C values -> Python codecs; UCS-2 arrives as UTF-16BE when mo-recode is off.
CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "ucs-2": "utf-16-be",
    "ucs2": "utf-16-be",
    "utf-16be": "utf-16-be",
    "utf-16": "utf-16-be",
    "iso-8859-1": "latin-1",
    "windows-1252": "cp1252",
    "": "utf-8",
}
# sendsms replies: HTTP 202 "0: Accepted for delivery" / "3: Queued for later delivery".
ACCEPTED = (200, 202)


def raw_query(request: web.Request) -> dict[str, bytes]:
    """The query with values as bytes (``%b`` may be UTF-16 or 8-bit data)."""
    return query_bytes(request.rel_url.raw_query_string)


def decode_text(data: bytes, charset: str) -> str:
    """Decode ``%b`` by ``%C`` (unknown charsets as UTF-8, bad bytes replaced)."""
    codec = CHARSETS.get(charset.strip().lower(), "utf-8")
    return data.decode(codec, errors="replace")


def parse_mo(query: dict[str, bytes]) -> IncomingSms:
    """An MO callback's query -> :class:`IncomingSms` (missing fields raise KeyError)."""
    q = {k: v.decode("utf-8", errors="replace") for k, v in query.items() if k != "text"}
    if not q.get("id") or not q.get("from") or "text" not in query:
        raise KeyError("id, from and text are required")
    return IncomingSms(
        provider=NAME,
        external_id=q["id"],
        sender=q["from"],
        recipient=q.get("to", ""),
        text=decode_text(query["text"], q.get("charset", "")),
        received_at=from_unix(q.get("ts")),
    )


def parse_dlr(query: Mapping[str, str]) -> tuple[int, str | None]:
    """A DLR callback's query -> (our outbox id, our status, None for a value we ignore);
    KeyError when ``out`` is not an id or ``status`` is missing."""
    out = query.get("out", "")
    if not out.isascii() or not out.isdigit() or len(out) > 18:
        raise KeyError("out")
    if "status" not in query:
        raise KeyError("status")
    return int(out), STATUS.get(query["status"])


class KannelTransport:
    """sendsms over HTTP: coding=2 (UCS-2) for Persian, charset=utf-8, dlr-url with our id.

    sendsms carries no key Kannel could drop a repeat by (``idempotent = False``): a send
    whose answer was lost is reported ``unconfirmed`` and the dispatcher waits for its
    delivery report before sending it again."""

    idempotent = False

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx, self.cfg = ctx, ctx.config.sms.kannel
        self.http = HttpClient(self.cfg.timeout_seconds)
        base = URL((self.cfg.callback_base_url or ctx.config.gateway.public_base_url).rstrip("/"))
        token = ctx.config.secret(self.cfg.callback_token_env)
        self.base = str(base.with_user("kannel").with_password(token) if token else base)

    def dlr_url(self, outbox_id: int) -> str:
        """Our DLR callback with the outbox id and its MAC, and the callback secret as Basic
        auth in the URL (Kannel sends a URL's user:password as an Authorization header)."""
        sig = self.ctx.signer.mac("sms-dlr", str(outbox_id), 12)
        return f"{self.base}/sms/kannel/dlr?out={outbox_id}&sig={sig}&status=%d&id=%I&ts=%T"

    def params(self, sms: SmsOut) -> dict[str, str]:
        params = {
            "username": self.cfg.username,
            "password": self.ctx.config.secret(self.cfg.password_env) or "",
            "from": self.cfg.sender,
            "to": sms.to,
            "text": sms.text,
            "charset": "utf-8",
            "coding": "2" if sms.ucs2 else "0",
            "dlr-mask": str(self.cfg.dlr_mask),
            "dlr-url": self.dlr_url(sms.outbox_id),
        }
        if self.cfg.smsc:
            params["smsc"] = self.cfg.smsc
        return params

    async def send(self, sms: SmsOut) -> SendResult:
        try:
            async with self.http.session.get(self.cfg.sendsms_url, params=self.params(sms)) as r:
                body = (await r.text(errors="replace"))[:200]
        except aiohttp.ClientConnectorError as e:  # never reached Kannel: nothing went out
            return SendResult.temporary("kannel_unreachable", type(e).__name__)
        except (aiohttp.ClientError, TimeoutError) as e:  # Kannel may have taken it
            return SendResult.temporary("unconfirmed", f"kannel: {type(e).__name__}")
        if r.status in ACCEPTED:
            return SendResult.sent(provider_id=None)
        if r.status in (401, 403):
            return SendResult.permanent("kannel_auth", body)
        if r.status == 400 or 400 < r.status < 500:
            return SendResult.permanent(f"kannel_{r.status}", body)
        return SendResult.temporary(f"kannel_{r.status}", body)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.http.close()


def routes(inbound: SmsInbound) -> Sequence[web.RouteDef]:
    """GET /sms/kannel/mo (get-url), POST /sms/kannel/mo (post-url, for texts too long for a
    URL: aiohttp refuses request lines over 8190 bytes) and GET /sms/kannel/dlr; each only
    for a caller that passes the guard (Basic auth secret and/or ``sms.allow_from``)."""
    ctx = inbound.ctx
    guard = WebhookGuard(ctx.config.sms.allow_from, ctx.config.secret(ctx.config.sms.kannel.callback_token_env))

    def text(reply: Reply) -> web.Response:
        return web.Response(status=reply.status, text=reply.result)

    async def mo(request: web.Request) -> web.Response:
        if not guard.allows(request):
            return text(Reply(401, "unauthenticated"))
        query = raw_query(request)
        if request.method == "POST" and "text" not in query:
            query["text"] = await request.read()  # post-url: the text is the body
            query.setdefault("charset", (request.charset or "utf-8").encode())
        try:
            sms = parse_mo(query)
        except KeyError as e:
            return text(Reply(400, str(e.args[0])))
        return text(await inbound.accept(sms))

    async def dlr(request: web.Request) -> web.Response:
        # Kannel fills %d (the status) after we made the URL, so no MAC of ours can cover
        # it: the request as a whole is Kannel's by the guard, the outbox id is ours by the MAC
        if not guard.allows(request):
            return text(Reply(401, "unauthenticated"))
        q = request.query
        expected = ctx.signer.mac("sms-dlr", q.get("out", ""), 12)
        if not hmac.compare_digest(q.get("sig", "").encode(), expected.encode()):
            return text(Reply(401, "bad signature"))
        try:
            out, status = parse_dlr(q)
        except KeyError:  # the MAC matched, so only the status can be missing
            return text(Reply(400, "ignored"))
        if status is None:
            return text(Reply(200, "ignored"))
        return text(await inbound.delivery(status, outbox_id=out, detail=f"kannel dlr {q['status'][:8]}"))

    return [web.get("/sms/kannel/mo", mo), web.post("/sms/kannel/mo", mo), web.get("/sms/kannel/dlr", dlr)]
