"""The CI rule: a test that would skip for a missing peer fails under CI=true."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_probe():
    """Skips only when the outer test asks it to (GW_CI_PROBE=1); passes otherwise."""
    if os.environ.get("GW_CI_PROBE") == "1":
        pytest.skip("probe: pretend a peer is missing")


def test_a_skip_fails_under_ci():
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_ci_rule.py::test_probe"]
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"GW_CI_PROBE": "1"}
    local = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
    ci = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env={**env, "CI": "true"})
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout
    assert ci.returncode == 1 and "1 failed" in ci.stdout, ci.stdout
