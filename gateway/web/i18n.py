"""Texts of the citizen pages in Persian (default, RTL) and English, and the language choice.

The language is ``?lang=fa|en`` (remembered in a cookie), else the cookie, else the
browser's Accept-Language, else the gateway's configured language.  Kind and status names come from ``core.templates`` so a
status reads the same on the web, in SMS and in email.
"""

from __future__ import annotations

from aiohttp import web

from gateway.core.templates import KIND_NAMES, STATUS_NAMES

LANGUAGES = ("fa", "en")
LANG_COOKIE = "lang"
DIRECTION = {"fa": "rtl", "en": "ltr"}

STRINGS: dict[str, dict[str, str]] = {
    "fa": {
        "site": "درگاه پاسخگویی به شهروندان",
        "skip": "رفتن به محتوای اصلی",
        "nav_track": "پیگیری",
        "nav_services": "خدمات",
        "switch": "English",
        "track_title": "پیگیری با کد رهگیری",
        "track_intro": "کد رهگیری ده‌رقمی را که برایتان فرستاده شده وارد کنید. ارقام فارسی یا انگلیسی هر دو پذیرفته می‌شوند.",
        "code_label": "کد رهگیری",
        "code_hint": "مثال: ۱۲۳۴۵۶۷۸۹۴",
        "lookup": "پیگیری",
        "check_code": "کد رهگیری نادرست است؛ لطفاً کد را بررسی کنید.",
        "bad_format": "کد رهگیری باید ده رقم باشد.",
        "no_match": "موردی با این مشخصات یافت نشد. کد رهگیری و نشانی ایمیل یا شماره تلفن را بررسی کنید.",
        "kind": "نوع",
        "status": "وضعیت",
        "unit": "واحد رسیدگی",
        "received": "تاریخ دریافت",
        "due": "مهلت پاسخ",
        "answered": "تاریخ پاسخ",
        "answer": "پاسخ",
        "answer_locked": "متن پاسخ فقط به فرستندهٔ پیام نشان داده می‌شود. برای دیدن آن، ایمیل یا شماره تلفنی را که پیام از آن فرستاده شد وارد کنید.",
        "contact_label": "ایمیل یا شماره تلفن همراه",
        "contact_hint": "همان نشانی یا شماره‌ای که پیام را با آن فرستادید؛ نشان داده یا ذخیره نمی‌شود.",
        "show_answer": "نمایش پاسخ",
        "no_answer_yet": "هنوز پاسخی ثبت نشده است.",
        "rate_limited": "تعداد درخواست‌ها زیاد است. لطفاً کمی بعد دوباره تلاش کنید.",
        "rate_limited_seconds": "تعداد درخواست‌ها زیاد است. لطفاً {n} ثانیهٔ دیگر دوباره تلاش کنید.",
        "rate_limited_minutes": "تعداد درخواست‌ها زیاد است. لطفاً {n} دقیقهٔ دیگر دوباره تلاش کنید.",
        "contact_mismatch": "این ایمیل یا شماره تلفن با نشانی‌ای که پیام از آن فرستاده شد یکی نیست. آن را بررسی کنید و دوباره بفرستید.",
        "overdue_sorry": "پوزش می‌خواهیم: مهلت پاسخ به این مورد گذشته است. پرونده همچنان باز است و واحد رسیدگی تأخیر آن را می‌بیند. اگر مطلب تازه‌ای دارید یا پاسخ فوری لازم است، با همین کد رهگیری دوباره پیام بدهید؛ پیام شما به همین پرونده افزوده می‌شود.",
        "survey_title": "نظرسنجی کیفیت پاسخگویی",
        "survey_intro": "به هر پرسش از ۱ (بسیار بد) تا ۵ (بسیار خوب) امتیاز دهید.",
        "q_workflow": "گردش کار و مراحل رسیدگی",
        "q_information_match": "انطباق رسیدگی با اطلاعات اعلام‌شده (شناسنامهٔ خدمت)",
        "q_staff_behaviour": "رفتار کارکنان",
        "q_timeliness": "رسیدگی در موعد مقرر",
        "score_1": "۱ بسیار بد",
        "score_2": "۲ بد",
        "score_3": "۳ متوسط",
        "score_4": "۴ خوب",
        "score_5": "۵ بسیار خوب",
        "q_improper": "آیا از شما چیزی خلاف مقررات خواسته شد؟",
        "yes": "بله",
        "no": "خیر",
        "comment_label": "توضیحات (اختیاری)",
        "comment_hint": "حداکثر ۴۰۰۰ نویسه.",
        "submit": "ثبت نظر",
        "survey_case": "کد رهگیری",
        "answer_all": "لطفاً به این پرسش‌ها هم امتیاز دهید:",
        "score_missing": "برای این پرسش امتیازی انتخاب نشده است.",
        "comment_too_long": "متن توضیحات بیش از ۴۰۰۰ نویسه است؛ لطفاً آن را کوتاه کنید.",
        "too_large": "حجم فرم بیش از حد مجاز است.",
        "survey_invalid": "این پیوند نظرسنجی معتبر نیست.",
        "survey_expired": "مهلت این نظرسنجی به پایان رسیده است.",
        "survey_answered": "این نظرسنجی پیش‌تر پاسخ داده شده است. سپاسگزاریم.",
        "thanks_title": "سپاسگزاریم",
        "thanks": "نظر شما ثبت شد. از شرکت شما در نظرسنجی سپاسگزاریم.",
        "new_case": "برای ثبت درخواست، شکایت، پیشنهاد یا انتقاد تازه:",
        "new_case_email": "ایمیل به",
        "new_case_sms": "پیامک به",
        "new_case_services": "فهرست خدمات و شناسنامهٔ آن‌ها",
        "services_title": "فهرست خدمات (شناسنامهٔ خدمات)",
        "search_label": "جست‌وجو در خدمات",
        "search": "جست‌وجو",
        "no_services": "خدمتی یافت نشد.",
        "service_code": "شناسهٔ خدمت",
        "description": "شرح خدمت",
        "documents": "مدارک لازم",
        "average_days": "متوسط مدت ارائهٔ خدمت (روز)",
        "sla_days": "مهلت رسیدگی (روز)",
        "cost": "هزینهٔ خدمت",
        "channels": "نحوهٔ دسترسی",
        "legal_basis": "قوانین و مقررات",
        "free": "رایگان",
        "not_found": "صفحه یافت نشد.",
        "back_services": "بازگشت به فهرست خدمات",
        "channel_email": "ایمیل",
        "channel_sms": "پیامک",
        "channel_voice": "تلفن (صندوق صوتی)",
        "channel_web": "درگاه اینترنتی",
    },
    "en": {
        "site": "Citizen contact gateway",
        "skip": "Skip to main content",
        "nav_track": "Track",
        "nav_services": "Services",
        "switch": "فارسی",
        "track_title": "Track a case",
        "track_intro": "Enter the 10-digit tracking code we sent you. Persian or English digits both work.",
        "code_label": "Tracking code",
        "code_hint": "For example: 1234567894",
        "lookup": "Look up",
        "check_code": "That tracking code is not valid; please check the code.",
        "bad_format": "A tracking code has 10 digits.",
        "no_match": "Nothing matches these details. Check the tracking code and the email address or phone number.",
        "kind": "Kind",
        "status": "Status",
        "unit": "Handled by",
        "received": "Received",
        "due": "Answer due",
        "answered": "Answered",
        "answer": "Answer",
        "answer_locked": "The answer is shown only to the sender. Enter the email address or phone number the message came from to see it.",
        "contact_label": "Email or mobile number",
        "contact_hint": "The address or number you wrote from; it is neither shown nor stored.",
        "show_answer": "Show the answer",
        "no_answer_yet": "There is no answer yet.",
        "rate_limited": "Too many requests. Please try again a little later.",
        "rate_limited_seconds": "Too many requests. Please try again in {n} seconds.",
        "rate_limited_minutes": "Too many requests. Please try again in {n} minutes.",
        "contact_mismatch": "This email address or phone number is not the one the message came from. Check it and send it again.",
        "overdue_sorry": "We are sorry: the answer to this case is late. The case is still open and the unit sees that it is late. If you have something to add or need an answer urgently, write to us again with this tracking code; your message is added to this case.",
        "survey_title": "How did we do?",
        "survey_intro": "Rate each question from 1 (very poor) to 5 (very good).",
        "q_workflow": "The workflow and steps of handling",
        "q_information_match": "Match with the information announced before (the service card)",
        "q_staff_behaviour": "Staff behaviour",
        "q_timeliness": "Handled on time",
        "score_1": "1 very poor",
        "score_2": "2 poor",
        "score_3": "3 fair",
        "score_4": "4 good",
        "score_5": "5 very good",
        "q_improper": "Were you asked for anything against the rules?",
        "yes": "Yes",
        "no": "No",
        "comment_label": "Comment (optional)",
        "comment_hint": "At most 4000 characters.",
        "submit": "Send",
        "survey_case": "Tracking code",
        "answer_all": "Please also rate these questions:",
        "score_missing": "No score was chosen for this question.",
        "comment_too_long": "The comment is longer than 4000 characters; please shorten it.",
        "too_large": "The form is too large.",
        "survey_invalid": "This survey link is not valid.",
        "survey_expired": "This survey has expired.",
        "survey_answered": "This survey has already been answered. Thank you.",
        "thanks_title": "Thank you",
        "thanks": "Your response has been recorded. Thank you for taking the survey.",
        "new_case": "To send a new request, complaint, suggestion or criticism:",
        "new_case_email": "email",
        "new_case_sms": "SMS to",
        "new_case_services": "the service catalogue",
        "services_title": "Service catalogue (service identity cards)",
        "search_label": "Search services",
        "search": "Search",
        "no_services": "No service found.",
        "service_code": "Service code",
        "description": "Description",
        "documents": "Required documents",
        "average_days": "Average delivery time (days)",
        "sla_days": "Answer within (days)",
        "cost": "Cost",
        "channels": "Channels",
        "legal_basis": "Legal basis",
        "free": "Free",
        "not_found": "Page not found.",
        "back_services": "Back to the service catalogue",
        "channel_email": "email",
        "channel_sms": "SMS",
        "channel_voice": "phone (voice mail)",
        "channel_web": "web portal",
    },
}


def pick_language(request: web.Request, default: str) -> tuple[str, bool]:
    """The page language and whether it was chosen now (then the cookie is set): ``?lang=``,
    else the cookie, else the browser's Accept-Language, else ``default``."""
    asked = request.query.get("lang", "")
    if asked in LANGUAGES:
        return asked, True
    cookie = request.cookies.get(LANG_COOKIE, "")
    if cookie in LANGUAGES:
        return cookie, False
    return accepted_language(request.headers.get("Accept-Language", "")) or default, False


def accepted_language(header: str) -> str | None:
    """The first of our languages in an Accept-Language header, by the browser's weights
    (RFC 9110 section 12.5.4); None when it names neither."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        if lang not in LANGUAGES:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0 and (best is None or (weight, -position) > (best[0], -best[1])):
            best = (weight, position, lang)
    return best[2] if best else None


def page_texts(lang: str) -> dict[str, object]:
    """Everything a template needs to speak ``lang``."""
    return {
        "lang": lang,
        "dir": DIRECTION[lang],
        "t": STRINGS[lang],
        "kinds": KIND_NAMES[lang],
        "statuses": STATUS_NAMES[lang],
        "other_lang": "en" if lang == "fa" else "fa",
    }
