"""The group-commit pattern shared by the intake writer and the raw spool writers: wait for
one item, then take whatever else is already waiting, up to a limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def next_batch(queue: asyncio.Queue[T], batch_max: int) -> list[T]:
    """The next batch: at least one item, plus everything waiting (at most ``batch_max``).

    The caller must call ``queue.task_done()`` once per item after handling the batch."""
    batch = [await queue.get()]
    while len(batch) < batch_max and not queue.empty():
        batch.append(queue.get_nowait())
    return batch


async def serve_batches(queue: asyncio.Queue[T], batch_max: int, write: Callable[[list[T]], Awaitable[None]]) -> None:
    """Run forever: take the next batch, ``write`` it, mark its items done (even on error)."""
    while True:
        batch = await next_batch(queue, batch_max)
        try:
            await write(batch)
        finally:
            for _ in batch:
                queue.task_done()
