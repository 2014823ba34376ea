"""House rules checked on the source text: every blind ``except Exception`` says in a few
words why catching everything is right there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOQA = re.compile(r"#\s*noqa:[^#]*\bBLE001\b(?P<why>.*)$")


def blind_excepts(text: str) -> list[tuple[int, str]]:
    """(line number, reason) of each ``noqa: BLE001`` comment; reason "" when none is given."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if m := NOQA.search(line):
            found.append((number, m["why"].strip(" -—:")))
    return found


@pytest.mark.parametrize(
    "line, reason",
    [
        pytest.param("except Exception:  # noqa: BLE001 - keep the raw input", "keep the raw input", id="dash"),
        pytest.param("except Exception:  # noqa: BLE001", "", id="bare"),
        pytest.param("except Exception:  # noqa: BLE001 -", "", id="dash-only"),
    ],
)
def test_reason_is_read(line, reason):
    assert blind_excepts(line) == [(1, reason)]


def test_every_blind_except_is_justified():
    unjustified = [
        f"{path.relative_to(ROOT)}:{n}"
        for tree in ("gateway", "tests", "bench")
        for path in sorted((ROOT / tree).rglob("*.py"))
        for n, why in blind_excepts(path.read_text(encoding="utf-8"))
        if len(why) < 3
    ]
    assert unjustified == []
