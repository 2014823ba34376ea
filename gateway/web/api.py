"""The staff JSON API under ``/api/v1`` (README "Staff API and console").

Every route is declared once in :data:`ROUTES`; the router and the OpenAPI document
(``gateway.web.openapi``) are both built from that table, so they cannot drift apart.
Callers authenticate with ``Authorization: Bearer <token>`` (``gateway staff add``).
Errors are ``{"error": {"code": ..., "message": ...}}`` with a stable code:

=====================  ======  =============================================
code                   status  when
=====================  ======  =============================================
unauthorized           401     no token, unknown or revoked token
forbidden              403     the role may not use this route (reports)
not_found              404     no such case *for this caller* (other units too)
method_not_allowed     405     wrong HTTP method
invalid_json           400     body is not a JSON object
validation_error       422     a field is missing or has a bad value
unknown_unit           422     assign to a unit that does not exist
unknown_assignee       422     assign to a person not in the case's unit
unknown_body           422     forward to a body that is not configured
forbidden_for_kind     409     the action is not allowed for the case's kind
payload_too_large      413     body over ``http.max_body_bytes``
=====================  ======  =============================================
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from gateway.core import answers, assignment, audit, forwarding, inbox, reports, survey_results
from gateway.core.access import Viewer, case_scope
from gateway.core.context import GatewayContext
from gateway.core.models import utcnow
from gateway.web.auth import bearer_viewer
from gateway.web.errors import ApiError as ApiError  # re-exported: raised here
from gateway.web.keys import request_context
from gateway.web.openapi import document

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ERROR_STATUS = {
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "invalid_json": 400,
    "validation_error": 422,
    "unknown_unit": 422,
    "unknown_assignee": 422,
    "unknown_body": 422,
    "forbidden_for_kind": 409,
    "payload_too_large": 413,
    "internal_error": 500,
}
_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}
# Served inline only when the browser cannot run them; anything else is a download.
INLINE_TYPES = ("audio/", "image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain")


def error_response(code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=ERROR_STATUS.get(code, 400))


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def ok(data: object, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda d: json.dumps(d, default=_json_default, ensure_ascii=False)
    )


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error under /api/ into the JSON error shape."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e.code, e.message)
    except answers.CaseActionError as e:
        return error_response(e.code, e.message)
    except inbox.FilterError as e:
        return error_response("validation_error", str(e))
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "invalid_request")
        return web.json_response({"error": {"code": code, "message": e.reason}}, status=e.status)


def context(request: web.Request) -> GatewayContext:
    return request_context(request)


async def viewer(request: web.Request) -> Viewer:
    found = await bearer_viewer(context(request), request)
    if found is None:
        raise ApiError("unauthorized", "a valid bearer token is required")
    return found


async def body(request: web.Request) -> dict[str, Any]:
    """The JSON object in the request body."""
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError("invalid_json", "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ApiError("invalid_json", "the body must be a JSON object")
    return data


def action_json(result: answers.ActionResult) -> dict[str, Any]:
    return {
        "code": result.code,
        "status": result.status,
        "unit": result.unit_code,
        "kind": result.kind,
        "channel": result.channel,
        "outbox_ids": result.outbox_ids,
        "survey": result.survey,
    }


# -- handlers ---------------------------------------------------------------------------
async def get_me(request: web.Request) -> web.Response:
    """Who the token belongs to."""
    v = await viewer(request)
    return ok({"name": v.name, "unit": v.unit_code, "role": v.role})


async def get_cases(request: web.Request) -> web.Response:
    """List and filter the caller's cases, newest first, keyset-paginated."""
    v = await viewer(request)
    flt = inbox.CaseFilter.from_query(request.query)
    async with context(request).db.session() as s:
        items, cursor = await inbox.list_cases(s, v, flt, utcnow())
    return ok({"cases": items, "next_cursor": cursor})


async def get_case(request: web.Request) -> web.Response:
    """One case with its messages, attachments and audit events."""
    v = await viewer(request)
    async with context(request).db.session() as s:
        case = await answers.load_case(s, v, request.match_info["code"])
        audit.case_viewed(s, v, case, "api")
        return ok(await inbox.case_detail(s, v, case, utcnow()))


