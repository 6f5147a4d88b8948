"""Run a unit of database work, written once as a plain function of a sync `Connection`, in one transaction.

The request path's work (find the key, take a hold, settle with the usage record) is a handful of
statements. Through the async engine each statement costs several hand-offs between the event loop and
the driver — on SQLite, aiosqlite's thread, some 38 hops and ~4 ms of CPU per paid request. A runner
turns a whole unit of work into one hand-off:

- `SqliteThreadRunner` — one sync SQLite connection owned by one thread; a unit is one executor call.
  SQLite takes one writer at a time anyway, so a single writer thread loses nothing.
- `EngineRunner` — any async engine (PostgreSQL): the unit runs under `AsyncConnection.run_sync`, one
  greenlet for the whole unit; each statement is still its own network round trip.

Units must be short and must not await: they run while holding the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from .engine import sqlite_pragmas

T = TypeVar("T")
Unit = Callable[[Connection], T]


class Runner(Protocol):
    async def write(self, unit: Unit[T]) -> T:
        """Run `unit` in one transaction, committed when it returns and rolled back when it raises."""
        ...

    async def read(self, unit: Unit[T]) -> T: ...

    async def aclose(self) -> None: ...


class EngineRunner:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def write(self, unit: Unit[T]) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(unit)

    async def read(self, unit: Unit[T]) -> T:
        async with self._engine.connect() as conn:
            return await conn.run_sync(unit)

    async def aclose(self) -> None:
        """The engine belongs to its creator."""


class SqliteThreadRunner:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sync = create_sync_engine(
            engine.url.set(drivername="sqlite"), connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=1, max_overflow=0,
        )
        event.listen(self._sync, "connect", sqlite_pragmas)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="imagegate-sqlite")
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._sync.connect()
        return self._conn

    def _write(self, unit: Unit[T]) -> T:
        conn = self._connection()
        with conn.begin():
            return unit(conn)

    def _read(self, unit: Unit[T]) -> T:
        conn = self._connection()
        try:
            return unit(conn)
        finally:
            conn.rollback()  # end the read transaction so the WAL can be checkpointed

    async def write(self, unit: Unit[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._write, unit)

    async def read(self, unit: Unit[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._read, unit)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._sync.dispose()

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)


def runner_for(engine: AsyncEngine) -> Runner:
    """The fastest runner for this engine's database."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return SqliteThreadRunner(engine)
    return EngineRunner(engine)


__all__ = ["EngineRunner", "Runner", "SqliteThreadRunner", "runner_for"]
