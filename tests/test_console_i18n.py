"""Every string the staff console marks for translation has a Persian translation, the
catalogue's placeholders match, and pages switch language."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from gateway.web.translations import catalogue_path, translations

ROOT = Path(__file__).resolve().parent.parent
METHODS = [("gateway/web/**.py", "python"), ("gateway/web/templates/staff/**.html", "jinja2")]


def marked_strings() -> set[str]:
    """The msgids Babel extracts with babel.cfg's settings."""
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = extract_from_dir(str(ROOT), METHODS, keywords=keywords)
    return {msg if isinstance(msg, str) else msg[0] for _file, _line, msg, _c, _ctx in found}


def test_every_marked_string_has_a_persian_translation() -> None:
    with catalogue_path("fa").open("rb") as f:
        catalogue = read_po(f, locale="fa")
    translated = {m.id: m.string for m in catalogue if m.id and m.string}
    marked = marked_strings()
    assert len(marked) > 100
    missing = sorted(marked - set(translated))
    assert not missing, "untranslated (run python tools/console_catalogue.py):\n" + "\n".join(missing)


def test_placeholders_survive_translation() -> None:
    import re

    fields = re.compile(r"%\((\w+)\)s")
    with catalogue_path("fa").open("rb") as f:
        for m in read_po(f, locale="fa"):
            if m.id and m.string:
                assert set(fields.findall(m.id)) == set(fields.findall(m.string)), m.id


def test_translations_load_and_english_is_the_source() -> None:
    assert translations("fa").gettext("Log out") == "خروج"
    assert translations("en").gettext("Log out") == "Log out"
