"""Shared pieces of the portal's handlers: the context, the page language, rendering with
the portal's texts, and the client address the limits count."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.core.context import GatewayContext
from gateway.web.i18n import pick_language
from gateway.web.portal.texts import PORTAL_STRINGS
from gateway.web.public import app_context, render
from gateway.web.ratelimit import client_key


def ctx_of(request: web.Request) -> GatewayContext:
    """The gateway context of the request's app."""
    return app_context(request.app)


def page_lang(request: web.Request) -> str:
    """The language the page is rendered in (the same choice ``public.render`` makes)."""
    return pick_language(request, ctx_of(request).config.gateway.language)[0]


def client_address(request: web.Request) -> str:
    """The client address the per-address limit counts."""
    return client_key(request, ctx_of(request).config.web.trust_forwarded_for)


async def render_portal(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    """A citizen page with the portal's texts (``p``) beside the common ones (``t``)."""
    return await render(request, f"{template}", {**context, "p": PORTAL_STRINGS[page_lang(request)]}, status)
