"""What every Open311 endpoint shares: the error class, the handler wrapper (rate limit,
jurisdiction, errors answered in the spec's format) and lookups in the config."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.core.config import Service
from gateway.core.context import GatewayContext
from gateway.web.errors import Open311Error as Open311Error  # re-exported: raised here
from gateway.web.keys import app_context
from gateway.web.open311.formats import error_response
from gateway.web.ratelimit import OPEN311_LIMITER, WebLimit, client_key, retry_after

PREFIX = "/open311/v2"


def open311_endpoint(limiter: web.AppKey[WebLimit]) -> Any:
    """Wrap a handler: rate limit, jurisdiction check, Open311 errors."""

    def wrap(fn: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            fmt = request.match_info.get("fmt") or ("json" if request.path.endswith(".json") else "xml")
            ctx = app_context(request.app)
            client = client_key(request, ctx.config.web.trust_forwarded_for)
            wait = await request.app[limiter].take(ctx.limiter, client)
            if wait:
                return error_response(fmt, 429, "Too many requests; try again later.", retry_after(wait))
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


def unit_name(ctx: GatewayContext, code: str) -> str:
    """The unit's name from the config (the code itself for an unknown unit)."""
    return next((u.name for u in ctx.config.units if u.code == code), code)


def service_by_code(ctx: GatewayContext, code: str) -> Service | None:
    """The service identity card with this code, or None."""
    return next((s for s in ctx.config.services if s.code == code), None)


@open311_endpoint(OPEN311_LIMITER)
async def not_found(request: web.Request, ctx: GatewayContext, fmt: str, params: dict[str, str]) -> web.Response:
    """Anything else under the prefix (tokens too: our services are realtime)."""
    raise Open311Error(404, "No such Open311 method; see discovery.xml")
