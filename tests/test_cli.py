"""The `gateway` command: config errors, init, staff add, case show, run + /healthz."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.peers import free_port

ROOT = Path(__file__).resolve().parent.parent


def gateway(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


@pytest.fixture
def conf(tmp_path, db_url):
    def write(extra=""):
        path = tmp_path / "gw.toml"
        path.write_text(
            f'''
[gateway]
database_url = "{db_url}"
data_dir = "var"
[http]
port = {free_port()}
[email.smtp]
enabled = false
[[units]]
code = "oversight"
name = "حراست"
[[units]]
code = "pr"
name = "روابط عمومی"
{extra}
''',
            encoding="utf-8",
        )
        return str(path)

    return write


@pytest.mark.parametrize(
    "extra,expected",
    [
        pytest.param("[http]\nprot = 1", "not valid TOML", id="toml-duplicate-table"),
        pytest.param(
            "[outbox]\nmax_attempts = 0",
            "outbox.max_attempts: Input should be greater than or equal to 1",
            id="bad-value",
        ),
        pytest.param("[outbox]\nmax_attemps = 3", "outbox.max_attemps: unknown key", id="unknown-key"),
        pytest.param('[[routing.rules]]\nunit = "nowhere"', "unknown unit 'nowhere'", id="unknown-unit"),
        pytest.param("[gateway.bogus]\nx = 1", "gateway.bogus: unknown key", id="unknown-table"),
    ],
)
def test_invalid_config_is_one_clear_line_and_exit_2(conf, extra, expected):
    r = gateway("--config", conf(extra), "check-config")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.startswith("gateway: config error:")
    assert expected in r.stderr


def test_missing_config_file(tmp_path):
    r = gateway("--config", str(tmp_path / "nope.toml"), "check-config")
    assert r.returncode == 2 and "cannot read the config file" in r.stderr


def test_shipped_config_is_valid():
    r = gateway("--config", "config/gateway.toml", "check-config")
    assert r.returncode == 0, r.stderr and "config OK" in r.stdout


def test_init_staff_add_and_case_show(conf):
    c = conf()
    assert gateway("--config", c, "init").returncode == 0
    r = gateway("--config", c, "staff", "add", "Zahra", "--unit", "pr")
    assert r.returncode == 0, r.stderr
    token = r.stdout
    assert token.strip() == token.rstrip("\n") and len(token.strip()) >= 40 and "\n" not in token.strip()
    dup = gateway("--config", c, "staff", "add", "Zahra", "--unit", "pr")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    bad_unit = gateway("--config", c, "staff", "add", "Ali", "--unit", "nowhere")
    assert bad_unit.returncode == 2 and "unknown unit" in bad_unit.stderr
    assert gateway("--config", c, "case", "show", "1234567890").returncode == 2  # bad check digit
    from gateway.core import tracking

    missing = gateway("--config", c, "case", "show", tracking.generate())
    assert missing.returncode == 3 and "no case" in missing.stderr


def test_database_unreachable_is_one_line(conf):
    r = gateway(
        "--config", conf(), "migrate", env={"GATEWAY_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr and r.stderr.startswith("gateway:")


def start_run(config: str, only: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``gateway --config CONFIG run --only ONLY`` as a process of its own (output piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", config, "run", "--only", only],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_run_serves_healthz_and_stops_on_sigterm(conf):
    c = conf()
    port = int(Path(c).read_text().split("port = ")[1].split()[0])
    proc = start_run(c, "http,dispatch")
    try:
        body = None
        deadline = time.monotonic() + 90  # start-up is seconds, but CI machines get loaded
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    body = json.load(resp)
            except OSError:
                time.sleep(0.1)
        assert body == {"status": "ok"}, f"exit code {proc.poll()}"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_run_rejects_unknown_roles(conf):
    r = gateway("--config", conf(), "run", "--only", "http,fax")
    assert r.returncode == 2 and "unknown role(s) fax" in r.stderr


def _children(pid: int) -> set[int]:
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.add(int(status.parent.name))
    return found


def test_run_leaves_no_parser_process_behind(conf):
    """A mail starts the mail parser process; SIGTERM stops it with the gateway (which then
    leaves at once, without the interpreter's teardown): no orphan is left."""
    import smtplib

    smtp_port = free_port()
    c = conf()
    text = (
        Path(c)
        .read_text(encoding="utf-8")
        .replace("[email.smtp]\nenabled = false", f"[email.smtp]\nport = {smtp_port}")
    )
    Path(c).write_text(text, encoding="utf-8")
    proc = start_run(c, "email")
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as s:
                    s.sendmail("citizen@example.org", ["feedback@example.ir"], b"Subject: x\r\n\r\nchera\r\n")
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "the SMTP server never answered"
                time.sleep(0.2)
        deadline = time.monotonic() + 60
        while not (children := _children(proc.pid)):
            assert time.monotonic() < deadline, "no parser process was started"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err
    # every child ends (the multiprocessing resource tracker a moment after the gateway: it
    # leaves when its pipe closes), bounded so that an orphan fails the test
    deadline = time.monotonic() + 15
    while (left := [pid for pid in children if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child whose new parent has not reaped it yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
