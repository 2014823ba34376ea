"""Open surveys of Article 9(5): every visitor may answer, no case needed.

Targets are the site (``/survey``), a service (``/survey/service/{code}``) and a unit
(``/survey/unit/{code}``).  A response may name the staff member who served the visitor by
the **desk code** printed on their desk card: ``100 + staff id`` followed by a Damm check
digit (public on purpose, like a name badge; the check digit catches a mistyped code).

One response per visit: each form carries a signed visit token whose nonce is stored as
the response's unique ``visit_key``, so a resubmission (or a concurrent twin) is
"already answered".  Responses after a staff answer are attributed to the answering staff
member (:func:`gateway.core.surveys.case_attribution`); open ones to the desk code named.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core import tracking
from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.models import Staff, SurveyResponse
from gateway.core.survey_alerts import Services, queue_low_score_alert
from gateway.core.surveys import SurveyAnswers, SurveyError
from gateway.core.text import to_ascii_digits

SCOPES = ("site", "service", "unit")
VISIT_TTL_SECONDS = 6 * 3600  # a form left open on a desk still counts


@dataclass(frozen=True, slots=True)
class SurveyTarget:
    """What an open response is about."""

    scope: str  # site | service | unit
    unit_code: str | None = None
    service_code: str | None = None
    title: str = ""


def find_target(config: Config, scope: str, code: str | None = None) -> SurveyTarget | None:
    """The target for a scope and code from the config; None for an unknown code."""
    if scope == "site":
        return SurveyTarget("site")
    if scope == "service":
        sv = next((x for x in config.services if x.code == code), None)
        return SurveyTarget("service", sv.unit, sv.code, sv.title) if sv else None
    if scope == "unit":
        unit = next((u for u in config.units if u.code == code), None)
        return SurveyTarget("unit", unit.code, None, unit.name) if unit else None
    return None


def desk_code(staff_id: int) -> str:
    """The code printed on a staff member's desk card."""
    base = str(100 + staff_id)
    return base + str(tracking.damm_digit(base))


def parse_desk_code(raw: str) -> int | None:
    """The staff id behind a desk code typed in any digits; None if malformed."""
    digits = "".join(ch for ch in to_ascii_digits(raw or "") if not ch.isspace() and ch != "-")
    if not (4 <= len(digits) <= 12 and digits.isdigit()) or tracking.damm_digit(digits) != 0:
        return None
    staff_id = int(digits[:-1]) - 100
    return staff_id if staff_id > 0 else None


def new_visit(ctx: GatewayContext) -> str:
    """A signed visit token for one form."""
    return ctx.signer.sign("visit", {"n": secrets.token_hex(12)}, ttl_seconds=VISIT_TTL_SECONDS)


def visit_nonce(ctx: GatewayContext, token: str) -> str:
    """The nonce of an authentic visit token; :class:`SurveyError` ``invalid`` otherwise."""
    payload = ctx.signer.verify("visit", token[:200]) if token else None
    nonce = payload.get("n") if payload else None
    if not isinstance(nonce, str) or len(nonce) != 24:
        raise SurveyError("visit_expired")
    return nonce


def staff_for_code(s: Session, raw: str, unit: str | None = None) -> int | None:
    """The active staff member of a desk code; None when blank, ``bad_staff`` if unknown,
    ``staff_other_unit`` when the response is about ``unit`` and the member works elsewhere
    (a response would otherwise count for a staff member who did not serve it)."""
    if not (raw or "").strip():
        return None
    staff_id = parse_desk_code(raw)
    member = s.get(Staff, staff_id) if staff_id else None
    if member is None or not member.active:
        raise SurveyError("bad_staff")
    if unit is not None and member.unit_code != unit:
        raise SurveyError("staff_other_unit")
    return member.id


def add_open_response(
    s: Session,
    ctx: Services,
    target: SurveyTarget,
    answers: SurveyAnswers,
    *,
    channel: str,
    staff_id: int | None = None,
    visit_key: str | None = None,
    entered_by: int | None = None,
) -> SurveyResponse:
    """Add one open response (and its low-score alert) to a sync session; flushed, so a
    replayed visit raises ``IntegrityError`` here."""
    resp = SurveyResponse(
        invitation_id=None,
        answers=answers.scores,
        improper_request=answers.improper_request,
        comment=answers.comment,
        channel=channel,
        scope=target.scope,
        unit_code=target.unit_code,
        service_code=target.service_code,
        staff_id=staff_id,
        entered_by=entered_by,
        visit_key=visit_key,
    )
    s.add(resp)
    s.flush()
    queue_low_score_alert(s, ctx, resp)
    return resp


async def record_open_response(
    ctx: GatewayContext,
    target: SurveyTarget,
    answers: SurveyAnswers,
    *,
    channel: str,
    staff_code: str = "",
    visit: str | None = None,
    entered_by: int | None = None,
) -> int:
    """Store an open response in its own transaction; returns its id.

    Raises :class:`SurveyError`: ``visit_expired`` (no authentic visit token where one is
    needed), ``bad_staff`` (unknown desk code), ``staff_other_unit`` (a desk code of
    another unit than the target's), ``answered`` (this visit already answered).
    """
    nonce = visit_nonce(ctx, visit) if visit is not None else None
    try:
        async with ctx.db.session() as s:

            def work(sync: Session) -> int:
                staff_id = staff_for_code(sync, staff_code, target.unit_code)
                return add_open_response(
                    sync,
                    ctx,
                    target,
                    answers,
                    channel=channel,
                    staff_id=staff_id,
                    visit_key=nonce,
                    entered_by=entered_by,
                ).id

            return await s.run_sync(work)
    except IntegrityError:
        raise SurveyError("answered") from None
