"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, ``synchronous=FULL`` and ``BEGIN IMMEDIATE``
so a transaction takes the write lock when it starts (without it
two read-then-write transactions lose an update).  PostgreSQL goes through asyncpg.

On SQLite the write transactions of one process take turns at an in-process FIFO gate
(:class:`WriteGate`): :meth:`Database.write` (the batch writers' thread),
:meth:`Database.session` and :meth:`Database.begin`.  Without it their connections raced
for the write lock in SQLite's busy handler, which polls with sleeps and is not fair: under
a flood of back-to-back batches a session could wait past the busy timeout ("database is
locked").  Readers (:meth:`Database.read_session`, ``read_engine``) begin deferred and skip
the gate.  Two processes on one SQLite file still meet only in the busy handler.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool

from gateway.core.errors import DatabaseUnavailable as DatabaseUnavailable  # re-exported: raised here
from gateway.core.private import private_sqlite

if TYPE_CHECKING:  # Alembic is imported when a migration runs, not at start-up (~0.3 s)
    from alembic.config import Config as AlembicConfig


T = TypeVar("T")
READ_ONLY = "gateway_read_only"  # execution option of Database.read_session's engine
BUSY_TIMEOUT = 10.0  # seconds a SQLite connection waits for another process's write lock


class WriteGate:
    """One process's FIFO turn for SQLite write transactions (``asyncio.Lock`` is fair).

    Not re-entrant: a task that opens a write transaction while it holds one would wait
    for itself, so that raises :class:`RuntimeError` instead of hanging.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for this task's turn (the caller must :meth:`release` it)."""
        task = asyncio.current_task()
        if any(gate is self and holder is task for gate, holder in _HELD.get()):
            raise RuntimeError(
                "write transaction opened inside another one of the same task: "
                "on SQLite it would wait for itself (Database write gate)"
            )
        await self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the gate for the body of the ``async with``."""
        await self.acquire()
        token = _HELD.set((*_HELD.get(), (self, asyncio.current_task())))
        try:
            yield
        finally:
            _HELD.reset(token)
            self.release()


# (gate, task) pairs of the gates the current task holds, to refuse re-entry.
_HELD: ContextVar[tuple[tuple[WriteGate, asyncio.Task[Any] | None], ...]] = ContextVar(
    "gateway_write_gates_held", default=()
)


def _sqlite_hooks(engine: Engine, busy_timeout: float, database: str | None = None) -> None:
    @event.listens_for(engine, "connect")
    def _setup(dbapi_conn: Any, _record: Any) -> None:
        private_sqlite(database)  # 0600 before WAL mode: the WAL and -shm files take its mode
        dbapi_conn.isolation_level = None  # stop pysqlite's lazy BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Readers (Database.read_session) begin deferred: in WAL mode they read a snapshot
        # beside the writer instead of queueing for the write lock.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


PING_AFTER_IDLE_SECONDS = 2.0  # a pooled PostgreSQL connection idle this long is pinged before use


def _ping_after_idle(engine: Engine, after: float) -> None:
    """Ping a pooled connection before use only when it has been idle ``after`` seconds.

    ``pool_pre_ping`` pings at every checkout, and the asyncpg dialect's ping is three round
    trips (BEGIN, an empty query, ROLLBACK): under a flood that was a fifth of the gateway's
    time in socket writes (bench/README.md "Scale-out").  A connection in steady use needs
    none; one that lay idle (the database may have restarted meanwhile) is pinged and, if
    dead, replaced before the caller sees it.  A connection that dies within ``after``
    seconds of its last use fails its next statement: SQLAlchemy then drops the whole pool,
    and the caller answers "try later" (the channel retries; nothing is acknowledged)."""

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < after:
            return  # new, or in use moments ago
        try:
            dbapi_connection.ping()
        except Exception as e:
            raise DisconnectionError("pooled connection is gone") from e


def make_engine(
    url: str, *, busy_timeout: float = BUSY_TIMEOUT, ping_after_idle: float = PING_AFTER_IDLE_SECONDS, **kwargs: Any
) -> AsyncEngine:
    """Create an async engine with the right settings for its dialect (``busy_timeout``
    in seconds: SQLite only; ``ping_after_idle``: PostgreSQL only, see :func:`_ping_after_idle`)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": busy_timeout}, **kwargs)
        _sqlite_hooks(engine.sync_engine, busy_timeout, engine.url.database)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    if "+asyncpg" in url:
        # asyncpg prepares every statement; after five runs PostgreSQL may keep one generic
        # plan per connection, chosen with the sizes of that moment.  Planned on a new
        # install's empty tables, "contact IN (...)" stayed a sequential scan while the
        # table grew: 40 ms a batch at 27,000 cases (bench/README.md "Scale-out").  A plan
        # per execution costs a fraction of a millisecond and follows the table.
        args = kwargs.setdefault("connect_args", {})
        args.setdefault("server_settings", {}).setdefault("plan_cache_mode", "force_custom_plan")
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_after_idle(engine.sync_engine, ping_after_idle)
    return engine


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (``Session.execute`` is typed as returning
    a plain ``Result``; for those statements it is a ``CursorResult``)."""
    return cast("CursorResult[Any]", result).rowcount or 0


def is_unique_violation(exc: IntegrityError) -> bool:
    """True if the error is a unique-constraint clash on either backend."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "sqlite_errorname", "") in (
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    )


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database is not there right now"."""
    if isinstance(exc, (OSError, ConnectionError, asyncio.TimeoutError)):
        return True
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("gateway.core") / "migrations"))
    return cfg


