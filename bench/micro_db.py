"""Floor for the ledger's database work: hold, then settle + usage, as raw sqlite3 in one thread.

    .venv/bin/python bench/micro_db.py [--requests 5000] [--concurrency 64]

The same rows the gateway writes per paid request (UPDATE accounts + INSERT holds + INSERT ledger;
UPDATE holds + UPDATE accounts + INSERT ledger + INSERT usage), as two transactions, each ONE hop to a
single database thread (BEGIN IMMEDIATE ... COMMIT, WAL, synchronous=NORMAL), driven from uvloop with 64
requests in flight. Prints CPU ms per request of the whole process: a floor for the database part of a
request (phase 1 spent ~5 ms on it through aiosqlite; the gateway now runs the same rows as units on the
event loop, `src/imagegate/db/runner.py`, ~0.7 ms with SQLAlchemy Core executing them).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import uvloop

SCHEMA = (
    "create table accounts(id text primary key, balance int, held int)",
    "create table holds(id text primary key, account text, amount int, status text, created text, expires text)",
    "create table ledger(id text primary key, account text, kind text, amount int, held_delta int, reason text,"
    " request text, hold text, created text)",
    "create table usage(id text primary key, account text, model text, status int, cost int, created text)",
    "insert into accounts values('a', 10000000000, 0)",
)


class Ledger:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            self.db.execute(statement)

    def hold(self, request_id: str) -> str | None:
        hold_id, db = uuid.uuid4().hex, self.db
        db.execute("BEGIN IMMEDIATE")
        if db.execute("update accounts set held=held+1000 where id='a' and balance-held>=1000").rowcount != 1:
            db.execute("ROLLBACK")
            return None
        db.execute("insert into holds values(?,?,?,?,?,?)", (hold_id, "a", 1000, "open", "t", "t"))
        db.execute(
            "insert into ledger values(?,?,?,?,?,?,?,?,?)",
            (uuid.uuid4().hex, "a", "hold", 0, 1000, "hold", request_id, hold_id, "t"),
        )
        db.execute("COMMIT")
        return hold_id

    def settle(self, hold_id: str, request_id: str) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "update holds set status='settled' where id=? and status='open' returning account, amount", (hold_id,)
        ).fetchall()
        db.execute("update accounts set held=held-1000, balance=balance-1000 where id='a'")
        db.execute(
            "insert into ledger values(?,?,?,?,?,?,?,?,?)",
            (uuid.uuid4().hex, "a", "capture", -1000, -1000, "x", request_id, hold_id, "t"),
        )
        db.execute("insert into usage values(?,?,?,?,?,?)", (request_id, "a", "m", 200, 1000, "t"))
        db.execute("COMMIT")


async def drive(ledger: Ledger, requests: int, concurrency: int) -> None:
    loop = asyncio.get_running_loop()
    thread = concurrent.futures.ThreadPoolExecutor(1)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            hold_id = await loop.run_in_executor(thread, ledger.hold, f"req{i}")
            await loop.run_in_executor(thread, ledger.settle, hold_id, f"req{i}")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(requests)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"raw sqlite3, one thread, 2 hops per request: {1000 * cpu / requests:.3f} ms CPU per request, "
        f"{requests / wall:,.0f} requests/s at {concurrency} in flight"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    a = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imagegate-micro-db-") as work:
        uvloop.run(drive(Ledger(Path(work) / "micro.db"), a.requests, a.concurrency))


if __name__ == "__main__":
    main()
