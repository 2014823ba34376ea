"""The aiohttp application: one app for every HTTP route of the gateway."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

from gateway.core.context import GatewayContext

CTX = web.AppKey("ctx", GatewayContext)
HTTP_REQUESTS = Counter("gateway_http_requests_total", "HTTP requests", ["status"])


@web.middleware
async def count_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as e:
        HTTP_REQUESTS.labels(str(e.status)).inc()
        raise
    HTTP_REQUESTS.labels(str(response.status)).inc()
    return response


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise."""
    ok = await request.app[CTX].db.ping()
    return web.json_response({"status": "ok" if ok else "unavailable"}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(ctx: GatewayContext, channel_routes: Iterable[Sequence[Any]] = ()) -> web.Application:
    """Build the app with core routes plus the routes each channel offers."""
    app = web.Application(middlewares=[count_requests], client_max_size=ctx.config.http.max_body_bytes)
    app[CTX] = ctx
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    for routes in channel_routes:
        app.router.add_routes(routes)
    return app
