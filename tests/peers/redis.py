"""A private redis-server on a Unix socket in a temp folder (no TCP port at all), for the
Redis backend of the shared limits.  Stopped with SIGTERM afterwards."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.peers import require_binary


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Run redis-server; yield its ``unix://`` URL."""
    binary = require_binary("redis-server", "redis-server")
    with tempfile.TemporaryDirectory(prefix="gw-redis-") as tmp:
        sock = Path(tmp) / "redis.sock"
        proc = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            end = time.monotonic() + 20
            while not sock.exists():
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            yield f"unix://{sock}"
        finally:
            proc.terminate()
            proc.wait(10)
