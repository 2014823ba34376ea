"""POST requests: check the api key and the fields, open a case (channel ``web``) through
intake and answer its tracking code as ``service_request_id``."""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Any

from aiohttp import web

from gateway.core.config import Service
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.lookup import normalize_contact
from gateway.core.messages import Channel, InboundMessage, Outcome
from gateway.core.text import to_persian_digits
from gateway.web.open311.edge import Open311Error, open311_endpoint, service_by_code
from gateway.web.open311.formats import respond
from gateway.web.ratelimit import OPEN311_LIMITER

MAX_DESCRIPTION = 4000  # GeoReport v2: "free form text limited to 4,000 characters"
NOTICE = {
    "fa": "درخواست شما ثبت شد و حداکثر ظرف {days} روز رسیدگی می‌شود.",
    "en": "Your request has been received and will be handled within {days} days.",
}


@open311_endpoint(OPEN311_LIMITER)
async def post_request(request: web.Request, ctx: GatewayContext, fmt: str, params: dict[str, str]) -> web.Response:
    """POST requests: open a case (channel web) and return its tracking code."""
    if not _api_key_ok(ctx, params.get("api_key", "")):
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    code = params.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code was not provided")
    sv = service_by_code(ctx, code)
    if sv is None:
        raise Open311Error(404, f"service_code {code} was not found")
    msg = _inbound_message(request, params, sv)
    try:
        result = await ctx.intake.submit(msg)
    except DatabaseUnavailable:
        raise Open311Error(503, "The service is temporarily unavailable; try again later.") from None
    if result.outcome not in (Outcome.CREATED, Outcome.DUPLICATE) or not result.case_code:
        why = result.reason or result.outcome.value
        raise Open311Error(400, f"The request could not be created ({why}).")
    lang = ctx.config.gateway.language
    days = to_persian_digits(str(sv.sla_days)) if lang == "fa" else str(sv.sla_days)
    return respond(
        fmt,
        "service_requests",
        [
            {
                "service_request_id": result.case_code,
                "service_notice": NOTICE[lang].format(days=days),
                "account_id": params.get("account_id") or None,
            }
        ],
    )


def _inbound_message(request: web.Request, params: dict[str, str], sv: Service) -> InboundMessage:
    """The posted fields as an inbound message; Open311Error for a bad field."""
    meta = _location(params)
    description = params.get("description", "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, "description is longer than 4000 characters")
    sender, ack = _contact(params)
    meta.update({k: params[k][:500] for k in ("media_url", "device_id", "account_id") if params.get(k)})
    attrs = {k[10:-1]: v[:500] for k, v in params.items() if k.startswith("attribute[") and k.endswith("]")}
    if attrs:
        meta["attributes"] = attrs
    name = " ".join(filter(None, (params.get("first_name", "").strip(), params.get("last_name", "").strip())))
    return InboundMessage(
        channel=Channel.WEB,
        provider="open311",
        external_id=_idempotency(request, params),
        sender=sender,
        sender_name=name[:200] or None,
        text=description or " — ".join(filter(None, (sv.title, meta.get("address_string")))),
        service_code=sv.code,
        ack_channel=Channel(ack) if ack else None,
        meta=meta,
    )


def _api_key_ok(ctx: GatewayContext, given: str) -> bool:
    keys = [k.strip() for k in (ctx.config.secret(ctx.config.open311.api_keys_env) or "").split(",")]
    ok = False
    for key in filter(None, keys):  # check them all: no early exit on a match
        ok |= hmac.compare_digest(key.encode(), given.encode())
    return ok and bool(given)


def _location(params: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    lat, lon = params.get("lat", "").strip(), params.get("long", "").strip()
    if lat or lon:
        try:
            la, lo = float(lat), float(lon)
        except ValueError:
            raise Open311Error(400, "lat and long must both be numbers (WGS84)") from None
        if not (math.isfinite(la) and math.isfinite(lo) and -90 <= la <= 90 and -180 <= lo <= 180):
            raise Open311Error(400, "lat and long are out of range (WGS84)")
        meta["lat"], meta["long"] = la, lo
    for key in ("address_string", "address_id"):
        if params.get(key, "").strip():
            meta[key] = params[key].strip()[:500]
    if not meta:
        raise Open311Error(400, "A location is required: lat and long, address_string or address_id")
    return meta


def _contact(params: dict[str, str]) -> tuple[str | None, str | None]:
    """(sender, ack channel) from the optional email and phone fields."""
    email, phone = params.get("email", "").strip(), params.get("phone", "").strip()
    if email:
        local, _, domain = email.rpartition("@")
        if not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
            raise Open311Error(400, "email is not a valid email address")
        return email, "email"
    if phone:
        number = normalize_contact(phone)
        if number is None or "@" in number:
            raise Open311Error(400, "phone is not a valid phone number")
        return number, "sms"
    return None, None


def _idempotency(request: web.Request, params: dict[str, str]) -> str | None:
    """The client's Idempotency-Key header, scoped to its api key; None without one."""
    key = request.headers.get("Idempotency-Key", "").strip()[:200]
    if not key:
        return None
    scope = hashlib.sha256(params.get("api_key", "").encode()).hexdigest()[:12]
    return f"{scope}:{key}"
