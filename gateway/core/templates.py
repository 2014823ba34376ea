"""Message texts sent to citizens: Persian by default, English available, overridable in
the config's ``[templates.fa]`` / ``[templates.en]`` tables.

Placeholders use ``str.format`` names: ``{code}`` (shown in the language's digits),
``{code_ascii}``, ``{kind}``, ``{status}``, ``{unit}``, ``{received}``, ``{due}``,
``{answered}`` (Jalali dates in Persian), ``{answer}``, ``{link}``, ``{track_link}``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import jdatetime

from gateway.core.text import to_persian_digits

DEFAULTS: dict[str, dict[str, str]] = {
    "fa": {
        "ack_subject": "کد رهگیری {code}",
        "ack": "پیام شما ثبت شد. کد رهگیری: {code}\nپیگیری: {track_link}",
        "answer_subject": "پاسخ به پیام شما (کد رهگیری {code})",
        "answer": "پاسخ به پیام شما (کد رهگیری {code}):\n{answer}",
        "survey": "لطفاً کیفیت پاسخگویی را ارزیابی کنید: {link}",
        "status": "وضعیت {code}: {status}، واحد {unit}، دریافت {received}، مهلت {due}",
        "status_answer": "وضعیت {code}: {status}. پاسخ: {answer}",
        "unknown_code": "کد رهگیری {code} یافت نشد.",
        "check_code": "کد رهگیری نادرست است؛ لطفاً کد را بررسی کنید.",
        "auto_reply_subject": "پاسخ سامانهٔ پیام‌های مردمی",
        "help": "برای ثبت درخواست، شکایت، پیشنهاد یا انتقاد متن خود را بفرستید. برای پیگیری، کد رهگیری را بفرستید.",
        "survey_thanks": "از شرکت شما در نظرسنجی سپاسگزاریم.",
        "survey_open_sms": "نظرسنجی{target}: چهار رقم ۱ تا ۵ بفرستید (روند کار، انطباق با اطلاعات اعلام‌شده، رفتار کارکنان، زمان). رقم پنجم اختیاری: درخواست خلاف مقررات؟ ۱ بله، ۲ خیر",
        # staff answers, surveys and the daily digest (gateway.core.answers, gateway.core.sla)
        "survey_subject": "نظرسنجی درباره پاسخ به پیام شما (کد رهگیری {code})",
        "survey_sms": "نظرسنجی {code}: چهار رقم ۱ تا ۵ بفرستید (روند کار، انطباق با اطلاعات اعلام‌شده، رفتار کارکنان، زمان). رقم پنجم اختیاری: درخواست خلاف مقررات؟ ۱ بله، ۲ خیر",
        "digest_subject": "پرونده‌های معوق واحد {unit}: {count}",
        "digest": "پرونده‌های معوق واحد {unit} ({count} مورد):\n{items}\n\nکارتابل: {link}",
        "reply_received": "پیام شما دریافت شد و در حال بررسی است. نتیجه از همین راه به شما اعلام می‌شود.",
        "reply_done": "درخواست شما انجام شد. از اینکه با ما در تماس بودید سپاسگزاریم.",
        "reply_more_info": "برای رسیدگی به پیام شما به اطلاعات بیشتری نیاز داریم. لطفاً در پاسخ به همین پیام جزئیات را بفرستید.",
        # a violation report forwarded to an external oversight body (gateway.core.forwarding)
        "forwarded_subject": "گزارش شما (کد رهگیری {code}) به نهاد نظارتی فرستاده شد",
        "forwarded": "گزارش شما با کد رهگیری {code} برای رسیدگی به {body} فرستاده شد. پیگیری: {track_link}",
        "forwarded_unnamed": "گزارش شما با کد رهگیری {code} برای رسیدگی به یک نهاد نظارتی بیرونی فرستاده شد. پیگیری: {track_link}",
    },
    "en": {
        "ack_subject": "Tracking code {code}",
        "ack": "Your message has been received. Tracking code: {code}\nTrack it: {track_link}",
        "answer_subject": "Answer to your message (tracking code {code})",
        "answer": "Answer to your message (tracking code {code}):\n{answer}",
        "survey": "Please rate our service: {link}",
        "status": "Case {code}: {status}, unit {unit}, received {received}, due {due}",
        "status_answer": "Case {code}: {status}. Answer: {answer}",
        "unknown_code": "Tracking code {code} was not found.",
        "check_code": "That tracking code is not valid; please check the code.",
        "auto_reply_subject": "Reply from the citizens' feedback service",
        "help": "Send your request, complaint, suggestion or criticism as a message. Send a tracking code to check its status.",
        "survey_thanks": "Thank you for taking the survey.",
        "survey_open_sms": "Survey{target}: reply with four digits 1-5 (process, match with published information, staff behaviour, timeliness). Optional fifth digit, asked for anything against the rules? 1 yes, 2 no",
        "survey_subject": "How did we do? (tracking code {code})",
        "survey_sms": "Survey {code}: reply with four digits 1-5 (process, match with published information, staff behaviour, timeliness). Optional fifth digit, asked for anything against the rules? 1 yes, 2 no",
        "digest_subject": "Overdue cases of unit {unit}: {count}",
        "digest": "Overdue cases of unit {unit} ({count}):\n{items}\n\nConsole: {link}",
        "reply_received": "We have received your message and are looking into it. You will hear from us on this channel.",
        "reply_done": "Your request has been carried out. Thank you for contacting us.",
        "reply_more_info": "We need more information to handle your message. Please reply to this message with the details.",
        "forwarded_subject": "Your report (tracking code {code}) was forwarded to an oversight body",
        "forwarded": "Your report with tracking code {code} was forwarded to {body} for investigation. Track it: {track_link}",
        "forwarded_unnamed": "Your report with tracking code {code} was forwarded to an external oversight body for investigation. Track it: {track_link}",
    },
}

KIND_NAMES = {
    "fa": {
        "request": "درخواست",
        "complaint": "شکایت",
        "suggestion": "پیشنهاد",
        "criticism": "انتقاد",
        "violation_report": "گزارش تخلف",
    },
    "en": {
        "request": "request",
        "complaint": "complaint",
        "suggestion": "suggestion",
        "criticism": "criticism",
        "violation_report": "violation report",
    },
}
STATUS_NAMES = {
    "fa": {"new": "ثبت شده", "routed": "در حال بررسی", "answered": "پاسخ داده شده", "closed": "بسته شده"},
    "en": {"new": "received", "routed": "in progress", "answered": "answered", "closed": "closed"},
}


def format_date(value: datetime | None, language: str, tz: str = "Asia/Tehran") -> str:
    """A date for people: Jalali with Persian digits in Persian, ISO date in English."""
    if value is None:
        return "—" if language == "fa" else "-"
    return _format_day(value.astimezone(ZoneInfo(tz)).date(), language)


@lru_cache(maxsize=4096)
def _format_day(day: date, language: str) -> str:
    # cached: the Jalali conversion showed up in intake profiles, and days repeat a lot
    if language == "fa":
        return to_persian_digits(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d"))
    return day.isoformat()


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


class Templates:
    """Look up and fill message templates for a language."""

    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None, timezone: str = "Asia/Tehran") -> None:
        self.timezone = timezone
        self._table = {lang: dict(texts) for lang, texts in DEFAULTS.items()}
        for lang, texts in (overrides or {}).items():
            self._table.setdefault(lang, dict(DEFAULTS["en"])).update(texts)

    def names(self, language: str) -> list[str]:
        return sorted(self._table.get(language, {}))

    def raw(self, name: str, language: str) -> str:
        table = self._table.get(language) or self._table["fa"]
        return table.get(name) or self._table["fa"][name]

    def render(self, name: str, language: str, **values: object) -> str:
        """Fill template ``name``; numbers in Persian text come out in Persian digits."""
        return self.raw(name, language).format_map(_Blank({k: "" if v is None else str(v) for k, v in values.items()}))

    def case_values(self, case: object, language: str, **extra: object) -> dict[str, object]:
        """The standard placeholders for a case object (duck-typed on the ORM model)."""
        code = getattr(case, "code")
        return {
            "code": to_persian_digits(code) if language == "fa" else code,
            "code_ascii": code,
            "kind": KIND_NAMES.get(language, KIND_NAMES["fa"]).get(getattr(case, "kind"), ""),
            "status": STATUS_NAMES.get(language, STATUS_NAMES["fa"]).get(getattr(case, "status"), ""),
            "unit": extra.pop("unit_name", None) or getattr(case, "unit_code"),
            "received": format_date(getattr(case, "created_at"), language, self.timezone),
            "due": format_date(getattr(case, "due_at"), language, self.timezone),
            "answered": format_date(getattr(case, "answered_at"), language, self.timezone),
            **extra,
        }

    def check(self) -> list[str]:
        """Problems with the configured templates (unknown placeholders), one line each."""
        allowed = {
            "code",
            "code_ascii",
            "kind",
            "status",
            "unit",
            "received",
            "due",
            "answered",
            "answer",
            "link",
            "track_link",
            "count",
            "items",
            "target",
            "body",
        }
        problems = []
        for lang, texts in self._table.items():
            for name, text in texts.items():
                try:
                    fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
                except ValueError as e:
                    problems.append(f"templates.{lang}.{name}: {e}")
                    continue
                for f in sorted(fields - allowed):
                    problems.append(f"templates.{lang}.{name}: unknown placeholder {{{f}}}")
        return problems
