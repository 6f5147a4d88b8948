"""Run a unit of database work, written once as a plain function of a sync `Connection`, in one transaction.

The request path's work (find the key, take a hold, settle with the usage record) is a handful of
statements. Through the async engine each statement costs several hand-offs between the event loop and
the driver — on SQLite, aiosqlite's thread, some 38 hops and ~4 ms of CPU per paid request. A runner
turns a whole unit of work into one hand-off:

- `SqliteRunner` — a sync connection used on the event loop itself, with no hand-off at all; a unit
  that would have to wait for SQLite's write lock runs in a worker thread instead (see the class).
- `EngineRunner` — any async engine (PostgreSQL): the unit runs under `AsyncConnection.run_sync`, one
  greenlet for the whole unit; each statement is still its own network round trip. So the request
  path's units on PostgreSQL are single statements (ledger.py's CTEs) run with `atomic`, and reads
  run outside a transaction: no BEGIN and no COMMIT/ROLLBACK round trips.

Units must be short and must not await: they run while holding the connection.

- `PostgresRunner` — an `EngineRunner` that can also run ONE raw SQL statement straight on asyncpg
  (`fetchrow`), on its own small pool: through SQLAlchemy a unit costs ~0.5 ms of the gateway's CPU
  on PostgreSQL whatever its size (pool checkout, events, greenlet, execution context), asyncpg alone
  a tenth of it. The request path's hold and settlement use it (ledger_pg.py), and so do their
  batches: one statement with all its rows (`fetch`), or a short transaction (`transaction`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from .engine import sqlite_pragmas

log = logging.getLogger("imagegate.db")

T = TypeVar("T")
Unit = Callable[[Connection], T]


class Runner(Protocol):
    async def write(self, unit: Unit[T]) -> T:
        """Run `unit` in one transaction, committed when it returns and rolled back when it raises."""
        ...

    async def read(self, unit: Unit[T]) -> T:
        """Run `unit`, which only reads; each statement sees its own snapshot (units read once)."""
        ...

    async def atomic(self, unit: Unit[T]) -> T:
        """Run `unit`, which executes ONE statement (atomic by itself), without BEGIN/COMMIT where the
        database allows it; on SQLite the same as `write`."""
        ...

    async def aclose(self) -> None: ...


class EngineRunner:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Autocommit: a statement is its own transaction. Same pool; the isolation level is set on the
        # driver's connection (no round trip with asyncpg) and reset when it goes back to the pool.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def write(self, unit: Unit[T]) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(unit)

    async def read(self, unit: Unit[T]) -> T:
        async with self._autocommit.connect() as conn:
            return await conn.run_sync(unit)

    async def atomic(self, unit: Unit[T]) -> T:
        async with self._autocommit.connect() as conn:
            return await conn.run_sync(unit)

    async def aclose(self) -> None:
        """The engine belongs to its creator."""


class PostgresRunner(EngineRunner):
    """EngineRunner plus `fetchrow`: one statement, autocommit (atomic by itself), on asyncpg directly.

    The connection is the engine's own pool's (no second pool: the server's connection limit is
    shared by every node); only the statement bypasses SQLAlchemy's execution. A connection-level
    failure invalidates the connection, as SQLAlchemy would, and is raised as SQLAlchemy's
    `OperationalError` so that the request answers `503 database_unavailable`, not a 500.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._forms: dict[int, tuple[ClauseElement, str, tuple[str, ...]]] = {}

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self.raw(lambda conn: conn.fetchrow(sql, *args), sql, args)

    async def fetchrow_core(self, statement: ClauseElement, params: Mapping[str, Any]) -> Any:
        """`fetchrow` of a Core statement (a module constant), compiled for asyncpg once: the
        request path's other statements (the key read, the image row) without SQLAlchemy's
        per-execution cost. Its parameters need no bind processing (plain strings and numbers)."""
        sql, names = self._asyncpg_form(statement)
        return await self.fetchrow(sql, *(params[name] for name in names))

    async def execute_core(self, statement: ClauseElement, params: Mapping[str, Any]) -> None:
        """`fetchrow_core` for a statement that returns no row."""
        sql, names = self._asyncpg_form(statement)
        args = [params[name] for name in names]
        await self.raw(lambda conn: conn.execute(sql, *args), sql, args)

    def _asyncpg_form(self, statement: ClauseElement) -> tuple[str, tuple[str, ...]]:
        known = self._forms.get(id(statement))
        if known is None or known[0] is not statement:  # held here, so an id is not reused meanwhile
            compiled = statement.compile(dialect=self._engine.dialect)
            assert isinstance(compiled, SQLCompiler)  # asyncpg's dialect numbers its parameters ($1 …)
            known = (statement, compiled.string, tuple(compiled.positiontup or ()))
            self._forms[id(statement)] = known
        return known[1], known[2]

    async def fetch(self, sql: str, *args: Any) -> Any:
        """Every row of one statement (a batch's answers)."""
        return await self.raw(lambda conn: conn.fetch(sql, *args), sql, args)

    async def transaction(self, unit: Callable[[Any], Awaitable[T]]) -> T:
        """`unit(asyncpg connection)` inside BEGIN ... COMMIT (ROLLBACK when it raises): a batch of
        holds locks its accounts, decides, and writes, in one transaction."""

        async def run(conn: Any) -> T:
            async with conn.transaction():
                return await unit(conn)

        return await self.raw(run, "a transaction", ())

    async def raw(self, work: Callable[[Any], Awaitable[T]], sql: str, args: Sequence[Any]) -> T:
        """`work(asyncpg connection)` on a connection of the engine's pool."""
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            try:
                return await work(raw.driver_connection)
            except Exception as error:
                if not _connection_lost(error):
                    raise
                await conn.invalidate(error)
                raise OperationalError(sql, args, error, connection_invalidated=True) from error


