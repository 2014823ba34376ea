"""``gateway poster``: an A4 poster with the survey's QR code and short link for the
entrance or a desk, a staff member's desk card (their desk code, and a QR code that fills
it in), and the paper form with the same questions, in Persian."""

from __future__ import annotations

from gateway.core.config import Config
from gateway.core.intake.replies import SURVEY_QUESTIONS
from gateway.core.surveys_open import SurveyTarget
from gateway.printing.pdf import qr_svg_uri, render_pdf

QUESTION_FA = {
    "workflow": "گردش کار و مراحل رسیدگی",
    "information_match": "انطباق رسیدگی با اطلاعات اعلام‌شده (شناسنامهٔ خدمت)",
    "staff_behaviour": "رفتار کارکنان",
    "timeliness": "رسیدگی در موعد مقرر",
}


def survey_path(target: SurveyTarget) -> str:
    """The page of a target: /survey, /survey/service/{code} or /survey/unit/{code}."""
    if target.scope == "service":
        return f"/survey/service/{target.service_code}"
    if target.scope == "unit":
        return f"/survey/unit/{target.unit_code}"
    return "/survey"


def survey_url(config: Config, target: SurveyTarget) -> str:
    """The full public URL of a target's survey page (what the QR code holds)."""
    return config.gateway.public_base_url.rstrip("/") + survey_path(target)


def short_link(url: str) -> str:
    """The link as printed for typing: without the scheme."""
    return url.split("://", 1)[-1]


def _values(config: Config, target: SurveyTarget) -> dict[str, object]:
    url = survey_url(config, target)
    unit = next((u.name for u in config.units if u.code == target.unit_code), "")
    return {
        "target": target,
        "url": url,
        "short": short_link(url),
        "unit_name": unit,
        "sms": config.sms.numbers[0] if config.sms.numbers else "",
        "keyword": config.survey.keywords[0] if config.survey.keywords else "",
        "questions": [QUESTION_FA[q] for q in SURVEY_QUESTIONS],
    }


def render_poster(config: Config, target: SurveyTarget) -> bytes:
    """The poster as PDF bytes (blocking)."""
    values = _values(config, target)
    return render_pdf("poster.html", qr=qr_svg_uri(str(values["url"])), **values)


def render_paper_form(config: Config, target: SurveyTarget) -> bytes:
    """The paper survey form as PDF bytes (blocking)."""
    return render_pdf("paper_form.html", **_values(config, target))


def render_desk_card(config: Config, target: SurveyTarget, name: str, code: str) -> bytes:
    """A staff member's desk card as PDF bytes (blocking): the unit's survey with ``?staff=``."""
    values = _values(config, target)
    url = f"{values['url']}?staff={code}"
    return render_pdf(
        "desk_card.html", qr=qr_svg_uri(url), name=name, code=code, **{**values, "url": url, "short": short_link(url)}
    )
