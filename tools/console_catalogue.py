"""Refresh the console's Persian catalogue from the marked strings (run from the repo root).

    python tools/console_catalogue.py            # extract, merge into console.po, report missing

It runs Babel's extraction with ``babel.cfg`` and merges into
``gateway/web/locale/fa/LC_MESSAGES/console.po`` (keeping existing translations); then
translate the empty ``msgstr`` entries it lists.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "gateway/web/locale/fa/LC_MESSAGES/console.po"


def main() -> int:
    from babel.messages.pofile import read_po, write_po
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "console.pot"
        pybabel = Path(sys.executable).parent / "pybabel"
        subprocess.run([str(pybabel), "--quiet", "extract",
                        "-F", "babel.cfg", "--no-location", "-o", str(pot), "."],
                       cwd=ROOT, check=True)
        with pot.open("rb") as f:
            template = read_po(f)
    catalogue = read_po(PO.open("rb"), locale="fa") if PO.exists() else None
    if catalogue is None:
        from babel.messages.catalog import Catalog
        catalogue = Catalog(locale="fa", domain="console")
    catalogue.update(template, no_fuzzy_matching=True)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as f:
        write_po(f, catalogue, omit_header=False, no_location=True, width=100)
    missing = [m.id for m in catalogue if m.id and not m.string]
    for msgid in missing:
        print(f"untranslated: {msgid}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
