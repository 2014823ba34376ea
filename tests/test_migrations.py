"""Migrations: up from empty on the test backend, and the models agree with them."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gateway.core.db import Database
from gateway.core.models import Base


def _diff(sync_conn):
    mc = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return compare_metadata(mc, Base.metadata)


async def test_migrations_build_every_table_and_match_the_models(db_url):
    db = Database(db_url)
    try:
        assert await db.current_revision() == Database.head_revision()
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            diff = await conn.run_sync(_diff)
    finally:
        await db.dispose()
    assert set(Base.metadata.tables) <= tables
    assert diff == [], f"models and migrations differ: {diff}"


async def test_migrate_from_empty_sqlite(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert await db.current_revision() is None
        await db.migrate()
        await db.migrate()  # idempotent
        assert await db.current_revision() == Database.head_revision()
    finally:
        await db.dispose()


def test_the_quick_head_check_agrees_with_alembic():
    """Database.migrate skips Alembic when the stored revision is this head (start-up time)."""
    from gateway.core.db import script_head

    assert script_head() == Database.head_revision()
