"""Reading and checking portal forms.

:func:`read_form` streams a ``multipart/form-data`` body (or reads a urlencoded one) with
the size limits of ``[portal]`` applied while reading: a file over the per-file limit, one
file too many or too many bytes together are noted as errors and their bytes dropped, so
the rest of the form (what the citizen typed) still arrives and is shown again.  Only a
body beyond the hard cap (all files plus 1 MiB of text) is refused outright.

:func:`check_submission` is pure: it turns the fields and files into the values of a
submission or a list of ``(field id, message)`` errors, in the order the fields appear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.core.config import Config, PortalSection
from gateway.core.lookup import normalize_contact
from gateway.web.portal.files import clean_name, human_size, sniff
from gateway.web.portal.texts import text

KINDS = ("request", "complaint", "suggestion", "criticism", "violation_report")
ANSWER_CHANNELS = ("email", "sms", "code")
TEXT_FIELD_BYTES = 256 * 1024  # one text field; the message itself is checked in characters
TEXT_SLACK = 1024 * 1024  # text fields on top of the files' limit: the hard cap
CHUNK = 64 * 1024
IRANIAN_MOBILE = re.compile(r"^\+989\d{9}$")
EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+$")


class BodyTooLarge(Exception):
    """The request is beyond the hard cap; it was not (fully) read."""


class FormUnreadable(Exception):
    """The body is not a well-formed form (a broken multipart, a bad header)."""


@dataclass(slots=True)
class Upload:
    """One accepted file."""

    name: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class PostedForm:
    """What a form brought: text fields, accepted files, and file problems found reading."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)  # messages, already in the page language
    files_sent: int = 0


def hard_cap(cfg: PortalSection) -> int:
    """The most bytes a portal form may have."""
    return cfg.max_total_bytes + TEXT_SLACK


async def read_form(request: web.Request, cfg: PortalSection, lang: str) -> PostedForm:
    """Read the form body with the portal's limits (see the module docstring)."""
    if (request.content_length or 0) > hard_cap(cfg):
        raise BodyTooLarge()
    try:
        if not request.content_type.startswith("multipart/"):
            posted = await request.post()
            return PostedForm({k: v for k, v in posted.items() if isinstance(v, str)})
        return await _read_multipart(request, cfg, lang)
    except (ValueError, AssertionError, HttpProcessingError, UnicodeDecodeError) as e:
        raise FormUnreadable(type(e).__name__) from e


async def _read_multipart(request: web.Request, cfg: PortalSection, lang: str) -> PostedForm:
    out, seen = PostedForm(), 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        name = getattr(part, "name", None) or ""
        filename = getattr(part, "filename", None)
        if filename is None:
            raw, _, seen = await _read_capped(part, TEXT_FIELD_BYTES, seen, cfg)
            if name and name not in out.fields:
                out.fields[name] = raw.decode("utf-8", "replace")
            continue
        data, over, seen = await _read_capped(part, cfg.max_file_bytes, seen, cfg)
        _take_file(out, filename, data, over, cfg, lang)
    return out


async def _read_capped(part: Any, limit: int, seen: int, cfg: PortalSection) -> tuple[bytes, bool, int]:
    """Read one part, keeping at most ``limit`` bytes: (data, was it longer, bytes so far)."""
    kept, over = bytearray(), False
    while chunk := await part.read_chunk(CHUNK):
        seen += len(chunk)
        if seen > hard_cap(cfg):
            raise BodyTooLarge()
        if over:
            continue  # dropped, but read on: the fields after it must still arrive
        if len(kept) + len(chunk) > limit:
            over = True
            kept.clear()
            continue
        kept += chunk
    return bytes(kept), over, seen


def _take_file(out: PostedForm, filename: str, data: bytes, over: bool, cfg: PortalSection, lang: str) -> None:
    name = clean_name(filename)
    if not filename and not data and not over:
        return  # an empty file input: the browser sends a nameless, empty part
    out.files_sent += 1
    if out.files_sent > cfg.max_files:
        return  # counted; the error names the count once
    if over:
        out.file_errors.append(text(lang, "err_file_size", name=name, n=human_size(cfg.max_file_bytes, lang)))
        return
    if not data:
        out.file_errors.append(text(lang, "err_file_empty", name=name))
        return
    content_type = sniff(name, data[:16])
    if content_type is None:
        out.file_errors.append(text(lang, "err_file_type", name=name))
        return
    if sum(len(f.data) for f in out.files) + len(data) > cfg.max_total_bytes:
        out.file_errors.append(text(lang, "err_files_total", n=human_size(cfg.max_total_bytes, lang)))
        return
    out.files.append(Upload(name, content_type, data))


