"""The group-commit pattern shared by the intake writer and the raw spool writers: wait for
one item, then take whatever else is already waiting, up to a limit."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


async def next_batch(queue: asyncio.Queue[T], batch_max: int) -> list[T]:
    """The next batch: at least one item, plus everything waiting (at most ``batch_max``).

    The caller must call ``queue.task_done()`` once per item after handling the batch."""
    batch = [await queue.get()]
    while len(batch) < batch_max and not queue.empty():
        batch.append(queue.get_nowait())
    return batch
