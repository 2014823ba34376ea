"""``gateway import-eml PATH...``: take in .eml files and maildirs (migration from an old
mailbox), idempotent by Message-ID, with a progress bar and a summary.

Imported mail is history: no acknowledgements are sent unless asked (``--ack``).  Mails are
submitted in windows of concurrent submissions so the intake writer group-commits them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable

WINDOW = 200  # concurrent submissions: one or two intake commits per window


def find_mails(paths: list[str]) -> list[Path]:
    """Every mail under the given paths: .eml files, maildirs (cur/ and new/), folders."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            found.append(p)
        elif (p / "cur").is_dir() or (p / "new").is_dir():
            found += [f for sub in ("new", "cur") if (p / sub).is_dir()
                      for f in sorted((p / sub).iterdir()) if f.is_file()]
        elif p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in (".eml", ".msg", ""))
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return found


def _chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


async def import_mails(ctx: GatewayContext, files: list[Path], acknowledge: bool = False,
                       show_progress: bool = True) -> Counter[str]:
    """Ingest ``files``; return a count per outcome (plus ``error``)."""
    intake = MailIntake(ctx)
    summary: Counter[str] = Counter()
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        task = progress.add_task("import", total=len(files))
        for chunk in _chunks(files, WINDOW):
            raws = await asyncio.gather(*(asyncio.to_thread(f.read_bytes) for f in chunk))
            results = await asyncio.gather(
                *(intake.ingest(raw, Envelope("import", acknowledge=acknowledge)) for raw in raws),
                return_exceptions=True)
            for result in results:
                if isinstance(result, DatabaseUnavailable):
                    raise result
                summary["error" if isinstance(result, BaseException) else result.outcome.value] += 1
            progress.advance(task, len(chunk))
    return summary
