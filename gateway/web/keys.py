"""App-wide state of the web app, as typed aiohttp ``AppKey`` s (one module that every web
section imports, so no section imports ``gateway.web.app``, which imports them all).

``create_app`` puts the :class:`~gateway.core.context.GatewayContext` under :data:`CTX`;
sections read it with :func:`app_context` / :func:`request_context`, and keep their own
app-wide objects under their own keys (``console.SESSIONS``, ``ratelimit.TRACK_LIMITER``).
"""

from __future__ import annotations

from aiohttp import web

from gateway.core.context import GatewayContext

CTX = web.AppKey("ctx", GatewayContext)


def app_context(app: web.Application) -> GatewayContext:
    """The gateway context the app was built with."""
    return app[CTX]


def request_context(request: web.Request) -> GatewayContext:
    """The gateway context of the app serving ``request``."""
    return request.app[CTX]
