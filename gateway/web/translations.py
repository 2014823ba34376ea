"""Staff console translations: gettext catalogues, kept with Babel.

Source strings are English.  Templates mark them with ``_("...")``; Python tables mark them
with :func:`N_` and translate when a page is drawn.  Each other language has a catalogue at
``gateway/web/locale/<lang>/LC_MESSAGES/console.po`` (Persian today), read once per process.
After changing marked strings (README "Staff API and console" shows the commands):

    pybabel extract -F babel.cfg -o console.pot .
    pybabel update -i console.pot -d gateway/web/locale -D console

``tests/test_console_i18n.py`` fails while any marked string lacks a Persian translation.
"""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "console"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def catalogue_path(lang: str) -> Path:
    """Where the catalogue of ``lang`` lives."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The console's translations for ``lang`` (English is the source: no catalogue)."""
    path = catalogue_path(lang)
    if lang == "en" or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalogue = read_po(f, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
