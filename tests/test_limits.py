"""Shared limits (gateway.core.limits): the sliding-window arithmetic, and the counters on
the database and on Redis holding across two limiters (two processes' worth)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from gateway.core.db import Database
from gateway.core.limits import Hit, Limiter, bucket, decide, make_limiter, stored_key, wait_seconds
from gateway.core.shared_tables import RateCounter
from tests.peers.redis import redis_server

H = Hit("k", limit=10, window_ms=60_000)


@pytest.mark.parametrize(
    ("prev", "cur", "elapsed", "hit", "expected"),
    [
        pytest.param(0, 0, 0.0, H, (True, 1), id="empty"),
        pytest.param(0, 9, 0.5, H, (True, 10), id="last-slot"),
        pytest.param(0, 10, 0.5, H, (False, 10), id="full"),
        pytest.param(10, 0, 0.5, H, (True, 1), id="previous-half-faded"),
        pytest.param(10, 5, 0.5, H, (False, 5), id="previous-weighs-half"),
        pytest.param(10, 4, 0.5, H, (True, 5), id="previous-half-plus-current-fits"),
        pytest.param(0, 10, 0.5, Hit("k", 10, 60_000, cost=0), (False, 10), id="peek-full"),
        pytest.param(0, 9, 0.5, Hit("k", 10, 60_000, cost=0), (True, 9), id="peek-counts-nothing"),
        pytest.param(0, 3, 0.5, Hit("k", 10, 60_000, cost=-1), (True, 2), id="undo"),
        pytest.param(0, 0, 0.5, Hit("k", 10, 60_000, cost=-1), (True, 0), id="undo-never-negative"),
        pytest.param(5, 5, 0.5, Hit("k", 10, 60_000, reset=True), (True, 0), id="reset"),
    ],
)
def test_decide(prev: int, cur: int, elapsed: float, hit: Hit, expected: tuple[bool, int]) -> None:
    assert decide(prev, cur, elapsed, hit) == expected


@pytest.mark.parametrize(
    ("prev", "cur", "elapsed", "expected"),
    [
        pytest.param(0, 10, 0.5, 30 + 6, id="current-full: rest of window, then 1/10 fades"),
        pytest.param(10, 5, 0.5, 6, id="previous-must-fade-by-one"),
        pytest.param(20, 0, 0.0, 33, id="big-previous"),
        pytest.param(0, 10, 0.1, 60, id="never-more-than-a-window"),
    ],
)
def test_wait_seconds(prev: int, cur: int, elapsed: float, expected: float) -> None:
    assert wait_seconds(prev, cur, elapsed, H) == pytest.approx(expected)
    # and after that wait, the hit fits (or the wait was capped at one window)
    later = elapsed + expected / 60
    if expected == 60:
        return
    if later < 1:
        assert decide(prev, cur, later + 1e-9, H)[0]
    else:
        assert decide(cur, 0, later - 1 + 1e-9, H)[0]


def test_stored_key_keeps_the_scope_and_hides_the_subject() -> None:
    key = stored_key("sms-new_cases:+989121234567")
    assert key.startswith("sms-new_cases:") and "9121234567" not in key
    assert stored_key("login:ip:1.2.3.4") != stored_key("login:ip:1.2.3.5")


@pytest_asyncio.fixture(params=["database", "redis"])
async def two_limiters(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[tuple[Limiter, Limiter]]:
    """Two limiters on separate connections to one store, as two processes would have."""
    dbs = [Database(db_url), Database(db_url)]
    with redis_or_nothing(request.param) as url:
        limiters = [make_limiter(db, request.param, url) for db in dbs]
        try:
            yield limiters[0], limiters[1]
        finally:
            for lim, db in zip(limiters, dbs):
                await lim.close()
                await db.dispose()


def redis_or_nothing(backend: str) -> contextlib.AbstractContextManager[str]:
    return redis_server() if backend == "redis" else contextlib.nullcontext("")


async def test_the_limit_holds_across_two_processes(two_limiters: tuple[Limiter, Limiter]) -> None:
    a, b = two_limiters
    verdicts = await asyncio.gather(*(lim.hit("track:198.51.100.7", 10, 60) for _ in range(15) for lim in (a, b)))
    assert sum(v.allowed for v in verdicts) == 10
    refused = [v for v in verdicts if not v.allowed]
    assert all(0 < v.retry_after <= 120 for v in refused)
    assert (await a.hit("track:198.51.100.8", 10, 60)).allowed  # another client is not limited
    assert not (await b.peek("track:198.51.100.7", 10, 60)).allowed


async def test_undo_peek_and_reset(two_limiters: tuple[Limiter, Limiter]) -> None:
    a, b = two_limiters
    for _ in range(3):
        assert (await a.hit("login:name:ali", 3, 900)).allowed
    assert not (await b.peek("login:name:ali", 3, 900)).allowed
    await b.undo("login:name:ali", 900)
    assert (await a.peek("login:name:ali", 3, 900)).allowed
    assert (await a.hit("login:name:ali", 3, 900)).allowed
    assert not (await a.hit("login:name:ali", 3, 900)).allowed
    await a.reset("login:name:ali", 900)
    assert all([(await b.hit("login:name:ali", 3, 900)).allowed for _ in range(3)])


async def test_a_window_slides(two_limiters: tuple[Limiter, Limiter]) -> None:
    a, b = two_limiters
    assert [(await a.hit("x:1", 2, 0.4)).allowed for _ in range(3)] == [True, True, False]
    await asyncio.sleep(1.0)  # two whole windows later nothing is left of them
    assert (await b.hit("x:1", 2, 0.4)).allowed


async def test_counters_hold_no_raw_keys_and_expired_windows_are_swept(db_url: str) -> None:
    db = Database(db_url)
    limiter = make_limiter(db)
    try:
        await limiter.hit("sms-new_cases:+989121234567", 5, 0.05)
        async with db.read_session() as s:
            keys = list((await s.execute(select(RateCounter.key))).scalars())
        assert keys and all("9121234567" not in k for k in keys)
        await asyncio.sleep(0.2)
        limiter.counters._sweep_at = 0.0  # type: ignore[attr-defined]  # sweep on the next hit
        await limiter.hit("other:1", 5, 60)
        async with db.read_session() as s:
            left = (
                await s.execute(
                    select(func.count()).select_from(RateCounter).where(RateCounter.key.like("sms-new_cases:%"))
                )
            ).scalar()
        assert left == 0
    finally:
        await limiter.close()
        await db.dispose()


def test_redis_backend_needs_a_url(db_url: str) -> None:
    with pytest.raises(ValueError, match="Redis URL"):
        make_limiter(Database(db_url), "redis", None)


@pytest.mark.parametrize(
    ("tat", "hit", "expected"),
    [
        pytest.param(0, Hit("k", 1, 60_000, burst=3), (True, 1_060_000, 0.0), id="empty-bucket"),
        pytest.param(1_120_000, Hit("k", 1, 60_000, burst=3), (True, 1_180_000, 0.0), id="third-of-burst"),
        pytest.param(1_180_000, Hit("k", 1, 60_000, burst=3), (False, 1_180_000, 60.0), id="burst-spent"),
        pytest.param(1_180_000, Hit("k", 1, 60_000, burst=3, cost=0), (False, 1_180_000, 60.0), id="peek"),
        pytest.param(1_180_000, Hit("k", 1, 60_000, burst=3, cost=-1), (True, 1_120_000, 0.0), id="undo"),
    ],
)
def test_bucket(tat: int, hit: Hit, expected: tuple[bool, int, float]) -> None:
    assert bucket(tat, 1_000_000, hit) == expected


async def test_a_token_bucket_across_two_processes(two_limiters: tuple[Limiter, Limiter]) -> None:
    """Burst 3, then one per minute: the fourth waits about a minute, whoever asks."""
    a, b = two_limiters
    verdicts = [await lim.hit("track:203.0.113.1", 1, 60, burst=3) for lim in (a, b, a, b)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert 58 < verdicts[-1].retry_after <= 60
    await b.undo("track:203.0.113.1", 60, limit=1, burst=3)
    assert (await a.hit("track:203.0.113.1", 1, 60, burst=3)).allowed
    await a.reset("track:203.0.113.1", 60, burst=3)
    assert all([(await b.hit("track:203.0.113.1", 1, 60, burst=3)).allowed for _ in range(3)])
