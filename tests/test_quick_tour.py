"""README's quick tour runs as written on a fresh copy of the repository.

The shell blocks marked ``<!-- quick-tour -->`` in README.md are run in order, in one bash,
in a copy of the tracked files whose ``.venv`` is the one running these tests (so nothing is
installed again).  The tour uses the out-of-the-box ports 8080 and 2525, as a reader would.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- quick-tour -->"


def tour_blocks(readme: str) -> list[str]:
    """The shell blocks that follow a quick-tour marker, in order."""
    return re.findall(re.escape(MARKER) + r"\s*```sh\n(.*?)```", readme, flags=re.S)


def copy_tracked_files(target: Path) -> None:
    """Copy the files git tracks (as a fresh clone would have them), keeping mtimes."""
    names = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    )
    archive = target.with_suffix(".tar")
    with tarfile.open(archive, "w") as tar:
        for name in filter(None, names):
            if (ROOT / name).exists():
                tar.add(ROOT / name, arcname=name, recursive=False)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="tar")
    archive.unlink()


def session_members(sid: int) -> list[int]:
    """Every process of a session (the tour's ``make run &`` gets a process group of its own)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # after "pid (comm)": state ppid pgrp session
            pids.append(int(stat.parent.name))
    return pids


def stop_session(sid: int) -> None:
    """TERM, then KILL, everything the tour started; nothing outlives the test."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in session_members(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while session_members(sid) and time.monotonic() < deadline:
            time.sleep(0.2)


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_readme_has_the_two_tour_blocks() -> None:
    blocks = tour_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 2
    assert blocks[0].lstrip().startswith("make init")


@pytest.mark.skipif(
    shutil.which("git") is None or shutil.which("make") is None,
    reason="git and make are needed to copy the repository and run the tour",
)
def test_quick_tour_runs_as_written(tmp_path: Path) -> None:
    busy = [p for p in (8080, 2525) if port_in_use(p)]
    assert not busy, f"the quick tour needs ports {busy} free (another gateway is running?)"
    repo = tmp_path / "clone"
    repo.mkdir()
    copy_tracked_files(repo)
    (repo / ".venv").symlink_to(Path(sys.prefix))
    stamp = Path(sys.prefix) / ".installed"
    if stamp.exists():  # the venv running us is the installed one: make must not rebuild it
        older = stamp.stat().st_mtime - 1
        os.utime(repo / "pyproject.toml", (older, older))
    script = "set -euo pipefail\nset -m\n" + "\n".join(tour_blocks((repo / "README.md").read_text(encoding="utf-8")))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "VIRTUAL_ENV"))}
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=repo,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        stop_session(proc.pid)
        out, _ = proc.communicate()
        pytest.fail(f"the quick tour did not finish in 240 s:\n{out}")
    finally:
        stop_session(proc.pid)
    log = repo / "var" / "run.log"
    detail = out + ("\n--- var/run.log ---\n" + log.read_text() if log.exists() else "")
    assert proc.returncode == 0, detail
    assert "config OK" in out, detail
    assert "exit 3: no such case yet" in out, detail
    assert '"answered"' in out, detail
    assert list((repo / "var" / "outbox" / "email").iterdir()), detail
