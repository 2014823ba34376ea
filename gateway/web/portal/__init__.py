"""The citizen portal, the e-service desk (میز خدمت الکترونیک): ``/submit``, the
violation-report page, follow-up and appeal on ``/track``, and ``/contact``.

Convention: one module per page family (:mod:`.submit`, :mod:`.followup`,
:mod:`.directory`); form reading and checks in :mod:`.form` and :mod:`.files` (pure
where possible), tokens in :mod:`.tokens`, the limits (on the shared ``ctx.limiter``) in :mod:`.guard`,
texts in :mod:`.texts`.  Templates are ``public/portal_*.html``.  Everything a citizen
sends goes through ``core.intake`` (channel ``web``) or ``core.followup``.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from gateway.core.context import GatewayContext
from gateway.web.portal import directory, followup, submit
from gateway.web.portal.texts import PORTAL_STRINGS


def enabled_channels(ctx: GatewayContext) -> set[str]:
    """The channels this gateway really offers (service cards list only these)."""
    cfg = ctx.config
    on = set()
    if cfg.email.smtp.enabled or cfg.email.imap:
        on.add("email")
    if cfg.sms.numbers:
        on.add("sms")
    if cfg.voice.enabled:
        on.add("voice")
    if cfg.portal.enabled:
        on.add("web")
    return on


def _template_globals(app: web.Application, ctx: GatewayContext) -> None:
    env = aiohttp_jinja2.get_env(app)
    env.globals["portal_texts"] = lambda lang: PORTAL_STRINGS.get(lang, PORTAL_STRINGS["fa"])
    env.globals["portal_enabled"] = ctx.config.portal.enabled
    env.globals["channels_on"] = enabled_channels(ctx)

    def portal_followup(code: str, status: str) -> dict[str, Any]:
        return followup.followup_context(ctx, code, status)

    env.globals["portal_followup"] = portal_followup


def setup_portal(app: web.Application, ctx: GatewayContext) -> None:
    """Mount the portal's routes (when ``portal.enabled``) and its template helpers."""
    _template_globals(app, ctx)
    r = app.router
    r.add_get("/contact", directory.contact_page)
    r.add_get("/contact/{n}.vcf", directory.vcard_file)
    if not ctx.config.portal.enabled:
        return
    r.add_get("/submit", submit.submit_page)
    r.add_post("/submit", submit.submit_post)
    r.add_get("/submit/done", submit.done_page)
    r.add_get("/report-violation", submit.violation_page)
    r.add_post("/track/add", followup.add_post)
    r.add_post("/track/appeal", followup.appeal_post)
    r.add_get("/track/added", followup.added_page)
