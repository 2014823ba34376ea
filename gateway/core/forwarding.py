"""Forwarding a violation report to an external oversight body (Article 9-1).

Oversight staff pick one of the configured bodies (``[[oversight.external]]``) that
accepts the case's kind.  In one transaction: the mail to the body (the case code, the
report's texts and attachments, the office's note) is queued on the case, a ``forwards``
row and a ``forwarded`` audit event are written, and the citizen is told on their channel
(naming the body unless ``oversight.name_body_to_citizen`` is false).

The reporter's identity is withheld unless they consented on submission
(``Case.reporter_consent``): no contact or name in the mail, the contact and name struck
out of the texts, and no voice recordings (the reporter's voice).  The body's reply comes
back by mail: ``gateway.core.external_replies`` (called by intake) threads it onto the
case by our Message-ID in In-Reply-To/References, or by ``[#code]`` from the body's address.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from gateway.core import audit
from gateway.core.access import VIOLATION, Viewer
from gateway.core.answers import CaseActionError, answer_route, load_case
from gateway.core.config import ExternalBody
from gateway.core.context import GatewayContext
from gateway.core.models import Case, Message, utcnow
from gateway.core.models_oversight import Forward
from gateway.core.outbox import queue_outbound
from gateway.core.templates import format_date

MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024  # total per forward; more is listed, not attached
WITHHELD = {"fa": "[محفوظ]", "en": "[withheld]"}
TEXTS = {
    "fa": {
        "subject": "ارسال گزارش تخلف برای رسیدگی",
        "intro": "گزارش تخلفی با کد رهگیری {code} (دریافت {received}) برای رسیدگی به شما فرستاده می‌شود.",
        "reporter": "گزارش‌دهنده: {who}",
        "withheld": "محفوظ؛ گزارش‌دهنده اجازهٔ افشای هویت خود را نداده است.",
        "note": "یادداشت واحد بازرسی: {note}",
        "report": "متن گزارش:",
        "skipped": "پیوست‌های نفرستاده (حجم زیاد یا صدای گزارش‌دهنده): {names}",
        "reply": "برای پاسخ، به همین نامه پاسخ دهید؛ پاسخ شما به پرونده افزوده می‌شود.",
    },
    "en": {
        "subject": "Violation report forwarded for investigation",
        "intro": "A violation report with tracking code {code} (received {received}) is forwarded to you for investigation.",
        "reporter": "Reporter: {who}",
        "withheld": "withheld; the reporter did not consent to reveal their identity.",
        "note": "Note of the oversight unit: {note}",
        "report": "The report:",
        "skipped": "Attachments not sent (too large, or the reporter's voice): {names}",
        "reply": "To answer, reply to this mail; your reply is added to the case.",
    },
}


@dataclass(slots=True)
class ForwardResult:
    """What a forward did."""

    code: str
    body: str
    reporter_revealed: bool
    outbox_ids: list[int] = field(default_factory=list)


def find_body(ctx: GatewayContext, code: object, kind: str) -> ExternalBody:
    """The configured body with ``code`` that accepts ``kind``."""
    for body in ctx.config.oversight.external:
        if body.code == code:
            if kind not in {k.value for k in body.accepts}:
                raise CaseActionError("forbidden_for_kind", f"{body.code} does not accept {kind}")
            return body
    raise CaseActionError("unknown_body", f"no external oversight body {code!r}")


def _strike(text: str, case: Case, lang: str) -> str:
    """The text with the reporter's contact and name struck out."""
    for secret in (case.contact, case.contact_name):
        if secret and len(secret.strip()) >= 3:
            text = text.replace(secret.strip(), WITHHELD.get(lang, WITHHELD["fa"]))
    return text


async def _report(
    ctx: GatewayContext, s: AsyncSession, case: Case, reveal: bool, lang: str
) -> tuple[list[str], list[dict[str, str]], list[str]]:
    """The report's texts, attachments (base64) and the names of attachments left out."""
    msgs = (
        await s.execute(
            select(Message)
            .where(Message.case_id == case.id, Message.direction == "in")
            .options(selectinload(Message.attachments))
            .order_by(Message.id)
        )
    ).scalars()
    texts, files, skipped, total = [], [], [], 0
    for m in msgs:
        when = format_date(m.created_at, lang, ctx.config.gateway.timezone)
        texts.append(f"[{when}]\n{m.text if reveal else _strike(m.text, case, lang)}")
        for a in m.attachments:
            voice = m.channel == "voice" and a.content_type.startswith("audio/")
            if (voice and not reveal) or total + a.size > MAX_ATTACHMENT_BYTES:
                skipped.append(a.filename)
                continue
            total += a.size
            data = await ctx.store.get(a.sha256)
            files.append(
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "data_b64": base64.b64encode(data).decode("ascii"),
                }
            )
    return texts, files, skipped


