"""Words of the staff console that come from code: names of channels, purposes, survey
questions and audit events, flash messages, sizes, and the dashboard's CSV.

Every string is English source marked with :func:`N_` and translated when a page is drawn
(:mod:`gateway.web.translations`).  An event or purpose with no name here shows its code.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime

from gateway.core import reports
from gateway.core.templates import KIND_NAMES
from gateway.core.text import to_persian_digits
from gateway.web.translations import N_

Translate = Callable[[str], str]

CHANNELS = {"email": N_("Email"), "sms": N_("SMS"), "voice": N_("Voice message"), "web": N_("Web")}
PURPOSES = {
    "ack": N_("Receipt"),
    "answer": N_("Answer"),
    "survey": N_("Survey"),
    "status": N_("Status"),
    "help": N_("Help"),
    "digest": N_("Daily digest"),
    "forward": N_("Forward to oversight body"),
    "forwarded": N_("Notice of forwarding"),
}
QUESTIONS = {
    "workflow": N_("Workflow and steps"),
    "information_match": N_("Match with the announced information"),
    "staff_behaviour": N_("Staff behaviour"),
    "timeliness": N_("Timeliness"),
}
EVENTS = {
    "created": N_("case opened"),
    "assigned": N_("referred to another unit"),
    "answered": N_("answered"),
    "reanswered": N_("answered again"),
    "note_added": N_("internal note added"),
    "kind_changed": N_("kind changed"),
    "reopened": N_("reopened by the citizen's new message"),
    "status_query": N_("status asked"),
    "survey_response": N_("survey answered"),
    "outbound_failed": N_("a message could not be sent"),
    "delivery_failed": N_("a message was not delivered"),
    "assignee_set": N_("person responsible changed"),
    "reminded": N_("reminder sent"),
    "escalated": N_("escalated"),
    "case_viewed": N_("confidential case viewed"),
    "attachment_downloaded": N_("attachment downloaded"),
    "forwarded": N_("forwarded to an external oversight body"),
    "external_reply": N_("reply from an external oversight body"),
    "purged": N_("personal data removed (retention)"),
}
ACTORS = {"system": N_("System"), "citizen": N_("Citizen"), "public": N_("Someone with the code")}
ERRORS = {
    "not_found": N_("Case not found."),
    "validation_error": N_("The input is not valid."),
    "unknown_unit": N_("The chosen unit does not exist."),
    "unknown_assignee": N_("This colleague is not in the case's unit or may not see it."),
    "unknown_body": N_("There is no such external oversight body."),
    "forbidden": N_("Only oversight staff may do this."),
    "forbidden_for_kind": N_("This is not allowed for this kind of case."),
}
DONE = {
    "answered": N_("The answer is saved and queued for sending."),
    "assigned": N_("Case %(code)s was referred to %(unit)s."),
    "noted": N_("The note is saved."),
    "kind": N_("The kind of the case was changed."),
    "assignee": N_("The person responsible for the case is saved."),
    "forwarded": N_("The report was forwarded to the external oversight body."),
    "restored": N_("Your text is back in the form. It has not been sent yet."),
}
SIZE_UNITS = (N_("%(n)s bytes"), N_("%(n)s KB"), N_("%(n)s MB"))
SECTIONS = {
    "cases": N_("Cases"),
    "response": N_("Response"),
    "kind": N_("Kind"),
    "channel": N_("Channel"),
    "survey": N_("Survey"),
}
FIGURES = {
    "total": N_("All cases"),
    "open": N_("Open"),
    "answered_or_closed": N_("Answered or closed"),
    "overdue": N_("Overdue"),
    "median_first_response_hours": N_("Median time to first answer (hours)"),
    "responses": N_("Survey responses"),
    "improper_request_share": N_("Share who reported an improper request"),
}


def translated(table: dict[str, str], _: Translate) -> dict[str, str]:
    """A name table in the page's language."""
    return {key: _(name) for key, name in table.items()}


def human_size(size: int, lang: str, _: Translate) -> str:
    """A file size as people read it: 45 bytes, 1.2 KB, 3.4 MB (Persian digits in Persian)."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(SIZE_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    number = str(size) if unit == 0 else f"{value:.1f}".rstrip("0").rstrip(".")
    if lang == "fa":
        number = to_persian_digits(number).replace(".", "٫")
    return _(SIZE_UNITS[unit]) % {"n": number}


def actor_name(actor: str, _: Translate) -> str:
    """Who did it, for people: a staff member's name, or System / Citizen."""
    kind, _sep, name = actor.partition(":")
    return name if kind == "staff" and name else _(ACTORS.get(actor, actor))


def dashboard_csv(figs: reports.Figures, scope_name: str, period: tuple[str, str], lang: str, _: Translate) -> str:
    """The dashboard's figures as CSV with headings, sections and items in words."""
    kinds = KIND_NAMES[lang]
    items = {
        "kind": kinds,
        "channel": translated(CHANNELS, _),
        "survey": {**translated(QUESTIONS, _), **translated(FIGURES, _)},
    }
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([_("Unit"), _("From"), _("To"), _("Section"), _("Item"), _("Value")])
    for section, key, value in reports.rows(figs):
        name = items.get(section, {}).get(key) or _(FIGURES.get(key, key))
        w.writerow([scope_name, period[0], period[1], _(SECTIONS.get(section, section)), name, value])
    return buf.getvalue()


def csv_filename(scope: str, since: datetime | None, until: datetime, days: int | None) -> str:
    """An ASCII file name that says what the report is: unit, end date, period."""
    import jdatetime

    end = jdatetime.date.fromgregorian(date=until.date()).strftime("%Y-%m-%d")
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in scope)
    return f"report-{safe}-{end}-{f'last-{days}-days' if days and since else 'all-time'}.csv"
