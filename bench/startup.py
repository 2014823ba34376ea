"""Start-up time: ``gateway run`` until /healthz answers 200, for one or more source trees
(say, a checkout from before a change and the current one), alternating so both see the
same machine load.  The database is migrated once before the timed runs.

    .venv/bin/python bench/startup.py [--runs 7] [--tree /tmp/before --tree .]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cluster import free_port


def config(workdir: Path, port: int) -> Path:
    path = workdir / "gateway.toml"
    path.write_text(
        f'[gateway]\ndatabase_url = "sqlite+aiosqlite:///{workdir}/gw.db"\ndata_dir = "var"\n'
        f"[http]\nport = {port}\n[email.smtp]\nport = {free_port()}\n",
        encoding="utf-8",
    )
    return path


def one_run(tree: Path, conf: Path, port: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "GATEWAY_SECRET_KEY": "bench"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(conf), "run"],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"gateway exited ({proc.returncode}) in {tree}") from None
                time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tree", action="append", type=Path)
    args = ap.parse_args()
    trees = [t.resolve() for t in (args.tree or [Path(__file__).resolve().parent.parent])]
    times: dict[Path, list[float]] = {t: [] for t in trees}
    with tempfile.TemporaryDirectory(prefix="gw-start-") as tmp:
        port = free_port()
        confs = {}
        for i, tree in enumerate(trees):
            workdir = Path(tmp) / str(i)
            workdir.mkdir()
            confs[tree] = config(workdir, port)
            one_run(tree, confs[tree], port)  # migrates the database: not timed
        for _ in range(args.runs):
            for tree in trees:
                times[tree].append(one_run(tree, confs[tree], port))
    for tree, runs in times.items():
        print(
            f"{tree}: median {statistics.median(runs):.2f} s, min {min(runs):.2f} s, "
            f"max {max(runs):.2f} s over {len(runs)} runs"
        )


if __name__ == "__main__":
    main()
