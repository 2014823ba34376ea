"""Follow-up and appeal on ``/track``: once a visitor has proved a case (its contact, or
the signed link we sent), the tracking page carries a short-lived proof token and two
forms: add information or files (``POST /track/add``) and, after an answer, "I am not
satisfied" with a reason (``POST /track/appeal``).  Both use a form token like /submit,
so a resent form is one message, and count against the per-address limit."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.core.db import DatabaseUnavailable
from gateway.core.followup import FollowUpError, add_information, file_appeal
from gateway.core.lookup import track_case, track_token
from gateway.core.messages import Channel, InboundAttachment, InboundMessage
from gateway.web.portal.files import human_size
from gateway.web.portal.form import BodyTooLarge, FormUnreadable, check_followup, hard_cap, read_form
from gateway.web.portal.guard import allowed
from gateway.web.portal.pages import client_address, ctx_of, page_lang, render_portal
from gateway.web.portal.texts import text
from gateway.web.portal.tokens import check_form_token, issue_form_token, issue_proof, proved_code

PROVIDER = "portal-followup"


async def add_post(request: web.Request) -> web.Response:
    """POST /track/add: append the citizen's information and files; the unit is told."""
    return await _followup(request, "info")


async def appeal_post(request: web.Request) -> web.Response:
    """POST /track/appeal: reopen an answered case as an appeal."""
    return await _followup(request, "appeal")


async def _followup(request: web.Request, what: str) -> web.Response:
    ctx, lang = ctx_of(request), page_lang(request)
    cfg = ctx.config.portal
    try:
        form = await read_form(request, cfg, lang)
    except BodyTooLarge:
        return await _problem(
            request, None, what, "", [("", text(lang, "err_too_large", n=human_size(hard_cap(cfg), lang)))], 413
        )
    except FormUnreadable:
        return await _problem(request, None, what, "", [("", text(lang, "err_unreadable"))], 400)
    code = proved_code(ctx.signer, form.fields.get("proof", ""))
    body, errors = check_followup(form, ctx.config, lang, what)
    if code is None:
        return await _problem(request, None, what, body, [("", text(lang, "err_proof"))], 403)
    token = check_form_token(ctx.signer, form.fields.get("token", ""), cfg.form_token_hours * 3600)
    if token.state != "ok":
        errors.insert(0, ("", text(lang, "err_token_expired" if token.state == "expired" else "err_token")))
    if not errors and await allowed(ctx, client_address(request), None):
        errors.append(("", text(lang, "err_rate_ip")))
    if errors:
        return await _problem(request, code, what, body, errors, 400)
    msg = InboundMessage(
        channel=Channel.WEB,
        provider=PROVIDER,
        external_id=token.nonce,
        text=body,
        attachments=[InboundAttachment(f.name, f.content_type, f.data) for f in form.files] if what == "info" else [],
        language=lang,
    )
    try:
        act = add_information if what == "info" else file_appeal
        await act(ctx, msg, code)
    except FollowUpError as e:
        key = "err_not_answered" if e.reason == "not_answered" else "err_proof"
        return await _problem(request, code, what, body, [("", text(lang, key))], 409)
    except DatabaseUnavailable:
        return await _problem(request, code, what, body, [("", text(lang, "err_unavailable"))], 503)
    query = urlencode({"code": code, "t": track_token(ctx, code), "done": what})
    raise web.HTTPSeeOther(f"/track/added?{query}")


async def _problem(
    request: web.Request, code: str | None, what: str, body: str, errors: list[tuple[str, str]], status: int
) -> web.Response:
    """The follow-up page again, with the errors and the typed text."""
    ctx = ctx_of(request)
    context: dict[str, Any] = {"errors": errors, "what": what, "code": code}
    if code is not None:
        result = await track_case(ctx, code, None, track_token(ctx, code))
        context.update(followup_context(ctx, code, result.case.status if result.case else ""))
        context["typed"] = {what: body}
    return await render_portal(request, "portal_followup_page.html", context, status)


def followup_context(ctx: Any, code: str, status: str) -> dict[str, Any]:
    """What the follow-up forms need on the tracking page (proof and form tokens)."""
    return {
        "fu_code": code,
        "fu_proof": issue_proof(ctx.signer, code),
        "fu_token": issue_form_token(ctx.signer),
        "fu_appeal_token": issue_form_token(ctx.signer),
        "fu_can_appeal": status in ("answered", "closed"),
        "fu_max_files": ctx.config.portal.max_files,
        "typed": {},
    }


async def added_page(request: web.Request) -> web.Response:
    """GET /track/added: what was done, and the way back to the case."""
    ctx = ctx_of(request)
    code, token = request.query.get("code", "")[:20], request.query.get("t", "")[:400]
    result = await track_case(ctx, code, None, token)
    if result.case is None or not result.proved:
        raise web.HTTPSeeOther("/track")
    what = "appeal" if request.query.get("done") == "appeal" else "info"
    return await render_portal(
        request,
        "portal_added.html",
        {"what": what, "code": code, "back": f"/track?{urlencode({'code': code, 't': token})}"},
    )
