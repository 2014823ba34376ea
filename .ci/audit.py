"""Dependency audit for CI: pip-audit over the test venv, and a plain sentence on what it
could and could not check.

Exit 1 only for a known vulnerability in an installed package.  A vulnerability database
that cannot be reached, or that knows none of the installed versions (a machine that
installs from a local mirror of PyPI), is said plainly and is not a failure: there is
nothing to fix in the code for it.  Run with the venv's python: ``python .ci/audit.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NETWORK_WORDS = (
    "ConnectionError",
    "Max retries",
    "NameResolution",
    "resolve host",
    "ServiceError",
    "Temporary failure in name resolution",
    "timed out",
    "SSLError",
)


def run_pip_audit() -> subprocess.CompletedProcess[str] | None:
    exe = Path(sys.executable).with_name("pip-audit")
    if not exe.exists():
        print("dependency audit: NOT DONE: pip-audit is not installed in this venv (pip install -e '.[test]')")
        return None
    try:
        return subprocess.run(
            [str(exe), "--skip-editable", "--format", "json", "--progress-spinner", "off"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        print("dependency audit: NOT DONE: the vulnerability database did not answer within 600 s")
        return None


def main() -> int:
    done = run_pip_audit()
    if done is None:
        return 0
    try:
        report = json.loads(done.stdout)
    except ValueError:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        if any(w in done.stderr for w in NETWORK_WORDS):
            print(f"dependency audit: NOT DONE: the vulnerability database cannot be reached from here ({reason})")
            return 0
        print(f"dependency audit: pip-audit failed: {reason}")
        return 1
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = [d for d in deps if not d.get("skip_reason")]
    vulnerable = [(d, v) for d in audited for v in d.get("vulns", [])]
    for d, v in vulnerable:
        fixes = ", ".join(v.get("fix_versions", [])) or "no fixed version yet"
        print(f"dependency audit: {d['name']} {d['version']}: {v['id']} (fixed in: {fixes})")
    if vulnerable:
        print(f"dependency audit: FAILED: {len(vulnerable)} known vulnerability(ies)")
        return 1
    if not audited:
        print(
            f"dependency audit: NOT DONE: the vulnerability database (PyPI's) knows none of the "
            f"{len(skipped)} installed package versions (this machine installs from a local mirror), "
            f"so nothing could be checked"
        )
        return 0
    print(
        f"dependency audit: {len(audited)} package(s) checked, no known vulnerabilities"
        + (f"; {len(skipped)} unknown to the database: {', '.join(d['name'] for d in skipped)}" if skipped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
