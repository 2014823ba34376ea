"""`gateway staff passwd|revoke|list` and `gateway report`, run as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.test_cli import ROOT, conf, gateway


@pytest.fixture
def cfg(conf):
    path = conf()
    assert gateway("--config", path, "init").returncode == 0
    return path


def test_passwd_list_and_revoke(cfg):
    token = gateway("--config", cfg, "staff", "add", "Leila", "--unit", "pr").stdout.strip()
    short = subprocess_input(cfg, "short\n", "staff", "passwd", "Leila")
    assert short.returncode == 2 and "at least" in short.stderr
    ok = subprocess_input(cfg, "a long enough password\n", "staff", "passwd", "Leila")
    assert ok.returncode == 0, ok.stderr
    listing = gateway("--config", cfg, "staff", "list").stdout
    assert "Leila" in listing and "yes" in listing
    assert gateway("--config", cfg, "staff", "revoke", "--token", token).stdout.strip() == "token revoked"
    again = gateway("--config", cfg, "staff", "revoke", "--token", token)
    assert again.returncode == 3
    assert gateway("--config", cfg, "staff", "revoke", "Nobody").returncode == 3


def test_report_table_and_csv(cfg):
    table = gateway("--config", cfg, "report")
    assert table.returncode == 0 and "median_first_response_hours" in table.stdout
    csv_out = gateway("--config", cfg, "report", "--csv", "--unit", "pr", "--days", "30")
    assert csv_out.returncode == 0
    assert csv_out.stdout.splitlines()[:2] == ["scope,section,key,value", "pr,cases,total,0"]
    assert gateway("--config", cfg, "report", "--unit", "nowhere").returncode == 3


def subprocess_input(cfg, text, *args):
    """Run the CLI with ``text`` on stdin (how passwd reads a password without a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", "--config", cfg, *args],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=60,
    )
