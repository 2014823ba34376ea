"""Parsing mail off the event loop, in a worker process.

Parsing is CPU work in pure Python.  In a thread it still holds the GIL, and the event loop
(which serves /healthz, SMTP and the webhooks) waits for it at every switch: measured with
a 3 MB mail of 950 parts (bench/email_heavy.py), /healthz answered in a p50 of ~30 ms and a
p99 over a second.  In a process the operating system shares the CPU fairly instead.

One worker parses one mail at a time (:class:`~gateway.channels.email.structure.MailLimits`
bounds what one mail can cost).  If the worker dies (out of memory, a crash in C code), the
pool is made anew and the mail is tried once more; if the worker dies again, the mail is
kept whole with the reason, as a case: never lost, never a crash of the gateway.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from gateway.channels.email.parse import MailLimits, ParsedMail, kept_whole, parse_mail, scrub

log = logging.getLogger(__name__)
_pool: Executor | None = None


def new_pool() -> Executor:
    """The worker pool: one process, started by "spawn" (no copy of our threads or sockets)."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def _current() -> Executor:
    global _pool
    if _pool is None:
        _pool = new_pool()
    return _pool


def _discard(pool: Executor) -> None:
    global _pool
    if _pool is pool:
        _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


async def shutdown() -> None:
    """End the parser process (after the parse in hand, if any): part of a clean stop, so
    that ``gateway run`` can leave without waiting on the interpreter's exit hooks."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)


async def parse_off_loop(raw: bytes, limits: MailLimits, envelope_from: str | None) -> ParsedMail:
    """:func:`~gateway.channels.email.parse.parse_mail` in the worker process."""
    loop = asyncio.get_running_loop()
    for attempt in (1, 2):
        pool = _current()
        try:
            return await loop.run_in_executor(pool, parse_mail, raw, limits, envelope_from)
        except BrokenProcessPool:
            log.error("the mail parser process died (attempt %d); starting a new one", attempt)
            _discard(pool)
    return scrub(kept_whole(raw, "parser_died", envelope_from))