def _connection_lost(error: BaseException) -> bool:
    import asyncpg  # type: ignore[import-untyped]

    lost = (
        OSError,
        asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.PostgresConnectionError,
        asyncpg.exceptions.ConnectionDoesNotExistError,
    )
    return isinstance(error, lost)


class SqliteRunner:
    """SQLite: a unit runs on the event loop itself, and in a worker thread only when it must wait.

    A unit is a few indexed statements on the local disk (~0.1 ms of CPU); handing it to a thread
    cost more than running it (~0.9 ms per request at 64 in flight, in GIL hand-offs). So the loop's
    own connection never waits: its busy timeout is 0 and a write takes the write lock up front
    (`BEGIN IMMEDIATE`). When another connection holds the lock (another worker process, the CLI,
    an admin write), the unit fails at once, before doing anything, and runs again on a connection
    in a worker thread that waits as long as any other (30 s). WAL with synchronous=NORMAL means a
    commit writes the log and never fsyncs; the loop's connection never checkpoints either (that
    fsyncs): every `CHECKPOINT_EVERY` writes a passive checkpoint runs in the worker thread.
    """

    CHECKPOINT_EVERY = 256

    def __init__(self, engine: AsyncEngine) -> None:
        url = engine.url.set(drivername="sqlite")
        self._inline = _sqlite_engine(url, busy_timeout_ms=0, autocheckpoint=False)
        self._waiting = _sqlite_engine(url, busy_timeout_ms=30_000, autocheckpoint=True)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="imagegate-sqlite")
        self._inline_conn = self._inline.connect()
        self._waiting_conn: Connection | None = None
        self._writes = 0
        self.pending_checkpoint: asyncio.Future[None] | None = None
        """The checkpoint last scheduled, while it runs (awaited by aclose)."""

    async def write(self, unit: Unit[T]) -> T:
        result = await self._run(_write, unit)
        self._writes += 1
        if self._writes % self.CHECKPOINT_EVERY == 0:
            self._checkpoint_soon()
        return result

    async def read(self, unit: Unit[T]) -> T:
        return await self._run(_read, unit)

    async def atomic(self, unit: Unit[T]) -> T:
        return await self.write(unit)

    async def _run(self, how: Callable[[Connection, Unit[T]], T], unit: Unit[T]) -> T:
        """On the loop's connection; on the waiting one, in the thread, when the lock is taken."""
        try:
            return how(self._inline_conn, unit)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
            return await self._in_thread(how, unit)

    async def _in_thread(self, how: Callable[[Connection, Unit[T]], T], unit: Unit[T]) -> T:
        def run() -> T:
            if self._waiting_conn is None:
                self._waiting_conn = self._waiting.connect()
            return how(self._waiting_conn, unit)

        return await asyncio.get_running_loop().run_in_executor(self._thread, run)

    def _checkpoint_soon(self) -> None:
        if self.pending_checkpoint is not None and not self.pending_checkpoint.done():
            return

        def checkpoint(conn: Connection) -> None:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

        self.pending_checkpoint = asyncio.ensure_future(self._in_thread(_read, checkpoint))
        self.pending_checkpoint.add_done_callback(_log_failure)

    async def aclose(self) -> None:
        if self.pending_checkpoint is not None:
            await asyncio.wait([self.pending_checkpoint])

        def close() -> None:
            if self._waiting_conn is not None:
                self._waiting_conn.close()

        await asyncio.get_running_loop().run_in_executor(self._thread, close)
        self._thread.shutdown(wait=True)
        self._inline_conn.close()
        self._inline.dispose()
        self._waiting.dispose()


def _sqlite_engine(url: URL, *, busy_timeout_ms: int, autocheckpoint: bool) -> Engine:
    """One connection; transactions are begun by `_write` itself (pysqlite's own BEGIN is off)."""
    engine = create_sync_engine(url, connect_args={"check_same_thread": False}, pool_size=1, max_overflow=0)

    def on_connect(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        sqlite_pragmas(dbapi_connection, record)
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        if not autocheckpoint:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    event.listen(engine, "connect", on_connect)
    return engine


def _write(conn: Connection, unit: Unit[T]) -> T:
    with conn.begin():  # COMMIT on return, ROLLBACK on error (a no-op if BEGIN itself failed)
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: busy here, or never
        return unit(conn)


def _read(conn: Connection, unit: Unit[T]) -> T:
    try:
        return unit(conn)  # outside BEGIN each statement is its own snapshot; units read once
    finally:
        conn.rollback()


def _is_busy(exc: OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, extended codes included (the low byte is the primary code)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("SQLite checkpoint failed: %s", task.exception())


def runner_for(engine: AsyncEngine) -> Runner:
    """The fastest runner for this engine's database."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return SqliteRunner(engine)
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg":
        return PostgresRunner(engine)
    return EngineRunner(engine)


__all__ = ["EngineRunner", "PostgresRunner", "Runner", "SqliteRunner", "runner_for"]
