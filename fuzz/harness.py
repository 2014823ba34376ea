"""The target registry and the time-boxed Hypothesis runner (see the package docstring)."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import pkgutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

ROUND_EXAMPLES = 200  # examples per Hypothesis run; runs repeat until the time is up


@dataclass
class Target:
    """One fuzz target: inputs, the check, and the exceptions the parser may raise."""

    name: str
    strategy: st.SearchStrategy[Any]
    check: Callable[..., Any]
    allowed: tuple[type[BaseException], ...] = ()
    config: dict[str, Any] = field(default_factory=dict)  # for app targets: config overrides

    @property
    def needs_app(self) -> bool:
        return inspect.iscoroutinefunction(self.check)


TARGETS: dict[str, Target] = {}


def target(
    name: str,
    strategy: st.SearchStrategy[Any],
    *,
    allowed: tuple[type[BaseException], ...] = (),
    config: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a check under ``name`` (decorator)."""

    def register(check: Callable[..., Any]) -> Callable[..., Any]:
        if name in TARGETS:
            raise ValueError(f"fuzz target {name} registered twice")
        TARGETS[name] = Target(name, strategy, check, allowed, config or {})
        return check

    return register


def load_targets() -> dict[str, Target]:
    """Import every module of ``fuzz/targets`` (each registers its targets)."""
    package = importlib.import_module("fuzz.targets")
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"fuzz.targets.{info.name}")
    return TARGETS


# Log lines that mean "our code failed" even though the caller got an answer (the
# drainer and intake catch their errors, so only the log tells).
FAILURE_WORDS = ("does not parse", "fast path failed", "drain failed", "intake failed")


class FailureLog(logging.Handler):
    """Keeps the records that show a failure behind a polite answer."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and isinstance(record.exc_info[1], HttpProcessingError):
            return  # aiohttp refused a malformed request (400, 413...): the client's fault
        if record.levelno >= logging.ERROR or any(w in record.getMessage() for w in FAILURE_WORDS):
            self.records.append(record)

    def raise_first(self) -> None:
        """Raise for the first failure logged since the last call."""
        records, self.records = self.records, []
        if records:
            r = records[0]
            detail = "".join(traceback.format_exception(*r.exc_info)[-3:]) if r.exc_info else ""
            raise AssertionError(f"logged by {r.name}: {r.getMessage()}\n{detail}")


FAILURES = FailureLog()


def quiet_logs() -> None:
    """Parsers log what they refuse: keep only :data:`FAILURES` listening, at WARNING."""
    root = logging.getLogger()
    root.handlers[:] = [FAILURES]
    root.setLevel(logging.WARNING)


@dataclass
class AppEnv:
    """A running gateway for HTTP targets: its context, plugins and a test client."""

    ctx: Any
    client: Any
    loop: asyncio.AbstractEventLoop
    plugins: list[Any]


@asynccontextmanager
async def app_env(overrides: dict[str, Any]) -> Any:
    """A gateway on a fresh SQLite file with every channel's routes, and a client for it."""
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.core.config import parse_config
    from gateway.core.runtime import running_context
    from gateway.serve import load_channels
    from gateway.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="gw-fuzz-") as tmp:
        base = {
            "gateway": {"database_url": f"sqlite+aiosqlite:///{tmp}/fuzz.db", "data_dir": f"{tmp}/var"},
            "email": {"smtp": {"enabled": False}},
        }
        config = parse_config(_merge(base, overrides), Path(tmp))
        async with running_context(config, dispatch=False) as ctx:
            plugins = load_channels(ctx, set())
            async with TestClient(TestServer(create_app(ctx, [p.routes() for p in plugins]))) as client:
                for p in plugins:
                    await p.start()
                try:
                    yield AppEnv(ctx, client, asyncio.get_running_loop(), plugins)
                finally:
                    for p in reversed(plugins):
                        await p.stop()


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class Outcome:
    """What one target's run did."""

    name: str
    runs: int = 0
    seconds: float = 0.0
    crash: str | None = None  # exception and shrunk input, when the target failed


def _hypothesis_run(t: Target, env: AppEnv | None, counter: list[int], seed: int | None) -> Callable[[], None]:
    """A @given function that feeds one input to the target per example (seeded: the same
    inputs every time, for CI and to replay a crash)."""

    @settings(
        max_examples=ROUND_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=True,
        report_multiple_bugs=False,
    )
    @given(t.strategy)
    def run(value: Any) -> None:
        counter[0] += 1
        try:
            if env is None:
                t.check(value)
            else:
                env.loop.run_until_complete(t.check(value, env))
                env.loop.run_until_complete(asyncio.sleep(0))  # let background writers log
        except t.allowed:
            pass
        FAILURES.raise_first()

    return run if seed is None else hypothesis_seed(seed)(run)


def run_target(t: Target, seconds: float, env: AppEnv | None = None, seed: int | None = None) -> Outcome:
    """Run one target until ``seconds`` have passed or it crashes; with ``seed``, round n
    uses seed + n, so a run is repeatable."""
    outcome, counter, rounds = Outcome(t.name), [0], 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        run = _hypothesis_run(t, env, counter, None if seed is None else seed + rounds)
        rounds += 1
        try:
            run()
        except Exception as e:  # noqa: BLE001 - a crash is the finding, reported below
            outcome.crash = "".join(traceback.format_exception_only(type(e), e)).strip()
            outcome.crash += "\n" + "".join(traceback.format_tb(e.__traceback__)[-3:])
            break
    outcome.runs, outcome.seconds = counter[0], time.monotonic() - start
    return outcome


def select(targets: dict[str, Target], names: list[str]) -> Iterator[Target]:
    """Targets named exactly or by prefix (all when ``names`` is empty)."""
    for name, t in sorted(targets.items()):
        if not names or any(name == n or name.startswith(n) for n in names):
            yield t
