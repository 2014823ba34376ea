"""Benchmark: ``gateway import-eml`` of a 1,000-mail corpus (``bench/corpus.py``),
timed as whole processes, start-up subtracted the same way as the django-helpdesk peer
script does it (a run on an empty folder is the start-up baseline).

  .venv/bin/python bench/email_import.py [--corpus DIR] [--n 1000] [--rounds 3] [--database URL]

Without ``--corpus`` the corpus is generated with ``bench/corpus.py`` (seeded).  Each
round runs ``gateway import-eml`` on a fresh SQLite database (or a truncated PostgreSQL one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "bench" / "corpus.py"
CONFIG = """
[gateway]
database_url = "{db}"
data_dir = "{data}"
[email.smtp]
enabled = false
[[units]]
code = "pr"
name = "روابط عمومی"
[[units]]
code = "oversight"
name = "بازرسی"
"""


def run_import(folder: Path, database: str | None, ack: bool = False) -> tuple[float, float]:
    """One ``gateway import-eml`` process on a fresh database: (wall seconds, peak RSS MiB)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    db = database or f"sqlite+aiosqlite:///{tmp}/gw.db"
    (tmp / "gateway.toml").write_text(CONFIG.format(db=db, data=tmp / "var"), encoding="utf-8")
    env = dict(os.environ, GATEWAY_SECRET_KEY="bench-only")
    if database:
        subprocess.run([sys.executable, "-c", _TRUNCATE, database], check=True, cwd=ROOT)
    subprocess.run(
        [sys.executable, "-m", "gateway", "-c", str(tmp / "gateway.toml"), "migrate"],
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
    )
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "-c",
            str(tmp / "gateway.toml"),
            "import-eml",
            "--quiet",
            *(["--ack"] if ack else []),
            str(folder),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"import failed: {out}")
    if folder.name != "empty":
        print("   ", out.strip())
    shutil.rmtree(tmp, ignore_errors=True)
    return wall, usage.ru_maxrss / 1024


_TRUNCATE = """
import asyncio, sys
from sqlalchemy import text
from gateway.core.db import Database
from gateway.core.models import Base
async def main(url):
    db = Database(url)
    await db.migrate()
    async with db.engine.begin() as c:
        await c.execute(text("TRUNCATE " + ", ".join(t.name for t in Base.metadata.sorted_tables) + " RESTART IDENTITY CASCADE"))
    await db.dispose()
asyncio.run(main(sys.argv[1]))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--database", default=None)
    ap.add_argument("--ack", action="store_true", help="also send (write) an acknowledgement per new case")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    corpus = args.corpus
    if corpus is None:
        corpus = work / "corpus"
        subprocess.run([sys.executable, str(GEN), "--out", str(corpus), "--n", str(args.n)], check=True)
    empty = work / "empty"
    empty.mkdir()
    n = sum(1 for f in corpus.iterdir() if f.suffix == ".eml")
    rates, peaks = [], []
    for r in range(args.rounds):
        base, _ = run_import(empty, args.database, args.ack)
        wall, peak = run_import(corpus, args.database, args.ack)
        rates.append(n / (wall - base))
        peaks.append(peak)
        print(
            f"round {r + 1}: {wall:.2f} s wall, start-up {base:.2f} s -> {rates[-1]:.0f} mails/s, peak RSS {peak:.0f} MiB"
        )
    print(
        f"import-eml: median {statistics.median(rates):.0f} mails/s over {args.rounds} rounds "
        f"({min(rates):.0f}-{max(rates):.0f}), {n} files, peak RSS {max(peaks):.0f} MiB"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
