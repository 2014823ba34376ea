"""The closed-loop HTTP load driver the web benchmarks share (and how their servers serve): ``connections`` clients, each
sending its next request as soon as the last one was answered, and a helper that starts a
benchmark's server (the same script with ``--serve KIND PORT WORKDIR``) in its own process.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

Request = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]  # (session, n) -> answered as expected


async def closed_loop(request: Request, seconds: float, connections: int) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, errors) for ``seconds`` of closed-loop load."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            if not await request(session, next(counter)):
                errors += 1
            latencies.append(time.perf_counter() - t0)

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections), timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return len(latencies) / elapsed, pick(0.50), pick(0.99), errors


async def start_server(script: str, kind: str, port: int, workdir: str) -> asyncio.subprocess.Process:
    """Run ``script --serve KIND PORT WORKDIR`` and wait until it accepts connections."""
    proc = await asyncio.create_subprocess_exec(sys.executable, script, "--serve", kind, str(port), workdir)
    for _ in range(300):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return proc
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{kind} server did not start")


async def run_app(app: web.Application, port: int) -> None:
    """Serve ``app`` on loopback the way ``gateway run`` does, until the process is stopped."""
    from gateway.web.app import app_runner

    runner = app_runner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
