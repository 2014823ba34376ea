"""Discovery, the service list and service definitions (our service identity cards)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.core.config import Service
from gateway.core.context import GatewayContext
from gateway.web.open311.edge import PREFIX, Open311Error, open311_endpoint, service_by_code, unit_name
from gateway.web.open311.formats import FORMATS, respond
from gateway.web.ratelimit import OPEN311_LIMITER

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"


@open311_endpoint(OPEN311_LIMITER)
async def discovery(request: web.Request, ctx: GatewayContext, fmt: str, params: dict[str, str]) -> web.Response:
    """GET discovery: where the endpoint is and which formats it speaks."""
    cfg = ctx.config.open311
    endpoint = {
        "specification": SPEC_URL,
        "url": ctx.config.gateway.public_base_url + PREFIX,
        "changeset": cfg.changeset,
        "type": "production",
        "formats": [FORMATS["xml"], FORMATS["json"]],
    }
    return respond(
        fmt,
        "discovery",
        {"changeset": cfg.changeset, "contact": cfg.contact, "key_service": cfg.key_service, "endpoints": [endpoint]},
    )


def _service_entry(ctx: GatewayContext, sv: Service) -> dict[str, Any]:
    return {
        "service_code": sv.code,
        "service_name": sv.title,
        "description": sv.description,
        "metadata": bool(sv.required_documents),
        "type": "realtime",
        "keywords": ", ".join(sv.keywords),
        "group": unit_name(ctx, sv.unit),
    }


@open311_endpoint(OPEN311_LIMITER)
async def services(request: web.Request, ctx: GatewayContext, fmt: str, params: dict[str, str]) -> web.Response:
    """GET services: the service identity cards as GeoReport service types."""
    return respond(fmt, "services", [_service_entry(ctx, sv) for sv in ctx.config.services])


@open311_endpoint(OPEN311_LIMITER)
async def service_definition(
    request: web.Request, ctx: GatewayContext, fmt: str, params: dict[str, str]
) -> web.Response:
    """GET services/{code}: required documents as informational (variable=false) attributes."""
    code = request.match_info["service_code"]
    sv = service_by_code(ctx, code)
    if sv is None:
        raise Open311Error(404, f"service_code {code} was not found")
    attributes = [
        {
            "variable": False,
            "code": f"DOC{i}",
            "datatype": "text",
            "required": False,
            "datatype_description": None,
            "order": i,
            "description": doc,
            "values": [],
        }
        for i, doc in enumerate(sv.required_documents, start=1)
    ]
    return respond(fmt, "service_definition", {"service_code": sv.code, "attributes": attributes})
