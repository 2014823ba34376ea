"""``core.first_stats``: PostgreSQL only.  A new install's busy tables get their first
statistics as soon as they hold rows, not a minute later.

Until a table has been analysed, the planner guesses: an equality on a column matches 0.5 %
of the rows.  For the outbox, "status = 'pending'" was guessed at 3 rows while 4,000 were
waiting, so the dispatcher's claim read and sorted every pending row (8 ms a claim) instead
of walking its index to the first 20.  Autovacuum gives a table its first statistics up to
a minute after it passes its threshold (``autovacuum_naptime``); a flood in a new install's
first minute ran with plans for empty tables (bench/README.md "Scale-out").

:func:`keep_first_stats` runs in each process: every few seconds it analyses those of
:data:`BUSY_TABLES` that were never analysed and hold at least :data:`MIN_ROWS` changed
rows, and it ends once every one of them has statistics: from then on autovacuum keeps
them fresh.  Two processes analysing one table at once is harmless (the second waits for
the first, a few milliseconds).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text

from gateway.core.db import Database

log = logging.getLogger(__name__)

#: the tables a flood of submissions fills, and that are looked up while it lasts
BUSY_TABLES = ("inbound_spool", "inbound_keys", "cases", "messages", "outbox", "audit_events", "rate_counters")
MIN_ROWS = 1000
EVERY_SECONDS = 5.0

_NEVER_ANALYSED = text(
    "SELECT relname, n_mod_since_analyze FROM pg_stat_user_tables "
    "WHERE relname = ANY(:names) AND last_analyze IS NULL AND last_autoanalyze IS NULL"
)


async def analyse_new_tables(db: Database, min_rows: int = MIN_ROWS) -> set[str]:
    """Analyse the busy tables that were never analysed and now hold ``min_rows`` changed
    rows; return those still waiting for their first statistics."""
    async with db.engine.connect() as conn:
        waiting = {
            name: changed for name, changed in (await conn.execute(_NEVER_ANALYSED, {"names": list(BUSY_TABLES)})).all()
        }
        due = sorted(name for name, changed in waiting.items() if changed >= min_rows)
        for name in due:
            await conn.execute(text(f'ANALYZE "{name}"'))  # a name of BUSY_TABLES, not input
        await conn.commit()
    if due:
        log.info("first statistics taken for %s", ", ".join(due))
    return set(waiting) - set(due)


async def keep_first_stats(db: Database, every: float = EVERY_SECONDS, min_rows: int = MIN_ROWS) -> None:
    """Run :func:`analyse_new_tables` every ``every`` seconds until no busy table waits."""
    while True:
        try:
            if not await analyse_new_tables(db, min_rows):
                return
        except Exception as e:  # noqa: BLE001 - statistics are an aid: try again later
            log.warning("could not take first statistics: %s", type(e).__name__)
        await asyncio.sleep(every)
