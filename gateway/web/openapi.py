"""The OpenAPI 3.1 document of the staff API, built from ``gateway.web.api.ROUTES``.

Paths, methods, parameters and bodies come from the route table the router is built
from; the schemas below describe the JSON shapes the handlers produce.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gateway.core.context import GatewayContext
from gateway.core.messages import Channel, Kind, Status
from gateway.core.replies import SURVEY_QUESTIONS

STRING: dict[str, Any] = {"type": "string"}
NSTRING: dict[str, Any] = {"type": ["string", "null"]}
TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
KINDS = [k.value for k in Kind]
STATUSES = [s.value for s in Status]
CHANNELS = [c.value for c in Channel]

QUERY_PARAMS: dict[str, dict[str, Any]] = {
    "status": {"type": "string", "enum": STATUSES},
    "kind": {"type": "string", "enum": KINDS},
    "channel": {"type": "string", "enum": CHANNELS},
    "overdue": {"type": "boolean"},
    "assignee": {
        "type": "string",
        "enum": ["me", "none"],
        "description": "me: cases assigned to the caller; none: unassigned cases",
    },
    "q": {"type": "string", "maxLength": 200, "description": "text search (Persian normalised) or a tracking code"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    "cursor": {"type": "string", "description": "next_cursor of the previous page"},
    "days": {"type": "integer", "minimum": 1, "maximum": 3660},
    "format": {"type": "string", "enum": ["json", "csv"]},
    "month": {
        "type": "string",
        "pattern": "^[0-9]{4}-[0-9]{2}$",
        "description": "a Persian-calendar month (1405-09); without it, the last 365 days",
    },
}

_CASE_FIELDS: dict[str, Any] = {
    "code": STRING,
    "kind": {"enum": KINDS},
    "status": {"enum": STATUSES},
    "channel": {"enum": CHANNELS},
    "unit": STRING,
    "subject": NSTRING,
    "contact": {**NSTRING, "description": "null when the caller may not see the reporter"},
    "contact_name": NSTRING,
    "created_at": TIME,
    "due_at": TIME,
    "answered_at": TIME,
    "overdue": {"type": "boolean"},
    "assignee": {**NSTRING, "description": "name of the staff member responsible"},
    "answered_by": {**NSTRING, "description": "name of the staff member who gave the latest answer"},
}
_ATTACHMENT = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "filename": STRING, "content_type": STRING, "size": {"type": "integer"}},
}
_MESSAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "direction": {"enum": ["in", "out", "note"]},
        "channel": STRING,
        "sender": NSTRING,
        "recipient": NSTRING,
        "subject": NSTRING,
        "text": STRING,
        "automatic": {"type": "boolean"},
        "author": NSTRING,
        "purpose": NSTRING,
        "created_at": TIME,
        "attachments": {"type": "array", "items": _ATTACHMENT},
        "attachment_count": {"type": "integer"},
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": STRING, "message": STRING},
            }
        },
    },
    "Me": {
        "type": "object",
        "properties": {"name": STRING, "unit": STRING, "role": {"enum": ["staff", "supervisor", "oversight", "admin"]}},
    },
    "CaseSummary": {"type": "object", "properties": _CASE_FIELDS},
    "CaseList": {
        "type": "object",
        "properties": {
            "cases": {"type": "array", "items": {"$ref": "#/components/schemas/CaseSummary"}},
            "next_cursor": NSTRING,
        },
    },
    "CaseDetail": {
        "type": "object",
        "properties": {
            **_CASE_FIELDS,
            "service": NSTRING,
            "language": STRING,
            "confidential": {"type": "boolean"},
            "anonymous": {"type": "boolean"},
            "updated_at": TIME,
            "first_response_at": TIME,
            "closed_at": TIME,
            "messages": {"type": "array", "items": _MESSAGE},
            "forwards": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "body": STRING,
                        "body_name": STRING,
                        "at": TIME,
                        "reporter_revealed": {"type": "boolean"},
                        "replied_at": TIME,
                    },
                },
            },
            "events": {
                "type": "array",
                "items": {"type": "object", "properties": {"actor": STRING, "action": STRING, "at": TIME}},
            },
        },
    },
    "AnswerRequest": {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 10000},
            "close": {"type": "boolean", "default": False},
        },
    },
    "AssignRequest": {
        "type": "object",
        "description": (
            "either unit (move the case to another unit) or assignee (a person of the case's "
            'unit, "me", or null to clear)'
        ),
        "properties": {"unit": STRING, "assignee": NSTRING, "note": {"type": "string", "maxLength": 10000}},
    },
    "ForwardRequest": {
        "type": "object",
        "required": ["body"],
        "properties": {
            "body": {"type": "string", "description": "code of an [[oversight.external]] body"},
            "note": {"type": "string", "maxLength": 4000},
        },
    },
    "ForwardResult": {
        "type": "object",
        "properties": {
            "code": STRING,
            "body": STRING,
            "outbox_ids": {"type": "array", "items": {"type": "integer"}},
            "reporter_revealed": {"type": "boolean", "description": "the reporter consented on submission"},
        },
    },
    "NoteRequest": {
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 10000}},
    },
    "KindRequest": {"type": "object", "required": ["kind"], "properties": {"kind": {"enum": KINDS}}},
    "ActionResult": {
        "type": "object",
        "properties": {
            "code": STRING,
            "status": {"enum": STATUSES},
            "unit": STRING,
            "kind": {"enum": KINDS},
            "channel": {**NSTRING, "description": "channel the answer went out on"},
            "outbox_ids": {"type": "array", "items": {"type": "integer"}},
            "survey": {"type": "boolean", "description": "a survey invitation was queued"},
        },
    },
    "Report": {
        "type": "object",
        "properties": {
            "scope": STRING,
            "since": TIME,
            "total": {"type": "integer"},
            "open": {"type": "integer"},
            "overdue": {"type": "integer"},
            "answered": {"type": "integer"},
            "by_kind": {"type": "object", "additionalProperties": {"type": "integer"}},
            "by_channel": {"type": "object", "additionalProperties": {"type": "integer"}},
            "median_first_response_hours": {"type": ["number", "null"]},
            "survey_responses": {"type": "integer"},
            "survey_averages": {
                "type": "object",
                "properties": {q: {"type": ["number", "null"]} for q in SURVEY_QUESTIONS},
            },
            "improper_request_share": {"type": ["number", "null"]},
        },
    },
}
SURVEY_AVERAGES = {"type": "object", "additionalProperties": {"type": ["number", "null"]}}
SCHEMAS["SurveyResults"] = {
    "type": "object",
    "properties": {
        "unit": {"type": ["string", "null"]},
        "month": {"type": ["string", "null"]},
        "since": TIME,
        "until": {"type": ["string", "null"], "format": "date-time"},
        "responses": {"type": "integer"},
        "low_scores": {"type": "integer"},
        "improper_request_share": {"type": ["number", "null"]},
        "averages": SURVEY_AVERAGES,
        "by_channel": {"type": "object", "additionalProperties": {"type": "integer"}},
        "by_scope": {"type": "object", "additionalProperties": {"type": "integer"}},
        "staff": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "staff_id": {"type": "integer"},
                    "name": STRING,
                    "unit": STRING,
                    "responses": {"type": "integer"},
                    "averages": SURVEY_AVERAGES,
                },
            },
        },
        "staff_hidden_below_minimum": {"type": "integer"},
        "services": {"type": "array", "items": {"type": "object"}},
        "months": {"type": "array", "items": {"type": "object"}},
    },
}
ERROR_TEXT = {
    400: "invalid_json",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "forbidden_for_kind",
    422: "validation_error, unknown_unit, unknown_assignee or unknown_body",
}


def _operation(route: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "description": (route.handler.__doc__ or "").strip(),
    }
    params = [{"name": n, "in": "path", "required": True, "schema": STRING} for n in re.findall(r"{(\w+)}", route.path)]
    params += [{"name": n, "in": "query", "required": False, "schema": QUERY_PARAMS[n]} for n in route.query]
    if params:
        op["parameters"] = params
    if route.body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.body}"}}},
        }
    if route.response == "binary":
        content = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    elif route.response:
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.response}"}}}
    else:
        content = {"application/json": {"schema": {"type": "object"}}}
    op["responses"] = {str(route.status): {"description": "OK", "content": content}}
    for status in route.errors:
        op["responses"][str(status)] = {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    op["security"] = [{"bearer": []}] if route.auth else []
    return op


def _foreign_operation(method: str, path: str, handler: Any) -> dict[str, Any]:
    """A plain entry for an /api/v1 route another web section mounts (citizen tracking)."""
    doc = (getattr(handler, "__doc__", None) or "").strip()
    op: dict[str, Any] = {
        "summary": doc.splitlines()[0] if doc else f"{method} {path}",
        "operationId": getattr(handler, "__name__", "handler"),
        "security": [],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
    }
    params = [{"name": n, "in": "path", "required": True, "schema": STRING} for n in re.findall(r"{(\w+)}", path)]
    if params:
        op["parameters"] = params
    return op


def document(routes: Iterable[Any], ctx: GatewayContext | None = None, router: Any = None) -> dict[str, Any]:
    """The OpenAPI document: every route of ``routes`` (``gateway.web.api.ROUTES``) in
    detail, plus any other ``/api/v1`` route mounted on ``router`` (so the document lists
    exactly what is served)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    for r in router.routes() if router is not None else ():
        path = r.resource.canonical if r.resource is not None else ""
        if path.startswith("/api/v1/") and r.method not in ("HEAD", "*"):
            ops = paths.setdefault(path, {})
            if r.method.lower() not in ops:
                ops[r.method.lower()] = _foreign_operation(r.method, path, r.handler)
    servers = [{"url": ctx.config.gateway.public_base_url}] if ctx is not None else []
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "citizen-gateway staff API",
            "version": "1",
            "description": "Cases of the caller's unit; violation reports for oversight staff.",
        },
        "servers": servers,
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "token printed by `gateway staff add`"}
            },
        },
    }
