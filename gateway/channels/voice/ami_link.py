"""How the AMI client paces and reports its reconnects: a capped exponential backoff with
jitter, and a log line per change of link state (never one per attempt).

A gateway pointed at a PBX with a wrong secret must not hammer it: Asterisk sleeps 1 s and
closes the connection on every failed ``Login`` (manager.c), and a reconnect loop without a
held ceiling turned into hundreds of attempts a second.  "Equal jitter" (half the ceiling
fixed, half random) spreads several gateways apart and never waits less than half the
ceiling, so the rate stays bounded even with bad luck.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.channels.voice.ami_frames import AmiUnavailable

log = logging.getLogger("gateway.channels.voice.ami")

STOP_ROUNDS, STOP_ROUND_SECONDS = 6, 0.5  # stop() gives up after 3 s: it never hangs
# link state -> (log level, message); "connecting" and "stopping" are transient and not
# reported, so a PBX that refuses the login for an hour gives one line, not thousands.
STATE_LOG: dict[str, tuple[int, str]] = {
    "connected": (logging.INFO, "AMI logged in as %(user)s (login %(logins)d)"),
    "auth_failed": (
        logging.ERROR,
        "AMI login refused for user %(user)s (%(detail)s); retrying with backoff up to %(cap)gs",
    ),
    "unreachable": (logging.WARNING, "AMI unreachable (%(detail)s); retrying with backoff up to %(cap)gs"),
    "down": (logging.WARNING, "AMI connection lost (%(detail)s); reconnecting"),
    "stopped": (logging.INFO, "AMI client stopped"),
}


@dataclass
class Backoff:
    """Delay before the next connection attempt: ``base * 2**n`` up to ``cap``, then held."""

    base: float = 0.5
    cap: float = 30.0
    rand: Callable[[], float] = random.random
    failures: int = 0

    def next_delay(self) -> float:
        """Count one failed (or short-lived) attempt; return how long to wait."""
        self.failures += 1
        ceiling = min(self.cap, self.base * 2.0 ** min(self.failures - 1, 30))
        return ceiling / 2 + self.rand() * ceiling / 2

    def reset(self) -> None:
        """A session that stayed up: the next reconnect starts small again."""
        self.failures = 0


@dataclass
class LinkReport:
    """Logs the link's state when it changes (``connecting`` is never reported)."""

    user: str
    cap: float
    reported: str = field(default="stopped")

    def change(self, state: str, *, detail: str = "", logins: int = 0) -> None:
        """Report ``state`` once; repeats of the same state stay silent."""
        if state not in STATE_LOG or state == self.reported:
            return
        self.reported = state
        level, message = STATE_LOG[state]
        log.log(level, message, {"user": self.user, "logins": logins, "detail": detail or "-", "cap": self.cap})


async def wait_future(future: asyncio.Future, timeout: float):  # type: ignore[type-arg]
    """The future's result within ``timeout``; unlike ``wait_for`` on Python 3.11 this never
    swallows a cancellation of the caller when the future completes at the same moment."""
    done, _ = await asyncio.wait({future}, timeout=timeout)
    if not done:
        raise AmiUnavailable("no answer in time")
    return future.result()


async def sleep_unless(stopping: asyncio.Event, delay: float) -> None:
    """Sleep ``delay`` seconds, or less if ``stopping`` is set meanwhile."""
    waiter = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({waiter}, timeout=delay)
    finally:
        waiter.cancel()


async def cancel_bounded(task: asyncio.Task[None], writer: asyncio.StreamWriter | None) -> None:
    """Cancel the run loop and wait for it, cancelling again if a cancel was absorbed."""
    if writer is not None:
        writer.transport.abort()  # a reader blocked on the socket ends at once
    for _ in range(STOP_ROUNDS):
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_ROUND_SECONDS)
        if done:
            return
    log.error("AMI client task did not stop; abandoning it")
