"""Logs never carry what citizens wrote, their contacts or tokens (issue 18, item 16).

A case table for the redaction itself, then the real gateway at DEBUG: a mail over SMTP
and a tracking lookup, and nothing of the mail (aiosmtpd's ``mail.log`` writes every line
at DEBUG) or of the SQL parameters (SQLAlchemy's engine logs them at INFO) reaches the log.
"""

from __future__ import annotations

import json
import logging
import signal
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gateway.core.logs import QUIET_LOGGERS, redact, setup_logging
from tests.peers import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "raw, leak, kept",
    [
        pytest.param('mail from "john q doe"@example.ir', "john q doe", "@example.ir", id="quoted-local-part"),
        pytest.param("mail from o'brien@example.ir", "brien", "@example.ir", id="apostrophe"),
        pytest.param("mail from team!ops@example.ir", "team", "@example.ir", id="bang"),
        pytest.param("mail from a/b.c@example.ir", "a/b", "@example.ir", id="slash"),
        pytest.param("mail from x+tag=1@example.ir", "tag", "@example.ir", id="plus-equals"),
        pytest.param("mail from علی@example.ir", "علی", "@example.ir", id="persian-local-part"),
        pytest.param("survey link /s/eyJpIjo0Mn0.Zk3x9QaL1bV7mN2pR8tW", "eyJpIjo0Mn0", "/s/", id="signed-survey-token"),
        pytest.param("csrf 9fK2mQ7xLp3RvT8wZ1yB4cN6", "9fK2mQ7xLp3RvT8wZ1yB4cN6", "csrf", id="csrf-token"),
        pytest.param("bearer gwt_Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8", "Aa1Bb2Cc3", "bearer", id="api-token"),
        pytest.param("answer-link /a/3f2a9c0d4e5b6a7f8091a2b3", "3f2a9c0d4e5b", "/a/", id="hex-token"),
    ],
)
def test_redact_cases(raw: str, leak: str, kept: str) -> None:
    out = redact(raw)
    assert leak not in out and kept in out


@pytest.mark.parametrize(
    "plain",
    [
        "gateway.channels.email.smtp_server started",
        "intake batch of 25 rows in 130 ms",
        "outbox id 48213 sent",
        "spool_first_processing_finished",
    ],
)
def test_ordinary_lines_survive(plain: str) -> None:
    assert redact(plain) == plain


def test_payload_loggers_stay_quiet_at_debug() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("DEBUG")
        assert all(logging.getLogger(name).getEffectiveLevel() == logging.WARNING for name in QUIET_LOGGERS)
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)


BODY = "متن-محرمانه-شهروند BODYMARK-7731"
SENDER = "o'brien.secret@example.ir"


def test_real_gateway_at_debug_logs_no_mail_and_no_sql_parameters(tmp_path: Path, db_url: str) -> None:
    http, smtp = free_port(), free_port()
    conf = tmp_path / "gw.toml"
    conf.write_text(
        f'''
[gateway]
database_url = "{db_url}"
data_dir = "var"
[http]
port = {http}
[email.smtp]
port = {smtp}
addresses = ["feedback@example.ir"]
mode = "direct"
[logging]
level = "DEBUG"
''',
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(conf), "run"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a loaded machine starts slowly (not a speed test)
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=2) as r:
                    assert json.load(r) == {"status": "ok"}
                break
            except OSError:
                time.sleep(0.2)
        with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
            client.sendmail(
                SENDER,
                ["feedback@example.ir"],
                (
                    f"From: {SENDER}\r\nTo: feedback@example.ir\r\nSubject: x\r\n"
                    f"Content-Type: text/plain; charset=utf-8\r\n\r\n{BODY}\r\n"
                ).encode(),
            )
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http}/track?code=1234567890", timeout=5).close()
        except urllib.error.HTTPError as e:
            assert e.code == 400  # a wrong check digit: refused before any lookup
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "DEBUG" in err or "INFO" in err, "the gateway logged at all"
    for leak in ("BODYMARK", "brien", "INSERT INTO", "SELECT ", "Content-Type: text/plain", "feedback@example.ir"):
        assert leak not in err, f"{leak!r} reached the log"
