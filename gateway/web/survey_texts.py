"""Texts of the open survey pages, the paper entry page and the survey results, in Persian
and English (kept apart from ``i18n.STRINGS`` so the survey pages change in one place)."""

from __future__ import annotations

SURVEY_TEXTS: dict[str, dict[str, str]] = {
    "fa": {
        "site_title": "نظرسنجی دربارهٔ خدمات این اداره",
        "service_title": "نظرسنجی خدمت",
        "unit_title": "نظرسنجی واحد",
        "open_intro": "نظر شما دربارهٔ گردش کار، انطباق آن با اطلاعات اعلام‌شده و رفتار کارکنان برای بهبود کار ما به کار می‌رود (بند ۵ مادهٔ ۹ منشور حقوق شهروندی). نام و نشانی شما پرسیده نمی‌شود.",
        "staff_label": "کد کارمند (اختیاری)",
        "staff_hint": "کد روی کارت میز کارمندی که به شما خدمت داد؛ اگر نمی‌دانید خالی بگذارید.",
        "bad_staff": "کد کارمند شناخته نشد؛ آن را بررسی کنید یا خالی بگذارید.",
        "staff_other_unit": "این کد کارمند از واحد دیگری است؛ آن را بررسی کنید یا خالی بگذارید.",
        "visit_expired": "مهلت این فرم گذشته است؛ لطفاً دوباره پاسخ دهید.",
        "kiosk_next": "فرم برای مراجعه‌کنندهٔ بعدی تا چند لحظهٔ دیگر آماده می‌شود.",
        "kiosk_again": "پاسخ مراجعه‌کنندهٔ بعدی",
        "rate_limited": "تعداد پاسخ‌ها از این دستگاه زیاد است. لطفاً بعداً دوباره تلاش کنید.",
        "not_found": "چنین خدمت یا واحدی وجود ندارد.",
    },
    "en": {
        "site_title": "Survey about this office's services",
        "service_title": "Service survey",
        "unit_title": "Unit survey",
        "open_intro": "Your view of the workflow, whether it matched the information announced, and the staff's behaviour helps us improve (Article 9(5) of the citizens' rights charter). We do not ask for your name or contact.",
        "staff_label": "Staff code (optional)",
        "staff_hint": "The code on the desk card of the staff member who served you; leave it empty if you do not know it.",
        "bad_staff": "This staff code is not known; check it or leave it empty.",
        "staff_other_unit": "This staff code belongs to another unit; check it or leave it empty.",
        "visit_expired": "This form has expired; please answer again.",
        "kiosk_next": "The form will be ready for the next visitor in a moment.",
        "kiosk_again": "Answer for the next visitor",
        "rate_limited": "Too many responses from this device. Please try again later.",
        "not_found": "No such service or unit.",
    },
}
