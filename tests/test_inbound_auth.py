"""Every inbound surface is authenticated or the gateway refuses to start (issue 18, item 13).

A case table of configs -> the one problem line (or none), then the real command:
``gateway check-config`` and ``gateway run`` exit 2 with that line and no traceback, and
with the secret in the environment the same config runs; webhooks on their own listener
leave the public one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import encode_basic_auth

from gateway.core.config import inbound_problems, parse_config
from tests.peers import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "kannel-callback-secret-9f3"

# (config overrides, environment, expected problem substring or None)
CASES = [
    pytest.param({}, {}, None, id="file-provider-has-no-webhook"),
    pytest.param({"sms": {"provider": "kannel"}}, {}, "GATEWAY_KANNEL_CALLBACK_TOKEN", id="kannel-no-secret"),
    pytest.param(
        {"sms": {"provider": "kannel"}},
        {"GATEWAY_KANNEL_CALLBACK_TOKEN": ""},
        "GATEWAY_KANNEL_CALLBACK_TOKEN",
        id="kannel-empty-secret",
    ),
    pytest.param({"sms": {"provider": "kannel"}}, {"GATEWAY_KANNEL_CALLBACK_TOKEN": SECRET}, None, id="kannel-secret"),
    pytest.param(
        {"sms": {"provider": "kannel", "kannel": {"callback_token_env": ""}}},
        {},
        "callback_token_env is empty",
        id="kannel-secret-variable-unnamed",
    ),
    pytest.param({"sms": {"provider": "kannel", "allow_from": ["10.1.2.3"]}}, {}, None, id="kannel-allowlist"),
    pytest.param(
        {"sms": {"provider": "kavenegar"}}, {}, "GATEWAY_KAVENEGAR_FORWARD_TOKEN", id="kavenegar-forward-no-token"
    ),
    pytest.param(
        {"sms": {"provider": "kavenegar"}}, {"GATEWAY_KAVENEGAR_FORWARD_TOKEN": "t"}, None, id="kavenegar-forward-token"
    ),
    pytest.param(
        {"sms": {"provider": "kavenegar", "kavenegar": {"inbound": "poll"}}},
        {},
        None,
        id="kavenegar-polling-has-no-webhook",
    ),
    pytest.param(
        {"sms": {"provider": "kavenegar", "allow_from": ["2001:db8::/32"]}}, {}, None, id="kavenegar-allowlist"
    ),
    pytest.param({"sms": {"provider": "generic"}}, {}, "GATEWAY_SMS_WEBHOOK_SECRET", id="generic-no-secret"),
    pytest.param(
        {"sms": {"provider": "generic", "allow_from": ["10.0.0.0/8"]}},
        {},
        "GATEWAY_SMS_WEBHOOK_SECRET",
        id="generic-allowlist-is-not-enough",
    ),
    pytest.param({"sms": {"provider": "generic"}}, {"GATEWAY_SMS_WEBHOOK_SECRET": "s"}, None, id="generic-secret"),
    pytest.param({"voice": {"enabled": True, "agi": {"host": "0.0.0.0"}}}, {}, "voice.agi", id="agi-on-all-addresses"),
    pytest.param({"voice": {"enabled": True, "agi": {"host": "127.0.0.1"}}}, {}, None, id="agi-on-loopback"),
    pytest.param(
        {"voice": {"enabled": True, "agi": {"host": "0.0.0.0", "enabled": False}}}, {}, None, id="agi-disabled"
    ),
    pytest.param(
        {"voice": {"enabled": True, "agi": {"host": "0.0.0.0", "allow_from": ["10.0.0.5"]}}},
        {},
        None,
        id="agi-beyond-loopback-with-allowlist",
    ),
]
SECRET_VARIABLES = ("GATEWAY_KANNEL_CALLBACK_TOKEN", "GATEWAY_KAVENEGAR_FORWARD_TOKEN", "GATEWAY_SMS_WEBHOOK_SECRET")


@pytest.mark.parametrize("over, env, problem", CASES)
def test_inbound_problems(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, over: dict[str, Any], env: dict[str, str], problem: str | None
) -> None:
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    problems = inbound_problems(parse_config(over, tmp_path))
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_allow_from_must_be_addresses(tmp_path: Path) -> None:
    from gateway.core.config import ConfigError

    with pytest.raises(ConfigError, match=r"sms.allow_from.1: .*not an IP address or network: 'kannel.local'"):
        parse_config({"sms": {"allow_from": ["10.0.0.1", "kannel.local"]}}, tmp_path)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
    return {**env, **extra}


def gateway(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )


def write_config(tmp_path: Path, db_url: str, extra: str) -> tuple[str, int]:
    port = free_port()
    path = tmp_path / "gw.toml"
    path.write_text(
        f'''
[gateway]
database_url = "{db_url}"
data_dir = "var"
[http]
port = {port}
[email.smtp]
enabled = false
[[units]]
code = "oversight"
name = "حراست"
{extra}
''',
        encoding="utf-8",
    )
    return str(path), port


KANNEL = '[sms]\nprovider = "kannel"\n'


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_the_command_refuses_an_open_kannel_webhook(tmp_path: Path, db_url: str, command: str) -> None:
    conf, _ = write_config(tmp_path, db_url, KANNEL)
    r = gateway("--config", conf, command, env=clean_env())
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("gateway: config error: sms.kannel: the Kannel callbacks")
    assert "GATEWAY_KANNEL_CALLBACK_TOKEN" in r.stderr and "sms.allow_from" in r.stderr


def get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code


def wait_up(url: str, proc: subprocess.Popen[str]) -> None:
    """Until ``url`` answers; a loaded machine may take a while (not a speed test)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited: {proc.communicate()[1][-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_with_the_secret_it_runs_and_webhooks_get_their_own_listener(tmp_path: Path, db_url: str) -> None:
    """Secret from the environment; [http.webhooks] moves /sms/... off the public port."""
    hook_port = free_port()
    conf, port = write_config(tmp_path, db_url, KANNEL + f'[http.webhooks]\nhost = "127.0.0.1"\nport = {hook_port}\n')
    assert (
        gateway("--config", conf, "check-config", env=clean_env(GATEWAY_KANNEL_CALLBACK_TOKEN=SECRET)).returncode == 0
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", conf, "run", "--only", "http,sms"],
        cwd=ROOT,
        env=clean_env(GATEWAY_KANNEL_CALLBACK_TOKEN=SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", proc)
        wait_up(f"http://127.0.0.1:{hook_port}/healthz", proc)
        mo = "/sms/kannel/mo?from=09121234567&to=30001234&id=l-1&text=x"
        assert get(f"http://127.0.0.1:{port}{mo}", {"Authorization": encode_basic_auth("kannel", SECRET)}) == 404
        assert get(f"http://127.0.0.1:{hook_port}{mo}") == 401
        assert get(f"http://127.0.0.1:{hook_port}{mo}", {"Authorization": encode_basic_auth("kannel", SECRET)}) == 200
        assert get(f"http://127.0.0.1:{hook_port}/track") == 404  # citizen pages stay on the public port
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and SECRET not in err


@pytest.mark.parametrize(
    "allow_from, served",
    [
        pytest.param([], True, id="no-list-loopback"),
        pytest.param(["127.0.0.1"], True, id="listed"),
        pytest.param(["10.0.0.0/8"], False, id="not-listed"),
    ],
)
async def test_fastagi_serves_only_listed_peers(allow_from: list[str], served: bool) -> None:
    import asyncio

    from gateway.channels.voice.agi import AgiServer, AgiSession

    calls: list[str] = []

    async def route(session: AgiSession) -> None:
        calls.append(session.script)

    server = AgiServer({"case-status": route}, allow_from=allow_from)
    await server.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"agi_network_script: case-status\nagi_callerid: 09121234567\n\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed either way, no command sent
        except ConnectionResetError:
            assert not served  # refused before it read what we sent
        writer.close()
    finally:
        await server.stop()
    assert calls == (["case-status"] if served else [])
