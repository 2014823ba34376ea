"""Console pages of follow-through and oversight: the staff member's own settings (how
they hear of new cases), the audit log (oversight and admin roles; its CSV export is
itself audited) and forwarding a violation report to an external oversight body.  Mounted by :func:`gateway.web.console.setup_staff`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select

from gateway.core import audit, forwarding, tracking
from gateway.core.answers import CaseActionError
from gateway.core.models import Staff, utcnow
from gateway.core.staff import NOTIFY_CHOICES, set_notify
from gateway.web import console_text as words
from gateway.web.console_base import StaffPageError, checked_form, ctx_of, current, language, page
from gateway.web.translations import N_

CasePage = Callable[..., Awaitable[web.Response]]  # console.case_page

NOTIFY_NAMES = {
    "immediate": N_("At once: one email for each new case"),
    "digest": N_("Daily: one email listing the new cases"),
    "none": N_("No email"),
}


async def get_settings(request: web.Request) -> web.Response:
    session = await current(request)
    _ = language(request)[1]
    async with ctx_of(request).db.session() as s:
        member = (await s.execute(select(Staff).where(Staff.id == session.viewer.staff_id))).scalar_one()
    done = _("Your settings are saved.") if request.query.get("done") else ""
    return await page(
        request,
        "settings.html",
        session,
        notify=member.notify,
        email=member.email,
        choices=[(c, _(NOTIFY_NAMES[c])) for c in NOTIFY_CHOICES],
        done=done,
    )


async def post_settings(request: web.Request) -> web.Response:
    session, form = await checked_form(request)
    choice = str(form.get("notify", ""))
    if choice not in NOTIFY_CHOICES:
        _ = language(request)[1]
        raise StaffPageError(422, _("The input is not valid."), _("Choose one of the options."), "/staff/settings")
    await set_notify(ctx_of(request).db, session.viewer.name, choice)
    raise web.HTTPSeeOther("/staff/settings?done=1")


AUDIT_ROLES = frozenset({"oversight", "admin"})
AUDIT_PAGE = 200


def _audit_filter(query: Any, _: Any) -> tuple[audit.AuditFilter, str]:
    """The audit filter from the page's query (a bad value is dropped, with a message)."""
    flt, error = audit.AuditFilter(limit=AUDIT_PAGE), ""
    days = (query.get("days") or "").strip()
    if days:
        if days.isdigit() and 1 <= int(days) <= 3660:
            flt.since = utcnow() - timedelta(days=int(days))
        else:
            error = _("The number of days is not valid; showing all days.")
    code = (query.get("case") or "").strip()
    if code:
        try:
            flt.case_code = tracking.parse(code)
        except tracking.CodeError:
            error = _("That tracking code is not valid; showing all cases.")
    flt.action = (query.get("action") or "").strip()[:64] or None
    flt.actor = (query.get("actor") or "").strip()[:200] or None
    return flt, error


async def _audit_rows(request: web.Request) -> tuple[Any, list[dict[str, Any]], str]:
    session = await current(request)
    _ = language(request)[1]
    if session.viewer.role not in AUDIT_ROLES:
        raise StaffPageError(403, _("Not allowed"), _("The audit log is for oversight staff."))
    flt, error = _audit_filter(request.query, _)
    async with ctx_of(request).db.session() as s:
        rows = await audit.query(s, flt)
    for row in rows:
        row["actor_shown"] = words.actor_name(row["actor"], _)
    return session, rows, error


async def get_audit(request: web.Request) -> web.Response:
    session, rows, error = await _audit_rows(request)
    query = {k: request.query.get(k, "") for k in ("days", "case", "action", "actor")}
    return await page(
        request, "audit.html", session, rows=rows, q=query, error=error, csv_url="/staff/audit.csv?" + urlencode(query)
    )


async def get_audit_csv(request: web.Request) -> web.Response:
    session, rows, _ = await _audit_rows(request)
    await audit.record(ctx_of(request).db, session.viewer.actor, "exported", what="audit", rows=len(rows))
    # The byte-order mark makes spreadsheet programs read the file as UTF-8 (Persian names).
    return web.Response(
        text="\ufeff" + audit.to_csv(rows),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


async def post_forward(request: web.Request, case_page: CasePage) -> web.Response:
    """Forward a violation report to an external oversight body (oversight staff)."""
    session, form = await checked_form(request)
    code = request.match_info["code"]
    _ = language(request)[1]
    try:
        await forwarding.forward_report(
            ctx_of(request), session.viewer, code, form.get("body"), str(form.get("note") or "")[:4000] or None
        )
    except CaseActionError as e:
        if e.code == "not_found":
            raise StaffPageError(
                404, _("Case not found"), _("There is no case with this code in your unit's cases.")
            ) from None
        return await case_page(request, session, _(words.ERRORS.get(e.code, e.message)), 422)
    raise web.HTTPSeeOther(f"/staff/cases/{code}?done=forwarded")


def setup_oversight_pages(app: web.Application, case_page: CasePage) -> None:
    """Mount this module's console pages; ``case_page`` (from ``console``, which mounts
    these) renders the case page again with an error, handed in to keep the two apart."""
    app.router.add_get("/staff/settings", get_settings)
    app.router.add_post("/staff/settings", post_settings)
    app.router.add_get("/staff/audit", get_audit)
    app.router.add_get("/staff/audit.csv", get_audit_csv)
    app.router.add_post("/staff/cases/{code}/forward", partial(post_forward, case_page=case_page))
