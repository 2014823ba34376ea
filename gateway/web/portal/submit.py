"""``/submit`` (the e-service desk), its confirmation page and the violation-report page.

A submission goes through ``core.intake`` as channel ``web`` (provider ``portal``) with
the form token's nonce as its ``external_id``: a double submit or a replay finds the
first case in the dedupe ledger and shows its code again.  Checks run in this order, and
none of them stores anything until intake commits: hard size cap, honeypot, form token,
the fields and files, the per-address and per-contact limits (a resent form is counted
again, but never refused: the dedupe ledger is looked at before refusing).
"""

from __future__ import annotations

from typing import Any, NoReturn
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select

from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.messages import Channel, InboundAttachment, InboundMessage, Kind, Outcome
from gateway.core.models import Case, InboundKey
from gateway.web.portal.files import human_size
from gateway.web.portal.form import BodyTooLarge, FormUnreadable, Submission, check_submission, hard_cap, read_form
from gateway.web.portal.guard import allowed
from gateway.web.portal.pages import client_address, ctx_of, page_lang, render_portal
from gateway.web.portal.texts import text
from gateway.web.portal.tokens import check_form_token, issue_form_token

PROVIDER = "portal"
DONE_PURPOSE = "portal-done"
HONEYPOT = "website"
KEPT_FIELDS = ("kind", "service", "subject", "text", "email", "mobile", "answer", "consent")


