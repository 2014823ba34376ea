"""core.spool: group-committed raw input, and the drainer that turns it into cases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gateway.core import spool, spool_drain
from gateway.core.context import GatewayContext
from gateway.core.db import DatabaseUnavailable
from gateway.core.messages import Channel, InboundMessage, IntakeResult, Outcome
from gateway.core.models import Case, InboundSpool
from gateway.core.spool import SpoolWriter
from gateway.core.spool_drain import SpoolDrainer
from tests.peers import eventually

CHANNEL = "sms"


def raw(i: int, text: str = "شکایت از تاخیر اتوبوس") -> bytes:
    return json.dumps({"id": f"ext-{i}", "from": f"+98912{i:07d}", "text": text}, ensure_ascii=False).encode()


def parse(data: bytes, envelope: dict[str, Any]) -> InboundMessage | None:
    """The test channel's parser: JSON in; "skip" texts are dropped; "boom" texts fail."""
    fields = json.loads(data)
    if fields["text"] == "boom":
        raise ValueError("cannot parse this row")
    if fields["text"] == "skip":
        return None
    return InboundMessage(Channel.SMS, fields["text"], external_id=fields["id"], provider="test", sender=fields["from"])


@pytest_asyncio.fixture
async def writer(ctx: GatewayContext) -> AsyncIterator[SpoolWriter]:
    w = SpoolWriter(ctx, CHANNEL)
    w.start()
    yield w
    await w.stop()


async def rows(ctx: GatewayContext) -> list[InboundSpool]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(InboundSpool).order_by(InboundSpool.id))).scalars())


async def case_count(ctx: GatewayContext) -> int:
    async with ctx.db.session() as s:
        return (await s.execute(select(func.count()).select_from(Case))).scalar_one()


async def test_concurrent_puts_share_commits(ctx: GatewayContext, writer: SpoolWriter) -> None:
    results = await asyncio.gather(*(writer.put(raw(i), "kannel", f"ext-{i}", {"n": i}) for i in range(80)))
    assert results == [False] * 80  # none a duplicate
    assert writer.batches < 80  # several requests per transaction
    stored = await rows(ctx)
    assert sorted((int(r.external_id[4:]), r.envelope["n"], r.status, r.raw) for r in stored) == [
        (i, i, "pending", raw(i)) for i in range(80)
    ]
    assert all(r.created_at.tzinfo is not None for r in stored)


async def test_puts_without_external_id_are_all_kept(ctx: GatewayContext, writer: SpoolWriter) -> None:
    results = await asyncio.gather(*(writer.put(raw(i), "kannel", None, {"n": i}) for i in range(10)))
    assert results == [False] * 10
    assert sorted(r.envelope["n"] for r in await rows(ctx)) == list(range(10))


async def test_duplicate_external_id_is_one_row(ctx: GatewayContext, writer: SpoolWriter) -> None:
    same = await asyncio.gather(*(writer.put(raw(1), "kannel", "dup-1", {}) for _ in range(5)))
    later = await writer.put(raw(1), "kannel", "dup-1", {})
    other_source = await writer.put(raw(1), "generic", "dup-1", {})
    assert same.count(False) == 1 and later is True
    assert other_source is False  # the key is (channel, source, external id)
    assert [(r.source, r.external_id) for r in await rows(ctx)] == [("kannel", "dup-1"), ("generic", "dup-1")]


