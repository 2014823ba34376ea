"""SQLite write gate: the batch writer thread (``Database.write``) and the async write
sessions (``Database.session``) of one process take turns in FIFO order instead of racing
for the write lock in SQLite's busy handler."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from gateway.core.db import Database
from gateway.core.models import ChannelState, InboundSpool
from gateway.core.state import StateStore

SHORT_BUSY = 0.1  # seconds: a session that races the writer thread gives up quickly


@pytest_asyncio.fixture
async def lite(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database with a short busy timeout (whatever the test backend)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}", busy_timeout=SHORT_BUSY)
    await db.migrate()
    try:
        yield db
    finally:
        await db.dispose()


def _batch(source: str, hold: float = 0.01):
    """A batch-writer transaction: a few inserts, then it keeps the write lock a little."""

    def fn(s: Session) -> None:
        s.execute(
            insert(InboundSpool),
            [
                {"channel": "gate", "source": source, "external_id": f"{source}-{n}", "raw": b"x", "envelope": {}}
                for n in range(3)
            ],
        )
        time.sleep(hold)

    return fn


async def _session_insert(db: Database, label: str) -> None:
    """A write through a session (not the writer thread): one spool row labelled ``label``."""
    async with db.session() as s:
        s.add(InboundSpool(channel="gate", source=label, external_id=label, raw=b"x", envelope={}))


async def _flood(db: Database, rounds: int, per_round: int) -> list[str]:
    """Start back-to-back writer batches with a session write after every ``per_round``;
    return the labels in the order their tasks were created."""
    state, order, tasks = StateStore(db), [], []
    for r in range(rounds):
        for i in range(per_round):
            label = f"w{r}.{i}"
            order.append(label)
            tasks.append(asyncio.create_task(db.write(_batch(label))))
        label = f"s{r}"
        order.append(label)
        tasks.append(asyncio.create_task(_session_insert(db, label)))
    # more session writes of other kinds, behind the same flood
    tasks += [asyncio.create_task(state.put(f"k{r}", {"r": r})) for r in range(rounds)]
    tasks += [asyncio.create_task(state.acquire(f"lease{r}", "me", 60)) for r in range(rounds)]
    results = await asyncio.gather(*tasks)  # an OperationalError ("database is locked") fails here
    assert results[-rounds:] == [True] * rounds
    return order


async def _commit_order(db: Database) -> list[str]:
    async with db.read_session() as s:
        sources = (await s.execute(select(InboundSpool.source).order_by(InboundSpool.id))).scalars()
        return list(dict.fromkeys(sources))


async def test_sessions_take_their_turn_between_writer_batches_in_fifo_order(lite: Database) -> None:
    order = await _flood(lite, rounds=6, per_round=6)
    assert await _commit_order(lite) == order  # first come, first served
    async with lite.read_session() as s:
        assert len((await s.execute(select(ChannelState.key))).all()) == 6


async def test_flood_of_batches_and_sessions_all_commit_on_the_test_backend(db_url: str) -> None:
    db = Database(db_url)
    try:
        await _flood(db, rounds=3, per_round=4)
        async with db.read_session() as s:
            assert len((await s.execute(select(InboundSpool.id))).all()) == 3 * 4 * 3 + 3
    finally:
        await db.dispose()


async def test_busy_timeout_is_configurable(lite: Database) -> None:
    async with lite.read_engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == SHORT_BUSY * 1000
    assert Database("sqlite+aiosqlite:///unused.db").busy_timeout == 10.0


async def test_a_nested_write_transaction_raises_instead_of_waiting_for_itself(lite: Database) -> None:
    async with lite.session() as s:
        with pytest.raises(RuntimeError, match="write gate"):
            async with lite.session():
                pass
        with pytest.raises(RuntimeError, match="write gate"):
            await lite.write(_batch("nested"))
        with pytest.raises(RuntimeError, match="write gate"):
            async with lite.begin():
                pass
        async with lite.read_session() as r:  # readers never take the gate
            assert (await r.execute(select(InboundSpool.id))).all() == []
        s.add(ChannelState(key="outer", value={}))
    await StateStore(lite).put("after", {})  # the gate was handed back
    assert await StateStore(lite).get("outer") == {}


async def test_a_cancelled_write_keeps_the_gate_until_its_thread_commits(lite: Database) -> None:
    started = threading.Event()

    def slow(s: Session) -> None:
        s.execute(insert(InboundSpool).values(channel="gate", source="cancelled", raw=b"x", envelope={}))
        started.set()  # the insert began the transaction: this thread holds the write lock
        time.sleep(5 * SHORT_BUSY)

    task = asyncio.create_task(lite.write(slow))
    await asyncio.to_thread(started.wait)
    task.cancel()
    await StateStore(lite).put("next", {"ok": True})  # would hit the busy timeout if let in early
    assert task.cancelled()
    assert await _commit_order(lite) == ["cancelled"]  # the thread could not be stopped


async def test_tasks_started_inside_a_session_wait_instead_of_raising(lite: Database) -> None:
    state = StateStore(lite)
    async with lite.session() as s:
        child = asyncio.create_task(state.put("child", {}))  # another task: it queues
        s.add(ChannelState(key="parent", value={}))
    await child
    assert await state.get("child") == {} and await state.get("parent") == {}
