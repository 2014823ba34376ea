"""Headless Chromium (Debian's package) driven by Playwright, for browser tests.

Use the ``browser`` fixture from tests/conftest.py; pages are opened with
``browser.new_page(viewport=...)``.  Chromium is started with the flags that keep it
off the network (no background requests, no component updates, no QUIC).
"""

from __future__ import annotations

import shutil

from tests.peers import require

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    require(shutil.which("chromium") is not None, "chromium not installed (apt-get install chromium)")
    return path