async def attachment_response(ctx: GatewayContext, v: Viewer, code: str, raw_id: str) -> web.Response:
    """The bytes of one attachment of a visible case (shared with the console)."""
    if not raw_id.isdecimal():
        raise answers.CaseActionError("not_found", "no such attachment")
    async with ctx.db.session() as s:
        case = await answers.load_case(s, v, code)
        att = await inbox.find_attachment(s, case, int(raw_id))
        if att is None:
            raise answers.CaseActionError("not_found", "no such attachment")
        s.add(audit.event(v.actor, "attachment_downloaded", case.id, attachment_id=att.id))
    data = await ctx.store.get(att.sha256)
    ctype = att.content_type.split(";")[0].strip().lower()
    inline = ctype.startswith(INLINE_TYPES)
    disposition = "inline" if inline else "attachment"
    return web.Response(
        body=data,
        headers={
            "Content-Type": att.content_type if inline else "application/octet-stream",
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(att.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'; media-src 'self'",
        },
    )


async def get_attachment(request: web.Request) -> web.Response:
    """Download an attachment (audio of voice mail, files sent by email)."""
    v = await viewer(request)
    return await attachment_response(
        context(request), v, request.match_info["code"], request.match_info["attachment_id"]
    )


async def post_answer(request: web.Request) -> web.Response:
    """Answer the case over its origin channel; the survey invitation follows."""
    v = await viewer(request)
    data = await body(request)
    result = await answers.answer_case(
        context(request), v, request.match_info["code"], data.get("text"), data.get("close", False)
    )
    return ok(action_json(result))


async def post_assign(request: web.Request) -> web.Response:
    """Assign the case to another unit (``unit``) or to a person of its unit (``assignee``)."""
    v = await viewer(request)
    data = await body(request)
    if "assignee" in data and "unit" not in data:
        result = await assignment.set_assignee(context(request), v, request.match_info["code"], data["assignee"])
    else:
        result = await answers.assign_case(
            context(request), v, request.match_info["code"], data.get("unit"), data.get("note")
        )
    return ok(action_json(result))


async def post_note(request: web.Request) -> web.Response:
    """Add an internal note (never sent to the citizen)."""
    v = await viewer(request)
    data = await body(request)
    result = await answers.add_note(context(request), v, request.match_info["code"], data.get("text"))
    return ok(action_json(result), status=201)


async def post_kind(request: web.Request) -> web.Response:
    """Change the case's kind."""
    v = await viewer(request)
    data = await body(request)
    result = await answers.change_kind(context(request), v, request.match_info["code"], data.get("kind"))
    return ok(action_json(result))


async def post_forward(request: web.Request) -> web.Response:
    """Forward a violation report to an external oversight body (oversight staff)."""
    v = await viewer(request)
    data = await body(request)
    result = await forwarding.forward_report(
        context(request), v, request.match_info["code"], data.get("body"), data.get("note")
    )
    return ok(
        {
            "code": result.code,
            "body": result.body,
            "reporter_revealed": result.reporter_revealed,
            "outbox_ids": result.outbox_ids,
        }
    )


async def get_report(request: web.Request) -> web.Response:
    """Dashboard figures of the caller's scope (supervisors, oversight, admins)."""
    v = await viewer(request)
    if not v.sees_dashboard:
        raise ApiError("forbidden", "reports are for supervisors")
    raw_days = request.query.get("days", "")
    if raw_days and (not raw_days.isdecimal() or not 1 <= int(raw_days) <= 3660):
        raise ApiError("validation_error", "days must be a number from 1 to 3660")
    async with context(request).db.session() as s:
        figs = await reports.figures(
            s, case_scope(v), v.unit_code, reports.period_start(int(raw_days) if raw_days else None)
        )
    if request.query.get("format") == "csv":
        await audit.record(context(request).db, v.actor, "exported", what="report", days=raw_days or None)
        return web.Response(text=reports.to_csv(figs), content_type="text/csv", charset="utf-8")
    return ok(dataclasses.asdict(figs))


async def get_surveys(request: web.Request) -> web.Response:
    """Survey figures (Article 9(5)) of the caller's unit (an admin's: every unit), as on the
    console's survey page: per question, channel, staff member (from the configured minimum
    of responses), service and month."""
    v = await viewer(request)
    if not v.sees_dashboard:
        raise ApiError("forbidden", "survey results are for supervisors, managers and oversight staff")
    ctx = context(request)
    month = request.query.get("month", "")[:20]
    try:
        q = survey_results.query_for(ctx.config, v.role, v.unit_code, month)
    except survey_results.MonthError:
        raise ApiError("validation_error", "month must be a Persian-calendar year-month such as 1405-09") from None
    async with ctx.db.read_session() as s:
        res = await survey_results.survey_results(s, q)
    scope = {"unit": q.unit_code, "month": month or None, "since": q.start, "until": q.end}
    return ok({**scope, **survey_results.results_json(res)})


async def get_openapi(request: web.Request) -> web.Response:
    """This API's OpenAPI 3.1 document."""
    return ok(document(ROUTES, context(request), request.app.router))


@dataclass(frozen=True, slots=True)
class Route:
    """One API route and what the OpenAPI document says about it."""

    method: str
    path: str
    handler: Handler
    summary: str
    query: tuple[str, ...] = ()
    body: str | None = None  # component schema name of the JSON body
    response: str | None = None  # component schema name of the 2xx body
    status: int = 200
    auth: bool = True
    errors: tuple[int, ...] = field(default=())


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/me", get_me, "Who the token belongs to", response="Me", errors=(401,)),
    Route(
        "GET",
        "/api/v1/cases",
        get_cases,
        "List and filter cases",
        query=("status", "kind", "channel", "overdue", "assignee", "q", "limit", "cursor"),
        response="CaseList",
        errors=(401, 422),
    ),
    Route(
        "GET", "/api/v1/cases/{code}", get_case, "One case with its thread", response="CaseDetail", errors=(401, 404)
    ),
    Route(
        "GET",
        "/api/v1/cases/{code}/attachments/{attachment_id}",
        get_attachment,
        "Download an attachment",
        response="binary",
        errors=(401, 404),
    ),
    Route(
        "POST",
        "/api/v1/cases/{code}/answer",
        post_answer,
        "Answer the case",
        body="AnswerRequest",
        response="ActionResult",
        errors=(400, 401, 404, 422),
    ),
    Route(
        "POST",
        "/api/v1/cases/{code}/assign",
        post_assign,
        "Assign to another unit",
        body="AssignRequest",
        response="ActionResult",
        errors=(400, 401, 404, 409, 422),
    ),
    Route(
        "POST",
        "/api/v1/cases/{code}/notes",
        post_note,
        "Add an internal note",
        body="NoteRequest",
        response="ActionResult",
        status=201,
        errors=(400, 401, 404, 422),
    ),
    Route(
        "POST",
        "/api/v1/cases/{code}/kind",
        post_kind,
        "Change the kind",
        body="KindRequest",
        response="ActionResult",
        errors=(400, 401, 404, 409, 422),
    ),
    Route(
        "POST",
        "/api/v1/cases/{code}/forward",
        post_forward,
        "Forward to an external oversight body",
        body="ForwardRequest",
        response="ForwardResult",
        errors=(400, 401, 403, 404, 409, 422),
    ),
    Route(
        "GET",
        "/api/v1/reports",
        get_report,
        "Dashboard figures",
        query=("days", "format"),
        response="Report",
        errors=(401, 403, 422),
    ),
    Route(
        "GET",
        "/api/v1/surveys",
        get_surveys,
        "Survey figures per question, staff member, service and month",
        query=("month",),
        response="SurveyResults",
        errors=(401, 403, 422),
    ),
    Route("GET", "/api/v1/openapi.json", get_openapi, "This document", auth=False),
)


def setup_api(app: web.Application) -> None:
    """Mount the API routes and its JSON error middleware."""
    app.middlewares.append(api_errors)
    for r in ROUTES:
        app.router.add_route(r.method, r.path, r.handler)
