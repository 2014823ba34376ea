"""core.first_stats (PostgreSQL, whatever database the suite runs on): a new install's
busy tables are analysed once they hold rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from gateway.core import first_stats
from gateway.core.db import Database
from tests.peers import eventually, private_pg_database


async def analysed(db: Database, table: str) -> Any:
    async with db.engine.connect() as conn:
        row = await conn.execute(text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :t"), {"t": table})
        return row.scalar()


async def test_a_busy_table_gets_statistics_once_it_holds_rows() -> None:
    async with private_pg_database("gw_stats") as url:
        db = Database(url)
        try:
            await db.migrate()
            assert await analysed(db, "audit_events") is None
            # below the threshold: nothing analysed, the table still waits
            assert "audit_events" in await first_stats.analyse_new_tables(db, min_rows=50)
            assert await analysed(db, "audit_events") is None
            async with db.engine.connect() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO audit_events (actor, action, detail, at) "
                        "SELECT 'system', 'test', '{}', now() FROM generate_series(1, 60)"
                    )
                )
                await conn.commit()

            async def taken() -> Any:
                # the counts reach pg_stat_user_tables within a second or so
                waiting = await first_stats.analyse_new_tables(db, min_rows=50)
                return "audit_events" not in waiting and await analysed(db, "audit_events")

            await eventually(taken, "the table is analysed", 20)
        finally:
            await db.dispose()
