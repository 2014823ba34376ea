"""``gateway import-eml PATH...``: take in .eml files and maildirs (migration from an old
mailbox), idempotent by Message-ID, with a progress bar and a summary.

Imported mail is history: no acknowledgements are sent unless asked (``--ack``).  Mails are
submitted in windows of concurrent submissions so the intake writer group-commits them.
A folder is read whole, whatever the file names (mail saved by hand has every name); a file
that does not look like a mail, and a mail that fails, is reported by name, never skipped
silently.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable

WINDOW = 200  # concurrent submissions: one or two intake commits per window
# A mail starts with a header field (RFC 5322 section 2.2), an mbox "From " line, or the
# blank line that ends an empty header section
_MAIL_START = re.compile(rb"\A(\r?\n|[ \t\r\n]*(From |[\x21-\x39\x3b-\x7e]{1,76}:))")


@dataclass(slots=True)
class ImportReport:
    """Counts per outcome, and each file that was not taken in, with why."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[Path, str]] = field(default_factory=list)


def looks_like_mail(raw: bytes) -> bool:
    """True if ``raw`` starts like an RFC 5322 message."""
    return bool(_MAIL_START.match(raw[:1024]))


def find_mails(paths: list[str]) -> list[Path]:
    """Every mail under the given paths: .eml files, maildirs (cur/ and new/), folders."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            found.append(p)
        elif (p / "cur").is_dir() or (p / "new").is_dir():
            found += [
                f for sub in ("new", "cur") if (p / sub).is_dir() for f in sorted((p / sub).iterdir()) if f.is_file()
            ]
        elif p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file())
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return found


def _chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def import_mails(
    ctx: GatewayContext, files: list[Path], acknowledge: bool = False, show_progress: bool = True
) -> ImportReport:
    """Ingest ``files``; count each outcome (plus ``not_mail`` and ``error``, named in
    ``problems``)."""
    intake = MailIntake(ctx)
    report = ImportReport()
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        task = progress.add_task("import", total=len(files))
        for chunk in _chunks(files, WINDOW):
            raws = await asyncio.gather(*(asyncio.to_thread(f.read_bytes) for f in chunk))
            mails = [(f, raw) for f, raw in zip(chunk, raws) if looks_like_mail(raw)]
            for f, raw in zip(chunk, raws):
                if not looks_like_mail(raw):
                    report.counts["not_mail"] += 1
                    report.problems.append((f, "not a mail"))
            results = await asyncio.gather(
                *(intake.ingest(raw, Envelope("import", acknowledge=acknowledge)) for _, raw in mails),
                return_exceptions=True,
            )
            for (f, _), result in zip(mails, results):
                if isinstance(result, DatabaseUnavailable):
                    raise result
                if isinstance(result, BaseException):  # the type only: messages may hold data
                    report.counts["error"] += 1
                    report.problems.append((f, f"error ({type(result).__name__})"))
                else:
                    report.counts[result.outcome.value] += 1
            progress.advance(task, len(chunk))
    return report