def _form_context(
    ctx: GatewayContext,
    lang: str,
    values: dict[str, str],
    token: str | None = None,
    errors: list[tuple[str, str]] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    cfg = ctx.config.portal
    return {
        "form": {k: values.get(k, "") for k in KEPT_FIELDS},
        "token": token or issue_form_token(ctx.signer),
        "errors": errors or [],
        "error_fields": {f for f, _ in errors or []},
        "notice": notice,
        "services": ctx.config.services,
        "max_text": cfg.max_text_chars,
        "max_subject": cfg.max_subject_chars,
        "max_files": cfg.max_files,
        "files_hint": text(
            lang,
            "files_hint",
            count=cfg.max_files,
            each=human_size(cfg.max_file_bytes, lang),
            total=human_size(cfg.max_total_bytes, lang),
        ),
    }


async def _form_page(request: web.Request, values: dict[str, str], status: int = 200, **kw: Any) -> web.Response:
    ctx, lang = ctx_of(request), page_lang(request)
    template = (
        "portal_violation.html"
        if values.get("kind") == Kind.VIOLATION_REPORT.value and values.get("page") == "violation"
        else "portal_submit.html"
    )
    return await render_portal(request, template, _form_context(ctx, lang, values, **kw), status)


async def submit_page(request: web.Request) -> web.Response:
    """GET /submit: the form (``?service=CODE`` and ``?kind=`` preselect)."""
    values = {k: request.query.get(k, "")[:100] for k in ("service", "kind")}
    return await _form_page(request, values)


async def violation_page(request: web.Request) -> web.Response:
    """GET /report-violation: the reporter's rights and protection, then the form."""
    return await _form_page(request, {"kind": Kind.VIOLATION_REPORT.value, "page": "violation"})


async def submit_post(request: web.Request) -> web.Response:
    """POST /submit: check, then hand to intake; 303 to the confirmation page."""
    ctx, lang = ctx_of(request), page_lang(request)
    cfg = ctx.config.portal
    try:
        form = await read_form(request, cfg, lang)
    except BodyTooLarge:
        return await _form_page(
            request, {}, 413, errors=[("files", text(lang, "err_too_large", n=human_size(hard_cap(cfg), lang)))]
        )
    except FormUnreadable:
        return await _form_page(request, {}, 400, errors=[("subject", text(lang, "err_unreadable"))])
    values = {k: v[: cfg.max_text_chars + 1000] for k, v in form.fields.items()}
    if values.get(HONEYPOT, "").strip():
        return await _form_page(request, values, 400, errors=[("subject", text(lang, "err_honeypot"))])
    token = check_form_token(ctx.signer, values.get("token", ""), cfg.form_token_hours * 3600)
    if token.state != "ok":
        if token.state == "expired" and (done := await _already(ctx, token.nonce)):
            return _to_done(ctx, *done)
        key = "err_token_expired" if token.state == "expired" else "err_token"
        return await _form_page(request, values, 400, errors=[("subject", text(lang, key))])
    submission, errors = check_submission(form, ctx.config, lang)
    if submission is None:
        if form.files and not any(f == "files" for f, _ in errors):
            errors.append(("files", text(lang, "files_again")))
        return await _form_page(request, values, 400, token=values["token"], errors=errors)
    refused = await allowed(ctx, client_address(request), submission.contact)
    if refused:
        if done := await _already(ctx, token.nonce):  # a resend is never refused by a limit
            return _to_done(ctx, *done)
        return await _form_page(request, values, 429, token=values["token"], errors=[("subject", text(lang, refused))])
    return await _file(request, submission, token.nonce, values, lang)


async def _file(request: web.Request, sub: Submission, nonce: str, values: dict[str, str], lang: str) -> web.Response:
    ctx = ctx_of(request)
    msg = InboundMessage(
        channel=Channel.WEB,
        provider=PROVIDER,
        external_id=nonce,
        sender=sub.contact,
        subject=sub.subject,
        text=sub.text,
        kind_hint=Kind(sub.kind),
        service_code=sub.service,
        attachments=[InboundAttachment(f.name, f.content_type, f.data) for f in sub.files],
        acknowledge=sub.contact is not None,
        language=lang,
        ack_channel=Channel(sub.answer) if sub.contact else None,
        reporter_consent=sub.consent,
    )
    try:
        result = await ctx.intake.submit(msg)
    except DatabaseUnavailable:
        return await _form_page(
            request, values, 503, token=values["token"], errors=[("subject", text(lang, "err_unavailable"))]
        )
    if result.outcome not in (Outcome.CREATED, Outcome.DUPLICATE) or not result.case_code:
        return await _form_page(
            request, values, 400, token=values["token"], errors=[("text", text(lang, "err_rejected"))]
        )
    ack = sub.answer if sub.contact else "code"
    return _to_done(ctx, result.case_code, ack, result.outcome is Outcome.DUPLICATE)


async def _already(ctx: GatewayContext, nonce: str) -> tuple[str, str, bool] | None:
    """(code, answer channel, True) if this form's nonce already made a case."""
    if not nonce:
        return None
    async with ctx.db.read_session() as s:
        row = (
            await s.execute(
                select(Case.code, Case.contact)
                .join(InboundKey, InboundKey.case_id == Case.id)
                .where(
                    InboundKey.channel == Channel.WEB.value,
                    InboundKey.provider == PROVIDER,
                    InboundKey.external_id == nonce,
                )
            )
        ).first()
    if row is None:
        return None
    code, contact = row
    return code, ("code" if not contact else "email" if "@" in contact else "sms"), True


def _to_done(ctx: GatewayContext, code: str, ack: str, again: bool) -> NoReturn:
    token = ctx.signer.sign(DONE_PURPOSE, {"c": code, "a": ack, "r": int(again)}, ttl_seconds=86400)
    raise web.HTTPSeeOther(f"/submit/done?{urlencode({'t': token})}")


async def done_page(request: web.Request) -> web.Response:
    """GET /submit/done: the tracking code, large, with print and track links."""
    ctx = ctx_of(request)
    body = ctx.signer.verify(DONE_PURPOSE, request.query.get("t", "")[:400])
    if not body or not isinstance(body.get("c"), str):
        raise web.HTTPSeeOther("/submit")
    code = body["c"]
    resp = await render_portal(
        request,
        "portal_done.html",
        {
            "code": code,
            "ack": body.get("a", "code"),
            "again": bool(body.get("r")),
            "track_url": f"/track?{urlencode({'code': code})}",
        },
    )
    # the one script of the portal: the print button, an enhancement (Ctrl+P works without it)
    resp.headers["Content-Security-Policy"] = resp.headers["Content-Security-Policy"].replace(
        "default-src 'none';", "default-src 'none'; script-src 'self';"
    )
    return resp
