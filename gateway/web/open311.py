"""Open311 GeoReport v2 under ``/open311/v2/`` (spec: open311.github.io GeoReport_v2).

Discovery, the service list and definitions (our service identity cards), POST requests
(api key), GET requests with filters and GET one request.  ``service_request_id`` is the
tracking code; services are ``realtime``.  Every answer comes as ``.json`` or ``.xml``
and errors are the spec's array of ``{code, description}`` with 404 for unknown things,
403 for a bad api key and 400 otherwise.  Listings show channel ``web`` cases with a
service, never confidential ones, and a description only for requests posted here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway.core import tracking
from gateway.core.config import Service
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.lookup import OPEN311_WINDOW, RequestRow, normalize_contact, open311_requests
from gateway.core.messages import Channel, InboundMessage, Outcome
from gateway.core.templates import STATUS_NAMES
from gateway.core.text import to_persian_digits
from gateway.web.ratelimit import (OPEN311_LIMITER, TRACK_LIMITER, TokenBucketLimiter, client_key,
                                   retry_after)

PREFIX = "/open311/v2"
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}
# Our status words to GeoReport's two.
STATUS_MAP = {"new": "open", "routed": "open", "answered": "open", "closed": "closed"}
OPEN311_STATUSES = {"open": ["new", "routed", "answered"], "closed": ["closed"]}
# XML element names of list items (the spec's "⇊" containers).
XML_ITEMS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute",
             "values": "value", "services": "service", "service_requests": "request",
             "errors": "error"}
MAX_DESCRIPTION = 4000  # GeoReport v2: "free form text limited to 4,000 characters"
MAX_IDS = 20  # codes per GET requests?service_request_id= (each costs a lookup token)
NOTICE = {"fa": "درخواست شما ثبت شد و حداکثر ظرف {days} روز رسیدگی می‌شود.",
          "en": "Your request has been received and will be handled within {days} days."}


class Open311Error(Exception):
    """An error answered in the spec's error format."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _ctx(request: web.Request) -> GatewayContext:
    return app_context(request.app)


def app_context(app: web.Application) -> GatewayContext:
    """The gateway context of the app (imported late: gateway.web.app imports this module)."""
    from gateway.web.app import CTX
    return app[CTX]


def _xml(root: str, value: Any) -> str:
    def fill(el: ET.Element, name: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, item in v.items():
                fill(ET.SubElement(el, k), k, item)
        elif isinstance(v, list):
            for item in v:
                fill(ET.SubElement(el, XML_ITEMS.get(name, "item")), "", item)
        elif v is not None:
            el.text = ("true" if v else "false") if isinstance(v, bool) else str(v)
    top = ET.Element(root)
    fill(top, root, value)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="unicode")


def respond(fmt: str, root: str, value: Any, status: int = 200,
            headers: dict[str, str] | None = None) -> web.Response:
    """Serialise ``value`` as JSON, or as XML under ``root``."""
    if fmt == "json":
        return web.json_response(value, status=status, headers=headers,
                                 dumps=partial(json.dumps, ensure_ascii=False))
    return web.Response(text=_xml(root, value), status=status, headers=headers,
                        content_type=FORMATS["xml"], charset="utf-8")


