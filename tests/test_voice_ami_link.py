"""The AMI client's link: capped jittered backoff, one log line per state change, a stop()
that returns in every state, and a real ``gateway run`` against a PBX refusing its secret."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.channels.voice.ami import AmiClient, AmiUnavailable
from gateway.channels.voice.ami_link import Backoff
from tests.conftest import BASE_CONFIG, merge
from tests.peers import eventually, free_port
from tests.peers.ami_sim import AMISim
from tests.peers.gateway_proc import gateway_process

AMI_LOGGER = "gateway.channels.voice.ami"


async def _true(value: bool) -> bool:
    return value


@pytest.mark.parametrize(
    "rand,failures,expected",
    [
        pytest.param(0.0, 1, 0.25, id="first-low"),
        pytest.param(1.0, 1, 0.5, id="first-high"),
        pytest.param(1.0, 4, 4.0, id="doubles"),
        pytest.param(0.0, 7, 15.0, id="cap-low-half"),
        pytest.param(1.0, 7, 30.0, id="cap-reached"),
        pytest.param(1.0, 500, 30.0, id="cap-held-forever"),
        pytest.param(0.0, 500, 15.0, id="never-below-half-cap"),
    ],
)
def test_backoff_doubles_then_holds_its_cap(rand: float, failures: int, expected: float) -> None:
    b = Backoff(base=0.5, cap=30.0, rand=lambda: rand)
    delays = [b.next_delay() for _ in range(failures)]
    assert delays[-1] == pytest.approx(expected)
    assert all(0 < d <= 30.0 for d in delays)
    b.reset()
    assert b.next_delay() == pytest.approx(0.25 + rand * 0.25)


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[AMISim]:
    s = AMISim(auth_fail_delay=0.01)
    await s.start()
    yield s
    await s.stop()


def _records(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(1 for r in caplog.records if r.name == AMI_LOGGER and text in r.getMessage())


async def test_one_log_line_per_state_change(sim: AMISim, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AMI_LOGGER)
    c = AmiClient("127.0.0.1", sim.port, "gateway", "wrong", action_timeout=3, reconnect_max=0.05)
    c.start()
    try:
        await eventually(lambda: _true(sim.login_failures >= 5), "five refused logins")
        assert c.state in ("auth_failed", "connecting")
        assert _records(caplog, "AMI login refused") == 1
        sim.users["gateway"] = "wrong"  # the operator fixes the PBX side
        assert await c.wait_connected(10)
        assert _records(caplog, "AMI logged in") == 1
        port, attempts = sim.port, c.attempts
        await sim.stop()
        await eventually(lambda: _true(c.attempts >= attempts + 4), "reconnect attempts while down")
        assert _records(caplog, "AMI connection lost") == 1
        assert _records(caplog, "AMI unreachable") == 1
        await sim.start(port)
        assert await c.wait_connected(10)
        assert _records(caplog, "AMI logged in") == 2
    finally:
        await c.stop()
    assert _records(caplog, "AMI client stopped") == 1


async def _silent_server() -> tuple[asyncio.Server, int]:
    """Accepts TCP and never says a word (no banner): a hung PBX or a wrong port."""

    async def hold(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read()
        w.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _until(c: AmiClient, check: Callable[[], bool]) -> None:
    await eventually(lambda: _true(check()), "client reached the state")


STATES: dict[str, Callable[[AmiClient, AMISim], Awaitable[None]]] = {
    "never-started": lambda c, s: _true(True),
    "connecting": lambda c, s: _until(c, lambda: c.state == "connecting"),
    "login-unanswered": lambda c, s: eventually(lambda: _true(len(s.actions("Login")) == 1), "login sent"),
    "auth-failed-backoff": lambda c, s: eventually(lambda: _true(s.login_failures >= 1), "refused"),
    "unreachable-backoff": lambda c, s: _until(c, lambda: c.state == "unreachable"),
    "connected": lambda c, s: _until(c, lambda: c.state == "connected"),
    "action-pending": lambda c, s: _until(c, lambda: c.state == "connected"),
}


@pytest.mark.parametrize("state", list(STATES))
async def test_stop_returns_promptly_in_every_state(sim: AMISim, state: str) -> None:
    server = None
    port, secret = sim.port, "s3cret"
    if state == "connecting":
        server, port = await _silent_server()
    elif state == "unreachable-backoff":
        port = free_port()
    elif state == "login-unanswered":
        sim.auth_fail_delay, secret = 60, "wrong"
    elif state == "auth-failed-backoff":
        secret = "wrong"
    c = AmiClient("127.0.0.1", port, "gateway", secret, action_timeout=60, reconnect_max=120)
    if state != "never-started":
        c.start()
    task = c._task
    await STATES[state](c, sim)
    pending = None
    if state == "action-pending":
        sim.answer_pings = False
        pending = asyncio.ensure_future(c.action("Ping", timeout=60))
        await eventually(lambda: _true(len(sim.actions("Ping")) == 1), "ping sent")
    try:
        await asyncio.wait_for(c.stop(), 5)  # a hang bound, not a speed claim
    finally:
        if server is not None:
            server.close()
    assert c.state == "stopped" and (task is None or task.done())
    if pending is not None:
        with pytest.raises(AmiUnavailable):
            await pending


async def test_gateway_run_with_wrong_ami_secret_backs_off_and_stops(tmp_path: Path, db_url: str) -> None:
    """Wrong secret for 30 s: fewer than 20 logins, one log line, exit within 5 s of SIGTERM."""
    sim = AMISim()  # refuses like Asterisk: 1 s pause, "Authentication failed", close
    await sim.start()
    config = merge(
        BASE_CONFIG,
        {
            "gateway": {"database_url": db_url, "data_dir": str(tmp_path / "var")},
            "voice": {
                "enabled": True,
                "spool_dir": str(tmp_path / "spool"),
                "ami": {"port": sim.port},
                "agi": {"port": 0},
            },
        },
    )
    try:
        async with gateway_process(config, tmp_path, only="voice", env={"GATEWAY_AMI_SECRET": "not-the-secret"}) as gw:
            await asyncio.sleep(30)
            attempts = sim.login_failures
            assert gw.proc.returncode is None, gw.output()
            began = asyncio.get_running_loop().time()
            code = await gw.terminate(limit=5)
            took = asyncio.get_running_loop().time() - began
    finally:
        await sim.stop()
    out = gw.output()
    print(f"wrong AMI secret for 30 s: {attempts} login attempts; exited {took:.2f} s after SIGTERM")
    assert 2 <= attempts < 20, out
    assert code == 0, out
    assert out.count("AMI login refused") == 1, out
    assert "Traceback" not in out and "not-the-secret" not in out
