"""The aiohttp application: one app for every HTTP route of the gateway.

Pages are Jinja2 templates under ``gateway/web/templates`` (autoescaped, async), static
files under ``/static``.  Template filters: ``jalali`` (a datetime as a Jalali date with
Persian digits, or ISO in English), ``fadigits`` (Persian digits), ``own_lang`` (a
Persian name on a page in another language, marked ``lang="fa" dir="rtl"`` so it is read
and shown right).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from markupsafe import Markup
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

from gateway.core.context import GatewayContext
from gateway.core.templates import format_date
from gateway.core.text import to_persian_digits
from gateway.web.console import setup_staff
from gateway.web.keys import CTX
from gateway.web.portal import setup_portal
from gateway.web.public import setup_public
from gateway.web.survey_pages import setup_survey_pages

__all__ = ["CTX", "app_runner", "create_app"]  # CTX stays importable here for older code
HTTP_REQUESTS = Counter("gateway_http_requests_total", "HTTP requests", ["status"])
WEB_DIR = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


class RequestCounter(AbstractAccessLogger):
    """Counts every answered request by status for /metrics.  aiohttp calls it once per
    response (also for errors it answers itself), which is cheaper than one more middleware
    layer on every request; serve the app with :func:`app_runner` to have it."""

    _by_status: dict[int, Any] = {}

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        child = self._by_status.get(response.status)
        if child is None:
            child = self._by_status[response.status] = HTTP_REQUESTS.labels(str(response.status))
        child.inc()

    @property
    def enabled(self) -> bool:
        return True


def app_runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    """The runner the gateway serves ``app`` with: no access log lines (they would carry
    citizens' numbers in query strings), requests counted for /metrics."""
    return web.AppRunner(app, access_log_class=RequestCounter, access_log=log, **kwargs)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answered within the last few seconds, 503 otherwise."""
    ok = await request.app[CTX].db.healthy()
    return web.json_response({"status": "ok" if ok else "unavailable"}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_templates(app: web.Application, ctx: GatewayContext) -> jinja2.Environment:
    """Jinja2 with autoescaping (citizen text never becomes markup) and our date/digit filters."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(WEB_DIR / "templates")),
        enable_async=True,
        autoescape=jinja2.select_autoescape(["html", "xml", "svg"], default_for_string=True),
    )
    tz = ctx.config.gateway.timezone
    env.filters["jalali"] = lambda value, lang="fa": format_date(value, lang, tz)
    env.filters["fadigits"] = lambda value: to_persian_digits(str(value))
    env.filters["own_lang"] = own_lang
    return env


_PERSIAN_LETTERS = re.compile("[\u0600-\u06ff]")


@jinja2.pass_context
def own_lang(context: Any, value: object) -> str:
    """Mark Persian text shown on a page in another language with its own language."""
    text = "" if value is None else str(value)
    if context.get("lang", "fa") != "fa" and _PERSIAN_LETTERS.search(text):
        return Markup('<span lang="fa" dir="rtl">{}</span>').format(text)
    return text


def create_webhook_app(ctx: GatewayContext, channel_routes: Iterable[Sequence[Any]]) -> web.Application:
    """The provider webhooks alone (``[http.webhooks]``), with /healthz for the balancer."""
    app = web.Application(client_max_size=ctx.config.http.max_body_bytes)
    app[CTX] = ctx
    app.router.add_get("/healthz", healthz)
    for routes in channel_routes:
        app.router.add_routes(routes)
    return app


def create_app(ctx: GatewayContext, channel_routes: Iterable[Sequence[Any]] = ()) -> web.Application:
    """Build the app with core routes, the web sections and the routes each channel offers."""
    app = web.Application(client_max_size=ctx.config.http.max_body_bytes)
    app[CTX] = ctx
    setup_templates(app, ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_static("/static", WEB_DIR / "static", name="static")
    # web sections: one setup line each
    setup_public(app)
    setup_survey_pages(app)
    setup_portal(app, ctx)
    setup_staff(app)
    for routes in channel_routes:
        app.router.add_routes(routes)
    return app
