"""GET requests (filters: ids, service codes, dates, status) and GET requests/{id}: cases
by tracking code, in GeoReport's request fields and its two statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway.core import tracking
from gateway.core.context import GatewayContext
from gateway.core.lookup import OPEN311_WINDOW, RequestRow, open311_requests
from gateway.core.templates import STATUS_NAMES
from gateway.web.open311.edge import Open311Error, open311_endpoint, service_by_code, unit_name
from gateway.web.open311.formats import error_response, respond
from gateway.web.ratelimit import OPEN311_LIMITER, TRACK_LIMITER, client_key, retry_after

# Our status words to GeoReport's two.
STATUS_MAP = {"new": "open", "routed": "open", "answered": "open", "closed": "closed"}
OPEN311_STATUSES = {"open": ["new", "routed", "answered"], "closed": ["closed"]}
MAX_IDS = 20  # codes per GET requests?service_request_id= (each costs a lookup token)


@open311_endpoint(OPEN311_LIMITER)
async def get_requests(request: web.Request, ctx: GatewayContext, fmt: str, params: dict[str, str]) -> web.Response:
    """GET requests: filters service_request_id (overrides), service_code, dates, status."""
    if params.get("service_request_id", "").strip():
        raw = params["service_request_id"]
        wait = await request.app[TRACK_LIMITER].take(
            ctx.limiter, client_key(request, ctx.config.web.trust_forwarded_for), cost=len(raw.split(",")[:MAX_IDS])
        )
        if wait:
            return error_response(fmt, 429, "Too many requests; try again later.", retry_after(wait))
        rows = await open311_requests(ctx, codes=_codes(raw) or ["-"])
        return respond(fmt, "service_requests", [_request_entry(ctx, r) for r in rows])
    start = _parse_w3(params.get("start_date", ""), "start_date")
    end = _parse_w3(params.get("end_date", ""), "end_date")
    if start and end and (end < start or end - start > OPEN311_WINDOW):
        raise Open311Error(400, "start_date to end_date may not span more than 90 days")
    if start and not end:
        end = min(start + OPEN311_WINDOW, datetime.now(UTC))
    if end and not start:
        start = end - OPEN311_WINDOW
    statuses: list[str] = []
    for word in filter(None, (w.strip() for w in params.get("status", "").split(","))):
        if word not in OPEN311_STATUSES:
            raise Open311Error(400, f"status {word} is not one of open, closed")
        statuses += OPEN311_STATUSES[word]
    service_codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
    rows = await open311_requests(ctx, service_codes=service_codes, start=start, end=end, statuses=statuses)
    return respond(fmt, "service_requests", [_request_entry(ctx, r) for r in rows])


@open311_endpoint(TRACK_LIMITER)
async def get_request(request: web.Request, ctx: GatewayContext, fmt: str, params: dict[str, str]) -> web.Response:
    """GET requests/{id}: one request by its tracking code."""
    raw = request.match_info["request_id"]
    rows = await open311_requests(ctx, codes=_codes(raw[:64])) if _codes(raw[:64]) else []
    if not rows:
        raise Open311Error(404, f"service_request_id {raw[:64]} was not found")
    return respond(fmt, "service_requests", [_request_entry(ctx, rows[0])])


def _request_entry(ctx: GatewayContext, row: RequestRow) -> dict[str, Any]:
    c, meta, tz = row.case, row.meta, ctx.config.gateway.timezone
    sv = service_by_code(ctx, c.service_code or "")
    lang = ctx.config.gateway.language
    return {
        "service_request_id": c.code,
        "status": STATUS_MAP.get(c.status, "open"),
        "status_notes": STATUS_NAMES[lang].get(c.status),
        "service_name": sv.title if sv else None,
        "service_code": c.service_code,
        "description": row.description,
        "agency_responsible": unit_name(ctx, c.unit_code),
        "service_notice": None,
        "requested_datetime": _w3(c.created_at, tz),
        "updated_datetime": _w3(c.updated_at, tz),
        "expected_datetime": _w3(c.due_at, tz),
        "address": meta.get("address_string"),
        "address_id": meta.get("address_id"),
        "zipcode": None,
        "lat": meta.get("lat"),
        "long": meta.get("long"),
        "media_url": meta.get("media_url"),
    }


def _codes(raw: str) -> list[str]:
    codes = []
    for part in raw.split(",")[:MAX_IDS]:
        try:
            codes.append(tracking.parse(part))
        except tracking.CodeError:
            continue
    return codes


def _w3(value: datetime | None, tz: str) -> str | None:
    return value.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds") if value else None


def _parse_w3(value: str, name: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Open311Error(400, f"{name} must be a w3 datetime, e.g. 2010-01-01T00:00:00Z") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