def error_response(fmt: str, status: int, description: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    """The spec's error body: ``[{"code": …, "description": …}]`` / ``<errors>``."""
    return respond(fmt, "errors", [{"code": status, "description": description}], status, headers)


def _handler(limiter: web.AppKey[TokenBucketLimiter]) -> Any:
    """Wrap a handler: rate limit, jurisdiction check, Open311 errors."""
    def wrap(fn: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            fmt = request.match_info.get("fmt") or ("json" if request.path.endswith(".json") else "xml")
            ctx = _ctx(request)
            wait = request.app[limiter].take(client_key(request, ctx.config.web.trust_forwarded_for))
            if wait:
                return error_response(fmt, 429, "Too many requests; try again later.",
                                      retry_after(wait))
            params = dict(request.query)
            if request.method == "POST":
                params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
            try:
                _check_jurisdiction(ctx, params.get("jurisdiction_id", ""))
                return await fn(request, ctx, fmt, params)
            except Open311Error as e:
                return error_response(fmt, e.status, e.description)
        handle.__doc__ = fn.__doc__
        return handle
    return wrap


def _check_jurisdiction(ctx: GatewayContext, given: str) -> None:
    wanted = ctx.config.open311.jurisdiction_id
    if given and wanted and given != wanted:
        raise Open311Error(404, f"jurisdiction_id {given} was not found")


def _w3(value: datetime | None, tz: str) -> str | None:
    return value.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds") if value else None


def _unit_name(ctx: GatewayContext, code: str) -> str:
    return next((u.name for u in ctx.config.units if u.code == code), code)


def _service(ctx: GatewayContext, code: str) -> Service | None:
    return next((s for s in ctx.config.services if s.code == code), None)


@_handler(OPEN311_LIMITER)
async def discovery(request: web.Request, ctx: GatewayContext, fmt: str,
                    params: dict[str, str]) -> web.Response:
    """GET discovery: where the endpoint is and which formats it speaks."""
    cfg = ctx.config.open311
    endpoint = {"specification": SPEC_URL, "url": ctx.config.gateway.public_base_url + PREFIX,
                "changeset": cfg.changeset, "type": "production",
                "formats": [FORMATS["xml"], FORMATS["json"]]}
    return respond(fmt, "discovery", {"changeset": cfg.changeset, "contact": cfg.contact,
                                      "key_service": cfg.key_service, "endpoints": [endpoint]})


def _service_entry(ctx: GatewayContext, sv: Service) -> dict[str, Any]:
    return {"service_code": sv.code, "service_name": sv.title, "description": sv.description,
            "metadata": bool(sv.required_documents), "type": "realtime",
            "keywords": ", ".join(sv.keywords), "group": _unit_name(ctx, sv.unit)}


@_handler(OPEN311_LIMITER)
async def services(request: web.Request, ctx: GatewayContext, fmt: str,
                   params: dict[str, str]) -> web.Response:
    """GET services: the service identity cards as GeoReport service types."""
    return respond(fmt, "services", [_service_entry(ctx, sv) for sv in ctx.config.services])


@_handler(OPEN311_LIMITER)
async def service_definition(request: web.Request, ctx: GatewayContext, fmt: str,
                             params: dict[str, str]) -> web.Response:
    """GET services/{code}: required documents as informational (variable=false) attributes."""
    code = request.match_info["service_code"]
    sv = _service(ctx, code)
    if sv is None:
        raise Open311Error(404, f"service_code {code} was not found")
    attributes = [{"variable": False, "code": f"DOC{i}", "datatype": "text", "required": False,
                   "datatype_description": None, "order": i, "description": doc, "values": []}
                  for i, doc in enumerate(sv.required_documents, start=1)]
    return respond(fmt, "service_definition", {"service_code": sv.code, "attributes": attributes})


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


@_handler(OPEN311_LIMITER)
async def post_request(request: web.Request, ctx: GatewayContext, fmt: str,
                       params: dict[str, str]) -> web.Response:
    """POST requests: open a case (channel web) and return its tracking code."""
    if not _api_key_ok(ctx, params.get("api_key", "")):
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    code = params.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code was not provided")
    sv = _service(ctx, code)
    if sv is None:
        raise Open311Error(404, f"service_code {code} was not found")
    meta = _location(params)
    description = params.get("description", "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, "description is longer than 4000 characters")
    sender, ack = _contact(params)
    meta.update({k: params[k][:500] for k in ("media_url", "device_id", "account_id") if params.get(k)})
    attrs = {k[10:-1]: v[:500] for k, v in params.items() if k.startswith("attribute[") and k.endswith("]")}
    if attrs:
        meta["attributes"] = attrs
    if ack:
        meta["ack_channel"] = ack
    name = " ".join(filter(None, (params.get("first_name", "").strip(), params.get("last_name", "").strip())))
    msg = InboundMessage(channel=Channel.WEB, provider="open311", external_id=_idempotency(request, params),
                         sender=sender, sender_name=name[:200] or None,
                         text=description or " — ".join(filter(None, (sv.title, meta.get("address_string")))),
                         service_code=sv.code, meta=meta)
    try:
        result = await ctx.intake.submit(msg)
    except DatabaseUnavailable:
        raise Open311Error(503, "The service is temporarily unavailable; try again later.") from None
    if result.outcome not in (Outcome.CREATED, Outcome.DUPLICATE) or not result.case_code:
        why = result.reason or result.outcome.value
        raise Open311Error(400, f"The request could not be created ({why}).")
    lang = ctx.config.gateway.language
    days = to_persian_digits(str(sv.sla_days)) if lang == "fa" else str(sv.sla_days)
    return respond(fmt, "service_requests", [{
        "service_request_id": result.case_code, "service_notice": NOTICE[lang].format(days=days),
        "account_id": params.get("account_id") or None}])


def _idempotency(request: web.Request, params: dict[str, str]) -> str | None:
    """The client's Idempotency-Key header, scoped to its api key; None without one."""
    key = request.headers.get("Idempotency-Key", "").strip()[:200]
    if not key:
        return None
    scope = hashlib.sha256(params.get("api_key", "").encode()).hexdigest()[:12]
    return f"{scope}:{key}"


def _parse_w3(value: str, name: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Open311Error(400, f"{name} must be a w3 datetime, e.g. 2010-01-01T00:00:00Z") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _request_entry(ctx: GatewayContext, row: RequestRow) -> dict[str, Any]:
    c, meta, tz = row.case, row.meta, ctx.config.gateway.timezone
    sv = _service(ctx, c.service_code or "")
    lang = ctx.config.gateway.language
    return {"service_request_id": c.code, "status": STATUS_MAP.get(c.status, "open"),
            "status_notes": STATUS_NAMES[lang].get(c.status), "service_name": sv.title if sv else None,
            "service_code": c.service_code, "description": row.description,
            "agency_responsible": _unit_name(ctx, c.unit_code), "service_notice": None,
            "requested_datetime": _w3(c.created_at, tz), "updated_datetime": _w3(c.updated_at, tz),
            "expected_datetime": _w3(c.due_at, tz), "address": meta.get("address_string"),
            "address_id": meta.get("address_id"), "zipcode": None, "lat": meta.get("lat"),
            "long": meta.get("long"), "media_url": meta.get("media_url")}


def _codes(raw: str) -> list[str]:
    codes = []
    for part in raw.split(",")[:MAX_IDS]:
        try:
            codes.append(tracking.parse(part))
        except tracking.CodeError:
            continue
    return codes


@_handler(OPEN311_LIMITER)
async def get_requests(request: web.Request, ctx: GatewayContext, fmt: str,
                       params: dict[str, str]) -> web.Response:
    """GET requests: filters service_request_id (overrides), service_code, dates, status."""
    if params.get("service_request_id", "").strip():
        raw = params["service_request_id"]
        wait = request.app[TRACK_LIMITER].take(
            client_key(request, ctx.config.web.trust_forwarded_for), cost=len(raw.split(",")[:MAX_IDS]))
        if wait:
            return error_response(fmt, 429, "Too many requests; try again later.", retry_after(wait))
        rows = await open311_requests(ctx, codes=_codes(raw) or ["-"])
        return respond(fmt, "service_requests", [_request_entry(ctx, r) for r in rows])
    start = _parse_w3(params.get("start_date", ""), "start_date")
    end = _parse_w3(params.get("end_date", ""), "end_date")
    if start and end and (end < start or end - start > OPEN311_WINDOW):
        raise Open311Error(400, "start_date to end_date may not span more than 90 days")
    if start and not end:
        end = min(start + OPEN311_WINDOW, datetime.now(timezone.utc))
    if end and not start:
        start = end - OPEN311_WINDOW
    statuses: list[str] = []
    for word in filter(None, (w.strip() for w in params.get("status", "").split(","))):
        if word not in OPEN311_STATUSES:
            raise Open311Error(400, f"status {word} is not one of open, closed")
        statuses += OPEN311_STATUSES[word]
    service_codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
    rows = await open311_requests(ctx, service_codes=service_codes, start=start, end=end,
                                  statuses=statuses)
    return respond(fmt, "service_requests", [_request_entry(ctx, r) for r in rows])


@_handler(TRACK_LIMITER)
async def get_request(request: web.Request, ctx: GatewayContext, fmt: str,
                      params: dict[str, str]) -> web.Response:
    """GET requests/{id}: one request by its tracking code."""
    raw = request.match_info["request_id"]
    rows = await open311_requests(ctx, codes=_codes(raw[:64])) if _codes(raw[:64]) else []
    if not rows:
        raise Open311Error(404, f"service_request_id {raw[:64]} was not found")
    return respond(fmt, "service_requests", [_request_entry(ctx, rows[0])])


@_handler(OPEN311_LIMITER)
async def not_found(request: web.Request, ctx: GatewayContext, fmt: str,
                    params: dict[str, str]) -> web.Response:
    """Anything else under the prefix (tokens too: our services are realtime)."""
    raise Open311Error(404, "No such Open311 method; see discovery.xml")


def setup_open311(app: web.Application) -> None:
    """Mount the GeoReport v2 routes (``[open311] enabled = false`` leaves them out)."""
    cfg = app_context(app).config
    if not cfg.open311.enabled:
        return
    app[OPEN311_LIMITER] = TokenBucketLimiter(cfg.web.open311_burst, cfg.web.open311_per_minute,
                                              cfg.web.max_clients)
    fmt = "{fmt:json|xml}"
    app.router.add_get(f"{PREFIX}/discovery.{fmt}", discovery)
    app.router.add_get(f"{PREFIX}/services.{fmt}", services)
    app.router.add_get(f"{PREFIX}/services/{{service_code:[^/]+}}.{fmt}", service_definition)
    app.router.add_get(f"{PREFIX}/requests.{fmt}", get_requests)
    app.router.add_post(f"{PREFIX}/requests.{fmt}", post_request)
    app.router.add_get(f"{PREFIX}/requests/{{request_id:[^/]+}}.{fmt}", get_request)
    app.router.add_route("*", f"{PREFIX}/{{tail:.*}}", not_found)
