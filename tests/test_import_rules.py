"""The import rules (README "How the code is wired"), checked on the source: no import circle in
``gateway/core`` or ``gateway/web``; the core imports no channel and nothing of the web;
a channel imports no other channel and nothing of the web."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import find_cycle, import_graph

ROOT = Path(__file__).resolve().parent.parent / "gateway"
GRAPH = import_graph(ROOT)
CHANNELS = sorted(m for m in GRAPH if m.count(".") == 2 and m.startswith("gateway.channels."))


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("package", ["gateway.core", "gateway.web", *CHANNELS])
def test_no_import_circle(package):
    assert find_cycle(GRAPH, package) is None


@pytest.mark.parametrize("forbidden", ["gateway.channels", "gateway.web", "gateway.cli", "gateway.serve"])
def test_core_imports_no_channel_and_no_web(forbidden):
    bad = sorted((m, n) for m, deps in GRAPH.items() if _under(m, "gateway.core") for n in deps if _under(n, forbidden))
    assert bad == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_channel_imports_no_other_channel_and_no_web(channel):
    bad = sorted(
        (m, n)
        for m, deps in GRAPH.items()
        if _under(m, channel)
        for n in deps
        if _under(n, "gateway.web") or (n.startswith("gateway.channels.") and not _under(n, channel))
    )
    assert bad == []


def test_the_channel_list_is_found():
    assert CHANNELS == ["gateway.channels.email", "gateway.channels.sms", "gateway.channels.voice"]


# -- the checker itself, on a small tree written here -----------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    "files, cycle",
    [
        pytest.param(
            {"__init__.py": "", "a.py": "from pkg import b\n", "b.py": "import pkg.a\n"},
            ["pkg.a", "pkg.b", "pkg.a"],
            id="two-modules",
        ),
        pytest.param(
            {"__init__.py": "", "a.py": "def f():\n    from pkg.b import x\n", "b.py": "from .a import f\n"},
            ["pkg.a", "pkg.b", "pkg.a"],
            id="late-import-inside-a-function",
        ),
        pytest.param(
            {
                "__init__.py": "",
                "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n",
                "b.py": "from pkg import a\n",
            },
            ["pkg.a", "pkg.b", "pkg.a"],
            id="typing-time-import",
        ),
        pytest.param(
            {"__init__.py": "from pkg.sub import x\n", "sub/__init__.py": "x = 1\n", "sub/m.py": "from pkg import y\n"},
            None,
            id="a-module-may-import-its-parents",
        ),
        pytest.param({"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "x = 1\n"}, None, id="no-circle"),
    ],
)
def test_the_checker_finds_circles(tmp_path, files, cycle):
    graph = import_graph(_tree(tmp_path, files))
    assert find_cycle(graph, "pkg") == cycle
