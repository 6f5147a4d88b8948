"""The SQLite runner: units run on the loop, wait in a thread when another connection holds the lock,
and a failed unit leaves nothing behind. Real SQLite files, real locks."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from imagegate.db.engine import create_engine
from imagegate.db.runner import SqliteRunner, runner_for


def insert(value: int):  # type: ignore[no-untyped-def]
    def unit(conn: Connection) -> int:
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
        return value

    return unit


def values(conn: Connection) -> list[int]:
    return [row.v for row in conn.execute(text("SELECT v FROM t ORDER BY v"))]


async def make_runner(path: Path) -> SqliteRunner:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (v INTEGER PRIMARY KEY)"))
    await engine.dispose()
    runner = runner_for(create_engine(f"sqlite+aiosqlite:///{path}"))
    assert isinstance(runner, SqliteRunner)
    return runner


def test_writes_and_reads_without_contention(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        runner = await make_runner(tmp_path / "db.sqlite")
        try:
            assert await runner.write(insert(1)) == 1
            await runner.write(insert(2))
            return await runner.read(values)
        finally:
            await runner.aclose()

    assert asyncio.run(scenario()) == [1, 2]


def test_a_write_waits_for_another_connections_lock_then_commits(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"

    async def scenario() -> list[int]:
        runner = await make_runner(path)
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process's write transaction, still open
            other.execute("INSERT INTO t (v) VALUES (10)")
            waiting = asyncio.ensure_future(runner.write(insert(11)))
            for _ in range(20):
                await asyncio.sleep(0)
            assert not waiting.done()  # it cannot have written: the lock is still held
            assert await runner.read(values) == []  # and reads are not blocked by a writer
            other.execute("COMMIT")
            assert await waiting == 11
            return await runner.read(values)
        finally:
            other.close()
            await runner.aclose()

    assert asyncio.run(scenario()) == [10, 11]


def test_a_failing_unit_is_rolled_back(tmp_path: Path) -> None:
    def half_then_fail(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t (v) VALUES (1)"))
        raise ValueError("the unit changed its mind")

    async def scenario() -> list[int]:
        runner = await make_runner(tmp_path / "db.sqlite")
        try:
            with pytest.raises(ValueError):
                await runner.write(half_then_fail)
            await runner.write(insert(2))  # the connection is usable afterwards
            return await runner.read(values)
        finally:
            await runner.aclose()

    assert asyncio.run(scenario()) == [2]


def test_the_loops_connection_never_checkpoints_the_worker_thread_does(tmp_path: Path) -> None:
    """A checkpoint fsyncs, so it must not run on the loop: only every CHECKPOINT_EVERY-th write
    schedules one, in the worker thread. `immutable=1` reads the main file alone, without the WAL."""
    path = tmp_path / "db.sqlite"

    def rows_in_main_file() -> int:
        main = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return main.execute("SELECT count(*) FROM t").fetchone()[0]
        finally:
            main.close()

    async def scenario() -> tuple[int, int]:
        runner = await make_runner(path)
        try:
            for v in range(SqliteRunner.CHECKPOINT_EVERY - 1):
                await runner.write(insert(v))
            assert runner.pending_checkpoint is None
            before = rows_in_main_file()
            await runner.write(insert(10_000))
            assert runner.pending_checkpoint is not None
            await runner.pending_checkpoint
            return before, rows_in_main_file()
        finally:
            await runner.aclose()

    assert asyncio.run(scenario()) == (0, SqliteRunner.CHECKPOINT_EVERY)
