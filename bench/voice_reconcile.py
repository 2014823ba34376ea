"""Benchmark: cold-start reconcile of a voice spool holding N finished recordings.

The spool has N sidecars (complete, as the hangup handler leaves them) and N distinct
1-second 8 kHz WAV files (16 KB each; min_seconds = 0.5), nothing in the database.  Measured:

- baseline: list ``incoming/`` and read every sidecar and WAV (what any scan must do),
  with the same concurrency, no intake;
- reconcile: ``RecordingIngest.reconcile()`` from a fresh gateway: read, check length and
  silence, submit through core.intake (case + message + attachment stored on disk),
  move both files to done/;
- rescan: a second reconcile over the now-empty incoming/ (what every periodic pass costs).

    .venv/bin/python bench/voice_reconcile.py [--n 10000] [--pg postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.channels.voice.recordings import RecordingIngest
from gateway.channels.voice.spool import SpoolPaths
from gateway.core.config import parse_config
from gateway.core.runtime import running_context
from tests.peers.voice_dialplan import wav_container


def wav_bytes(seed: int) -> bytes:
    # noise: loud enough, distinct per call, and cheap for 10,000 files
    return wav_container(random.Random(seed).randbytes(16000))


def fill_spool(incoming: Path, n: int) -> None:
    incoming.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    for i in range(n):
        uid = f"{now - 3600}.{i}"
        (incoming / f"{uid}.wav").write_bytes(wav_bytes(i))
        mobile = f"0912{i:07d}"
        (incoming / f"{uid}.meta").write_text(
            f"uniqueid={uid}\ncallerid={mobile}\ncategory={1 + i % 5}\nstarted={now - 3600}\n"
            f"status=SILENCE\nended={now - 3570}\n",
            encoding="utf-8",
        )


async def baseline(ingest: RecordingIngest) -> int:
    """List and read everything a scan reads, with the reconcile's concurrency."""
    names = await asyncio.to_thread(ingest._list)
    gate = asyncio.Semaphore(ingest.voice.reconcile_concurrency)

    async def one(uid: str) -> int:
        async with gate:
            loaded = await asyncio.to_thread(ingest._load, uid)
            return len(loaded.audio or b"") if loaded else 0

    return sum(await asyncio.gather(*(one(u) for u in names)))


async def main(n: int, pg: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = pg or f"sqlite+aiosqlite:///{tmp}/gw.db"
        cfg = parse_config(
            {
                "gateway": {"database_url": url, "data_dir": f"{tmp}/var"},
                "units": [{"code": "oversight", "name": "o"}, {"code": "pr", "name": "p"}],
                "routing": {"default_unit": "pr"},
                "voice": {
                    "enabled": True,
                    "spool_dir": f"{tmp}/spool",
                    "min_seconds": 0.5,
                    "reconcile_concurrency": int(os.environ.get("CONC", "16")),
                },
            },
            Path(tmp),
        )
        spool = SpoolPaths.from_config(cfg)
        t0 = time.perf_counter()
        fill_spool(spool.incoming, n)
        spool.create()
        print(f"spool of {n} recordings written in {time.perf_counter() - t0:.1f} s")
        os.sync()
        async with running_context(cfg, dispatch=False) as ctx:
            ingest = RecordingIngest(ctx, spool)
            t0 = time.perf_counter()
            size = await baseline(ingest)
            base = time.perf_counter() - t0
            print(
                f"baseline  list+read {n} sidecars and WAVs ({size / 2**20:.0f} MiB): {base:.2f} s ({n / base:,.0f}/s)"
            )
            t0 = time.perf_counter()
            outcomes = await ingest.reconcile()
            full = time.perf_counter() - t0
            print(
                f"reconcile cold start: {full:.2f} s ({n / full:,.0f} recordings/s), "
                f"{dict(outcomes)}, intake batches {ctx.intake.batches}"
            )
            t0 = time.perf_counter()
            again = await ingest.reconcile()
            print(f"rescan (nothing left): {(time.perf_counter() - t0) * 1000:.1f} ms {dict(again)}")
            print(f"ratio reconcile/baseline: {full / base:.1f}x  database: {ctx.db.dialect}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--pg", default=None)
    a = p.parse_args()
    asyncio.run(main(a.n, a.pg))
