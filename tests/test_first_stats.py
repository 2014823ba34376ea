"""core.first_stats: a new PostgreSQL install's busy tables are analysed once they hold rows."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from gateway.core import first_stats
from gateway.core.context import GatewayContext
from tests.peers import eventually


async def analysed(ctx: GatewayContext, table: str) -> Any:
    async with ctx.db.engine.connect() as conn:
        row = await conn.execute(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :t"),
            {"t": table},
        )
        return row.scalar()


async def test_a_busy_table_gets_statistics_once_it_holds_rows(ctx: GatewayContext) -> None:
    if ctx.db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite's planner needs no statistics here")
    async with ctx.db.engine.connect() as conn:
        await conn.execute(text("DELETE FROM audit_events"))
        await conn.execute(text("SELECT pg_stat_reset_single_table_counters('audit_events'::regclass)"))
        await conn.commit()
    assert await analysed(ctx, "audit_events") is None
    # below the threshold: nothing analysed, the table still waits
    assert "audit_events" in await first_stats.analyse_new_tables(ctx.db, min_rows=50)
    async with ctx.db.engine.connect() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_events (actor, action, detail, at) SELECT 'system', 'test', '{}', now() FROM generate_series(1, 60)"
            )
        )
        await conn.commit()

    async def taken() -> Any:
        # the counters reach pg_stat_user_tables within a second or so
        waiting = await first_stats.analyse_new_tables(ctx.db, min_rows=50)
        return "audit_events" not in waiting and await analysed(ctx, "audit_events")

    await eventually(taken, "the table is analysed", 20)