_REVISION = re.compile(r"^(down_)?revision\s*=\s*(.+)$", re.M)


def script_head() -> str | None:
    """The head revision, read from the migration files' ``revision`` / ``down_revision``
    lines; None when that is not one plain chain (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for entry in (resources.files("gateway.core") / "migrations" / "versions").iterdir():
        if not entry.name.endswith(".py") or entry.name.startswith("__"):
            continue
        for down, value in _REVISION.findall(entry.read_text(encoding="utf-8")):
            value = value.strip()
            if value.startswith(("(", "[")):
                return None  # a merge revision
            (parents if down else revisions).add(value.strip("'\""))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _upgrade(sync_conn: Any, target: str) -> None:
    cfg = _alembic_config()
    cfg.attributes["connection"] = sync_conn
    from alembic import command

    command.upgrade(cfg, target)


def _current_revision(sync_conn: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(sync_conn).get_current_revision()


HEALTH_EVERY_SECONDS = 1.0  # how often this process pings its database for /healthz
HEALTH_FRESH_SECONDS = 3.0  # how long a good ping counts


class Database:
    """The engine, a session factory, and the migration entry points.

    Write through :meth:`session`, :meth:`begin` or :meth:`write`, not ``sessionmaker`` or
    ``engine`` directly: on SQLite those three take the process's write gate.
    """

    def __init__(self, url: str, *, busy_timeout: float = BUSY_TIMEOUT, **engine_kwargs: Any) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self.engine = make_engine(url, busy_timeout=busy_timeout, **engine_kwargs)
        self.gate = WriteGate() if self.is_sqlite else None
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # The same pool, marked for reads: on SQLite its transactions begin deferred.
        self.read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._writer: Engine | None = None
        self._write_pool: ThreadPoolExecutor | None = None
        self._write_maker: sessionmaker[Session] | None = None
        self._healthy_until = 0.0  # loop time until which the last good ping counts
        self._watch: asyncio.Task[None] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def writer_sessionmaker(self) -> sessionmaker[Session]:
        """SQLite only: a synchronous session factory on one connection, for the writer
        thread.  Each statement through aiosqlite costs a thread hop (measured here: 0.65 ms
        per statement versus 0.09 ms on a plain sqlite3 connection), so batch writers run
        whole transactions on the writer thread (see :meth:`write`)."""
        if self._writer is None:
            path = self.engine.url.database
            engine = create_engine(
                f"sqlite:///{path}",
                poolclass=SingletonThreadPool,
                connect_args={"timeout": self.busy_timeout, "check_same_thread": False},
            )
            _sqlite_hooks(engine, self.busy_timeout, path)
            self._writer = engine
        return sessionmaker(self._writer, expire_on_commit=False)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one committed transaction of the batch writers.

        On SQLite every batch writer (intake, raw spools) shares ONE thread and connection:
        separate connections made them queue for the write lock through SQLite's busy
        handler, which sleeps in steps of up to 100 ms (p99 spikes of ~230 ms were measured).
        Each call waits for its turn at the write gate, in FIFO order with :meth:`session`,
        and holds it until ``fn`` has committed on the thread, even if the caller is
        cancelled meanwhile (the thread cannot be stopped: that transaction still commits).
        On PostgreSQL ``fn`` runs through asyncpg on the event loop (``run_sync``)."""
        if self.gate is None:
            async with self.sessionmaker() as s, s.begin():
                return await s.run_sync(fn)
        if self._write_pool is None:
            self._write_pool = ThreadPoolExecutor(1, thread_name_prefix="db-writer")
        await self.gate.acquire()
        try:
            done = asyncio.get_running_loop().run_in_executor(self._write_pool, self._write_sync, fn)
        except BaseException:
            self.gate.release()
            raise
        done.add_done_callback(self._end_turn)
        return await asyncio.shield(done)

    def _end_turn(self, done: asyncio.Future[Any]) -> None:
        assert self.gate is not None
        self.gate.release()
        if not done.cancelled():
            done.exception()  # seen here too, so a cancelled caller leaves no "never retrieved"

    def _write_sync(self, fn: Callable[[Session], T]) -> T:
        if self._write_maker is None:
            self._write_maker = self.writer_sessionmaker()
        with self._write_maker() as s, s.begin():
            return fn(s)

    def _turn(self) -> AbstractAsyncContextManager[None]:
        return self.gate.turn() if self.gate is not None else nullcontext()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error.

        On SQLite it holds the write gate until the commit: do not open another
        :meth:`session`, :meth:`begin` or :meth:`write` inside it (that raises)."""
        async with self._turn(), self.sessionmaker() as s, s.begin():
            yield s

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in a write transaction (through the write gate on SQLite)."""
        async with self._turn(), self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads: on SQLite a deferred BEGIN, so concurrent readers (the
        tracking page) do not serialise on the write lock that BEGIN IMMEDIATE takes."""
        async with self.read_sessionmaker() as s, s.begin():
            yield s

    async def migrate(self, target: str = "head") -> None:
        """Apply the packaged Alembic migrations up to ``target``.  A database already at
        the head is seen with one query and no Alembic at all (a start-up of a migrated
        database used to spend ~0.5 s importing Alembic and its scripts for nothing)."""
        if target == "head" and (head := script_head()) is not None and await self._stored_revision() == head:
            return
        async with self.begin() as conn:
            await conn.run_sync(_upgrade, target)

    async def _stored_revision(self) -> str | None:
        try:
            async with self.read_engine.connect() as conn:
                return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except DBAPIError:
            return None  # a new database: no table yet

    async def current_revision(self) -> str | None:
        async with self.read_engine.connect() as conn:  # a read: no write lock, no gate
            return await conn.run_sync(_current_revision)

    @staticmethod
    def head_revision() -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    async def ping(self) -> bool:
        """True when the database answers a trivial query (as a reader: a flood of
        writes does not make the health check wait for the write lock)."""
        try:
            async with self.read_engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 5)
            return True
        except Exception:  # noqa: BLE001 - health check: any failure means "not healthy"
            return False

    async def healthy(self) -> bool:
        """The answer for /healthz: True when a ping succeeded within the last
        :data:`HEALTH_FRESH_SECONDS`.

        A task of this process pings every :data:`HEALTH_EVERY_SECONDS`, so the answer does
        not wait for the database: under a flood of heavy writes a ``SELECT 1`` queues
        behind them (on SQLite for the GIL beside the writer thread, on PostgreSQL for a
        pooled connection), and the balancer would take a busy process for a dead one.  A
        database that stops answering turns the answer to False within the fresh time.
        Before the first ping has come back (just started) it pings in person."""
        loop = asyncio.get_running_loop()
        if self._watch is None or self._watch.done() or self._watch.get_loop() is not loop:
            first = await self.ping()
            self._healthy_until = loop.time() + HEALTH_FRESH_SECONDS if first else 0.0
            if self._watch is None or self._watch.done() or self._watch.get_loop() is not loop:
                self._watch = loop.create_task(self._watch_health(), name="db-health")
            return first
        return loop.time() < self._healthy_until

    async def _watch_health(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(HEALTH_EVERY_SECONDS)
            if await self.ping():
                self._healthy_until = loop.time() + HEALTH_FRESH_SECONDS

    async def dispose(self) -> None:
        if self._watch is not None and not self._watch.done():
            self._watch.cancel()
        self._watch = None
        await self.engine.dispose()
        if self._write_pool is not None:
            self._write_pool.shutdown(wait=True)
            self._write_pool, self._write_maker = None, None
        if self._writer is not None:
            self._writer.dispose()
            self._writer = None
