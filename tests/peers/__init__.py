"""Test peers (real servers started by fixtures) and the rule for missing ones.

Locally a test whose peer is missing is skipped with the reason; under ``CI=true`` it
fails instead, so a green CI means every test really ran.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(ok: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a peer or package is missing."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"required test peer missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, package: str) -> str:
    """The path of an executable, or skip/fail naming the Debian package to install."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    require(path is not None, f"{name} not installed (apt-get install {package})")
    return path or ""


def free_port() -> int:
    """A free TCP port on loopback (small race between close and the peer's bind)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def eventually(check: Callable[[], Awaitable[Any]], what: str = "condition", limit: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy and return that; bounded, so a bug
    fails instead of hanging (waits for peers and background tasks, not a speed test)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not (value := await check()):
        if loop.time() > end:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)
    return value