async def test_failed_commit_answers_every_caller_unavailable(
    ctx: GatewayContext, writer: SpoolWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = spool._insert

    def insert_then_fail(s: Session, rows: list[dict[str, Any]]) -> Any:
        real(s, rows)  # the rows are written, then the transaction dies before its commit
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(spool, "_insert", insert_then_fail)
    results = await asyncio.gather(
        *(writer.put(raw(i), "kannel", f"f-{i}", {}) for i in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, DatabaseUnavailable) for r in results)
    assert await rows(ctx) == []
    monkeypatch.setattr(spool, "_insert", real)
    assert await writer.put(raw(1), "kannel", "f-1", {}) is False  # the retry is stored


async def test_drainer_crash_before_marking_replays_exactly_once(
    ctx: GatewayContext, writer: SpoolWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        await writer.put(raw(i), "kannel", f"ext-{i}", {})
    real_mark = spool_drain._mark

    def crash(s: Session, **kw: Any) -> None:
        raise OperationalError("UPDATE", {}, Exception("process killed"))

    monkeypatch.setattr(spool_drain, "_mark", crash)
    first = SpoolDrainer(ctx, CHANNEL, parse)
    with pytest.raises(OperationalError):
        await first.run_once()  # intake committed the cases, the rows were never marked
    assert await case_count(ctx) == 5 and {r.status for r in await rows(ctx)} == {"pending"}
    await first.stop()

    monkeypatch.setattr(spool_drain, "_mark", real_mark)
    outcomes: list[Outcome] = []
    restarted = SpoolDrainer(ctx, CHANNEL, parse, lambda sid, msg, res: outcomes.append(res.outcome))
    restarted.start()  # drains what the crash left pending, without any new put
    try:
        await eventually(lambda: _all_settled(ctx))
    finally:
        await restarted.stop()
    assert outcomes == [Outcome.DUPLICATE] * 5  # the replay found every case: none twice
    assert await case_count(ctx) == 5
    assert {(r.status, r.attempts) for r in await rows(ctx)} == {("processed", 1)}


async def _true(value: Any) -> bool:
    return bool(value)


async def _at_least(ctx: GatewayContext, n: int) -> bool:
    return await case_count(ctx) >= n


async def _all_settled(ctx: GatewayContext) -> bool:
    stored = await rows(ctx)
    return bool(stored) and all(r.status != "pending" for r in stored)


async def test_parse_failure_keeps_the_row_failed(ctx: GatewayContext, writer: SpoolWriter) -> None:
    await writer.put(raw(1), "kannel", "ok-1", {})
    await writer.put(raw(2, "boom"), "kannel", "bad-2", {})
    await writer.put(raw(3, "skip"), "kannel", "skip-3", {})
    assert await SpoolDrainer(ctx, CHANNEL, parse).run_once() == 3
    ok, bad, skipped = await rows(ctx)
    assert (ok.status, skipped.status, bad.status) == ("processed", "skipped", "failed")
    assert bad.error == "ValueError: cannot parse this row" and bad.raw == raw(2, "boom")
    assert await case_count(ctx) == 1


async def test_drainer_is_woken_by_each_commit(ctx: GatewayContext, writer: SpoolWriter) -> None:
    seen: list[tuple[str | None, IntakeResult]] = []

    async def record(sid: int, msg: InboundMessage, result: IntakeResult) -> None:
        seen.append((msg.external_id, result))

    drainer = SpoolDrainer(ctx, CHANNEL, parse, record, poll_seconds=3600)  # no polling to rely on
    drainer.start()
    try:
        await eventually(lambda: _true(drainer.passes))  # the first (empty) pass is over
        await asyncio.gather(*(writer.put(raw(i), "kannel", f"ext-{i}", {}) for i in range(30)))
        await eventually(lambda: _all_settled(ctx))
    finally:
        await drainer.stop()
    assert sorted(e for e, _ in seen) == sorted(f"ext-{i}" for i in range(30))
    assert all(r.outcome is Outcome.CREATED for _, r in seen) and await case_count(ctx) == 30


async def test_two_processes_drain_one_channel_without_sharing_a_row(
    ctx: GatewayContext, config: Any, writer: SpoolWriter
) -> None:
    """Two instances drain the same channel at once (each claims its own rows): every row
    is parsed once, by one of them, and each one made some of the cases."""
    from gateway.core.runtime import running_context

    await asyncio.gather(*(writer.put(raw(i), "kannel", f"two-{i}", {}) for i in range(60)))
    parsed_by: dict[str, list[str]] = {"a": [], "b": []}

    def parser(who: str) -> Any:
        async def parse_as(data: bytes, envelope: dict[str, Any]) -> InboundMessage | None:
            parsed_by[who].append(json.loads(data)["id"])
            # a parse that takes a moment, as a real one does: without it one instance
            # could drain all 60 rows while the other's first claim sat in SQLite's busy
            # handler (it sleeps between tries), and "each made some" failed 1 run in 10
            await asyncio.sleep(0.005)
            return parse(data, envelope)

        return parse_as

    async with running_context(config, migrate=False, dispatch=False, instance="other-process") as other:
        a = SpoolDrainer(ctx, CHANNEL, parser("a"), batch=7)
        b = SpoolDrainer(other, CHANNEL, parser("b"), batch=7)

        async def drain(d: SpoolDrainer) -> None:
            while await d.run_once():
                await asyncio.sleep(0)

        await asyncio.gather(drain(a), drain(b))
    both = parsed_by["a"] + parsed_by["b"]
    assert sorted(both) == sorted(f"ext-{i}" for i in range(60))  # each row parsed once
    assert parsed_by["a"] and parsed_by["b"]
    assert await case_count(ctx) == 60 and {r.status for r in await rows(ctx)} == {"processed"}


async def test_a_dead_instances_claims_pass_to_another_within_the_lease_time(
    ctx: GatewayContext, writer: SpoolWriter
) -> None:
    """Rows claimed by an instance that died mid-pass (no heartbeat renews its claim) are
    taken by another ``gateway.lease_seconds`` (3 s) later, not before; rows claimed by
    this instance's previous life are taken back at once."""
    from sqlalchemy import update

    for i in range(3):
        await writer.put(raw(i), "kannel", f"c-{i}", {})
    stored = await rows(ctx)
    async with ctx.db.session() as s:
        await s.execute(
            update(InboundSpool)
            .where(InboundSpool.id.in_([stored[0].id, stored[1].id]))
            .values(claimed_by="dead-instance", claimed_at=spool_now())
        )
        await s.execute(
            update(InboundSpool)
            .where(InboundSpool.id == stored[2].id)
            .values(claimed_by=ctx.leases.name, claimed_at=spool_now())
        )
        await s.commit()
    drainer = SpoolDrainer(ctx, CHANNEL, parse)
    assert await drainer.run_once() == 1  # our own previous life's row, at once; not the dead one's
    began = asyncio.get_running_loop().time()
    assert await eventually(drainer.run_once, "the dead instance's rows are taken", 15) == 2
    assert asyncio.get_running_loop().time() - began > ctx.leases.ttl - 1  # the claim was respected
    assert await case_count(ctx) == 3


async def test_a_pass_longer_than_the_lease_keeps_its_claims(ctx: GatewayContext, writer: SpoolWriter) -> None:
    """The heartbeat renews a pass's claims once they are a quarter lease old: another
    instance finds nothing to take while the pass runs on past ``gateway.lease_seconds``."""
    for i in range(3):
        await writer.put(raw(i), "kannel", f"l-{i}", {})
    release = asyncio.Event()

    async def slow(data: bytes, envelope: dict[str, Any]) -> InboundMessage | None:
        await release.wait()
        return parse(data, envelope)

    other = SpoolDrainer(ctx, CHANNEL, parse)
    other.me = "another-instance"
    long_pass = asyncio.create_task(SpoolDrainer(ctx, CHANNEL, slow).run_once())
    try:

        async def claimed() -> bool:
            return all(r.claimed_by == ctx.leases.name for r in await rows(ctx))

        await eventually(claimed, "the first pass claims the rows", 10)
        await asyncio.sleep(ctx.leases.ttl * 1.5)
        assert await other.run_once() == 0  # renewed, so not stale
    finally:
        release.set()
    assert await long_pass == 3
    assert await case_count(ctx) == 3


def spool_now() -> Any:
    from gateway.core.models import utcnow

    return utcnow()


async def test_a_clean_stop_hands_the_claims_back(ctx: GatewayContext, writer: SpoolWriter) -> None:
    from sqlalchemy import update

    await writer.put(raw(1), "kannel", "h-1", {})
    async with ctx.db.session() as s:
        await s.execute(update(InboundSpool).values(claimed_by=ctx.leases.name, claimed_at=spool_now()))
        await s.commit()
    await SpoolDrainer(ctx, CHANNEL, parse).stop()
    assert [(r.status, r.claimed_by) for r in await rows(ctx)] == [("pending", None)]


async def test_while_the_edge_is_busy_the_drainer_takes_small_batches(ctx: GatewayContext, writer: SpoolWriter) -> None:
    """Under a flood the drainer leaves the event loop to the edge: one small batch per pause;
    once the flood stops it drains the rest at full speed."""
    await asyncio.gather(*(writer.put(raw(i), "kannel", f"b-{i}", {}) for i in range(20)))
    flood = [True]
    drainer = SpoolDrainer(ctx, CHANNEL, parse, poll_seconds=3600, busy=lambda: flood[0], busy_batch=5, busy_pause=3600)
    drainer.start()
    try:
        await eventually(lambda: _at_least(ctx, 5), "the first small batch")
        assert await case_count(ctx) == 5 and drainer.passes == 1  # then the long pause
        assert writer.busy(within=30) and not writer.busy(within=0)  # a put was made (no timing: loaded CI)
        flood[0] = False
        await drainer.stop()  # cut the long pause short
        drainer.start()
        await eventually(lambda: _all_settled(ctx))
    finally:
        await drainer.stop()
    assert await case_count(ctx) == 20 and drainer.passes == 2


async def test_a_parser_that_needs_the_absent_database_leaves_the_row_pending(
    ctx: GatewayContext, writer: SpoolWriter
) -> None:
    """A parser may touch the database (mail applies delivery reports): when that is away the
    row stays pending for the next pass, and only a real parse failure tells ``on_failed``."""
    await writer.put(raw(1, "db-away"), "kannel", "p-1", {})
    await writer.put(raw(2, "boom"), "kannel", "p-2", {"from": "x"})
    told: list[tuple[int, dict[str, Any]]] = []

    def needs_db(data: bytes, envelope: dict[str, Any]) -> InboundMessage | None:
        if json.loads(data)["text"] == "db-away":
            raise DatabaseUnavailable("the database is away")
        return parse(data, envelope)

    drainer = SpoolDrainer(ctx, CHANNEL, needs_db, on_failed=lambda sid, data, env: told.append((sid, env)))
    with pytest.raises(DatabaseUnavailable):
        await drainer.run_once()
    by_id = {r.external_id: r for r in await rows(ctx)}
    assert (by_id["p-1"].status, by_id["p-2"].status) == ("pending", "failed")
    assert told == [(by_id["p-2"].id, {"from": "x"})]


async def test_two_processes_with_texts_of_one_number_make_one_case(ctx: GatewayContext, config: Any) -> None:
    """Texts of one number written at the same moment by two processes (two drainers, or two
    web processes) thread onto one case: intake serialises its writers per contact."""
    from gateway.core.runtime import running_context

    def text_of(n: int, k: int) -> InboundMessage:
        return InboundMessage(
            Channel.SMS,
            f"پیام {k}",
            external_id=f"race-{n}-{k}",
            provider="test",
            sender=f"+98912700{n:04d}",
            thread_by_contact=True,
        )

    async with running_context(config, migrate=False, dispatch=False, instance="other-process") as other:
        for n in range(30):  # the two texts of a number go in at once, one through each process
            await asyncio.gather(ctx.intake.submit(text_of(n, 1)), other.intake.submit(text_of(n, 2)))
    async with ctx.db.session() as s:
        per_contact = dict((await s.execute(select(Case.contact, func.count()).group_by(Case.contact))).all())
    assert len(per_contact) == 30 and set(per_contact.values()) == {1}
