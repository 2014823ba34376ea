"""The two GeoReport v2 answer formats: JSON, and XML built from the same value."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from functools import partial
from typing import Any

from aiohttp import web

FORMATS = {"json": "application/json", "xml": "text/xml"}
# XML element names of list items (the spec's "⇊" containers).
XML_ITEMS = {
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "services": "service",
    "service_requests": "request",
    "errors": "error",
}


def to_xml(root: str, value: Any) -> str:
    """``value`` (dicts, lists, scalars) as an XML document under ``root``."""

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


def respond(fmt: str, root: str, value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Serialise ``value`` as JSON, or as XML under ``root``."""
    if fmt == "json":
        return web.json_response(value, status=status, headers=headers, dumps=partial(json.dumps, ensure_ascii=False))
    return web.Response(
        text=to_xml(root, value), status=status, headers=headers, content_type=FORMATS["xml"], charset="utf-8"
    )


def error_response(fmt: str, status: int, description: str, headers: dict[str, str] | None = None) -> web.Response:
    """The spec's error body: ``[{"code": …, "description": …}]`` / ``<errors>``."""
    return respond(fmt, "errors", [{"code": status, "description": description}], status, headers)