def _mail_text(
    ctx: GatewayContext, case: Case, reveal: bool, note: str | None, texts: list[str], skipped: list[str]
) -> str:
    lang = ctx.config.gateway.language
    t = TEXTS.get(lang, TEXTS["fa"])
    who = f"{case.contact_name or ''} {case.contact or ''}".strip() if reveal else t["withheld"]
    parts = [
        t["intro"].format(code=case.code, received=format_date(case.created_at, lang, ctx.config.gateway.timezone)),
        t["reporter"].format(who=who or "-"),
    ]
    if note:
        parts.append(t["note"].format(note=note))
    parts += ["", t["report"], "\n\n".join(texts)]
    if skipped:
        parts += ["", t["skipped"].format(names=", ".join(skipped))]
    return "\n".join(parts + ["", t["reply"]])


async def forward_report(
    ctx: GatewayContext, viewer: Viewer, code: str, body_code: object, note: object = None
) -> ForwardResult:
    """Forward a violation report to an external body; tell the citizen; audit it."""
    if note is not None and (not isinstance(note, str) or len(note) > 4000):
        raise CaseActionError("validation_error", "note must be text of at most 4000 characters")
    lang = ctx.config.gateway.language
    async with ctx.db.session() as s:
        case = await load_case(s, viewer, code, lock=True)  # not visible: not_found (404)
        if not viewer.is_oversight:
            raise CaseActionError("forbidden", "only oversight staff forward violation reports")
        if case.kind != VIOLATION:
            raise CaseActionError("forbidden_for_kind", "only violation reports are forwarded")
        body = find_body(ctx, body_code, case.kind)
        reveal = bool(case.reporter_consent)
        texts, files, skipped = await _report(ctx, s, case, reveal, lang)
        key = ctx.new_key("email")
        row = await queue_outbound(
            s,
            channel="email",
            purpose="forward",
            recipient=body.email,
            case=case,
            key=key,
            subject=TEXTS.get(lang, TEXTS["fa"])["subject"],
            language=lang,
            author=viewer.name,
            text=_mail_text(ctx, case, reveal, (note or "").strip() or None, texts, skipped),
            payload={"attachments": files, "auto_submitted": "no"},
        )
        s.add(
            Forward(
                case_id=case.id,
                body_code=body.code,
                body_name=body.name,
                message_id=key,
                body_email=body.email,
                staff_id=viewer.staff_id or None,
                outbox_id=row.id,
                reporter_revealed=reveal,
            )
        )
        s.add(
            audit.event(
                viewer.actor, "forwarded", case.id, body=body.code, reporter_revealed=reveal, attachments=len(files)
            )
        )
        case.updated_at = utcnow()
        ids = [row.id] + await _tell_citizen(ctx, s, case, body)
    ctx.dispatcher.wake()
    return ForwardResult(case.code, body.code, reveal, ids)


async def _tell_citizen(ctx: GatewayContext, s: AsyncSession, case: Case, body: ExternalBody) -> list[int]:
    """The citizen hears that the report went to an external body (named if configured)."""
    cfg = ctx.config.oversight
    if not cfg.tell_citizen:
        return []
    lang = case.language
    name = "forwarded" if cfg.name_body_to_citizen else "forwarded_unnamed"
    values = ctx.templates.case_values(case, lang, body=body.name, track_link=ctx.track_link(case.code))
    text = ctx.templates.render(name, lang, **values)
    route = answer_route(case)
    if route is None:  # anonymous: kept on the case, shown with its status
        s.add(
            Message(
                case_id=case.id,
                direction="out",
                channel=case.channel,
                text=text,
                meta={"purpose": "forwarded", "unsent": True},
            )
        )
        return []
    channel, recipient = route
    subject = ctx.templates.render("forwarded_subject", lang, **values) if channel == "email" else ""
    row = await queue_outbound(
        s,
        channel=channel,
        purpose="forwarded",
        recipient=recipient,
        text=text,
        subject=subject,
        key=ctx.new_key(channel),
        case=case,
        language=lang,
    )
    return [row.id]
