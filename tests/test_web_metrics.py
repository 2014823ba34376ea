"""/metrics counts every answered request by status when the app is served as `gateway run`
serves it (app_runner), without a middleware on every request."""

import re

import aiohttp
from aiohttp import web

from gateway.web.app import app_runner, create_app
from tests.peers import free_port


def served(text: str, status: str) -> float:
    found = re.search(rf'^gateway_http_requests_total{{status="{status}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_requests_are_counted_by_status(ctx):
    port = free_port()
    runner = app_runner(create_app(ctx))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            before = await (await http.get("/metrics")).text()
            for path in ("/healthz", "/healthz", "/no-such-page"):
                (await http.get(path)).release()
            after = await (await http.get("/metrics")).text()
    finally:
        await runner.cleanup()
    assert served(after, "200") - served(before, "200") == 3  # two health checks and one /metrics
    assert served(after, "404") - served(before, "404") == 1
