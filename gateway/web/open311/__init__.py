"""Open311 GeoReport v2 under ``/open311/v2/`` (spec: open311.github.io GeoReport_v2).

Discovery, the service list and definitions (our service identity cards), POST requests
(api key), GET requests with filters and GET one request.  ``service_request_id`` is the
tracking code; services are ``realtime``.  Every answer comes as ``.json`` or ``.xml``
and errors are the spec's array of ``{code, description}`` with 404 for unknown things,
403 for a bad api key and 400 otherwise.  Listings show channel ``web`` cases with a
service, never confidential ones, and a description only for requests posted here.

Convention: one module per part of the spec (:mod:`.services`, :mod:`.submit`,
:mod:`.lookup`), each handler wrapped by :func:`.edge.open311_endpoint` and answering
through :mod:`.formats`; this module only mounts the routes.
"""

from __future__ import annotations

from aiohttp import web

from gateway.web.open311.edge import PREFIX, app_context, not_found
from gateway.web.open311.lookup import get_request, get_requests
from gateway.web.open311.services import discovery, service_definition, services
from gateway.web.open311.submit import post_request
from gateway.web.ratelimit import OPEN311_LIMITER, WebLimit

__all__ = ["setup_open311"]


def setup_open311(app: web.Application) -> None:
    """Mount the GeoReport v2 routes (``[open311] enabled = false`` leaves them out)."""
    cfg = app_context(app).config
    if not cfg.open311.enabled:
        return
    app[OPEN311_LIMITER] = WebLimit.bucket("open311", cfg.web.open311_burst, cfg.web.open311_per_minute)
    fmt = "{fmt:json|xml}"
    app.router.add_get(f"{PREFIX}/discovery.{fmt}", discovery)
    app.router.add_get(f"{PREFIX}/services.{fmt}", services)
    app.router.add_get(f"{PREFIX}/services/{{service_code:[^/]+}}.{fmt}", service_definition)
    app.router.add_get(f"{PREFIX}/requests.{fmt}", get_requests)
    app.router.add_post(f"{PREFIX}/requests.{fmt}", post_request)
    app.router.add_get(f"{PREFIX}/requests/{{request_id:[^/]+}}.{fmt}", get_request)
    app.router.add_route("*", f"{PREFIX}/{{tail:.*}}", not_found)