@dataclass(slots=True)
class Submission:
    """A checked submission: what goes to intake."""

    kind: str
    service: str | None
    subject: str
    text: str
    answer: str  # email | sms | code
    contact: str | None  # the email or E.164 mobile the answer goes to; None with "code"
    files: list[Upload]
    consent: bool = False  # a violation reporter lets an external oversight body see who they are


def file_errors(form: PostedForm, cfg: PortalSection, lang: str) -> list[str]:
    """The attachment problems of a form, the count first."""
    errors = list(form.file_errors)
    if form.files_sent > cfg.max_files:
        errors.insert(0, text(lang, "err_files_count", n=cfg.max_files, got=form.files_sent))
    return errors


def check_submission(form: PostedForm, config: Config, lang: str) -> tuple[Submission | None, list[tuple[str, str]]]:
    """The submission, or the errors as (field id, message) in form order."""
    cfg, f = config.portal, form.fields
    errors: list[tuple[str, str]] = []
    kind = f.get("kind", "")
    if kind not in KINDS:
        errors.append(("kind-request", text(lang, "err_kind")))
    service = f.get("service", "").strip() or None
    if service is not None and service not in {s.code for s in config.services}:
        errors.append(("service", text(lang, "err_service")))
    subject, body = f.get("subject", "").strip(), f.get("text", "").replace("\r\n", "\n").strip()
    if not subject:
        errors.append(("subject", text(lang, "err_subject")))
    elif len(subject) > cfg.max_subject_chars:
        errors.append(("subject", text(lang, "err_subject_long", n=cfg.max_subject_chars)))
    if not body:
        errors.append(("text", text(lang, "err_text")))
    elif len(body) > cfg.max_text_chars:
        errors.append(("text", text(lang, "err_text_long", n=cfg.max_text_chars)))
    errors += [("files", m) for m in file_errors(form, cfg, lang)]
    email, mobile, contact_errors = _contacts(f, lang)
    errors += contact_errors
    answer = f.get("answer", "")
    contact = None
    if answer not in ANSWER_CHANNELS:
        errors.append(("answer-email", text(lang, "err_answer")))
    elif answer == "email":
        contact = email
        if not f.get("email", "").strip():
            errors.append(("email", text(lang, "err_answer_email")))
    elif answer == "sms":
        contact = mobile
        if not f.get("mobile", "").strip():
            errors.append(("mobile", text(lang, "err_answer_sms")))
    if errors:
        return None, errors
    consent = kind == "violation_report" and contact is not None and f.get("consent") == "1"
    return Submission(kind, service, subject, body, answer, contact, form.files, consent), []


def _contacts(f: dict[str, str], lang: str) -> tuple[str | None, str | None, list[tuple[str, str]]]:
    errors = []
    email = f.get("email", "").strip() or None
    if email is not None and (len(email) > 254 or not EMAIL.match(email)):
        errors.append(("email", text(lang, "err_email")))
        email = None
    raw = f.get("mobile", "").strip()
    mobile = normalize_contact(raw) if raw else None
    if raw and (mobile is None or not IRANIAN_MOBILE.match(mobile)):
        errors.append(("mobile", text(lang, "err_mobile")))
        mobile = None
    return email, mobile, errors


def check_followup(form: PostedForm, config: Config, lang: str, what: str) -> tuple[str, list[tuple[str, str]]]:
    """The follow-up or appeal text, or its errors."""
    body = form.fields.get("text", "").replace("\r\n", "\n").strip()
    errors: list[tuple[str, str]] = []
    if not body:
        errors.append(
            (
                "followup-text" if what == "info" else "appeal-text",
                text(lang, "err_followup_text" if what == "info" else "err_appeal_reason"),
            )
        )
    elif len(body) > config.portal.max_text_chars:
        errors.append(
            (
                "followup-text" if what == "info" else "appeal-text",
                text(lang, "err_text_long", n=config.portal.max_text_chars),
            )
        )
    if what == "info":
        errors += [("followup-files", m) for m in file_errors(form, config.portal, lang)]
    return body, errors
