"""Count the database work of one image request: statements, transactions, pool checkouts, thread hops.

    .venv/bin/python bench/count_db.py [--requests 50] [--response-format url] [--postgres] [--concurrency 1]

`--postgres` runs it on a throwaway database on the local PostgreSQL (created and dropped here,
`--postgres-admin` names the server); there the round trips per request are counted too: statements,
BEGIN, COMMIT/ROLLBACK and the pool's pre-ping on each checkout.

Runs the gateway in this process (create_app + its lifespan, called through httpx's ASGI transport)
against bench/fake_upstream.py, with a live key on a funded account, and counts with SQLAlchemy's
event hooks (every engine and pool) and a wrapper around aiosqlite's hop to its worker thread. Prints
the counts per request and the statements of one request in order. Nothing in src/ is changed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosqlite
import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from imagegate.asgi import create_app
from imagegate.config import load_settings
from imagegate.wiring import open_admin
from scenarios import operator_toml

HERE = Path(__file__).resolve().parent


class Counts:
    def __init__(self) -> None:
        self.c: collections.Counter[str] = collections.Counter()
        self.statements: list[str] = []

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self._statement)
        # sqlite3 connections (the SQLite runner's): every statement as SQLite runs it, raw ones included
        # (ledger_sqlite.py bypasses SQLAlchemy), so those are counted here and not by the hook above
        self.traced: set[int] = set()  # their ids (a sqlite3 connection takes no weak reference)
        event.listen(Pool, "connect", self._trace_sqlite)
        event.listen(Engine, "begin", lambda conn: self.c.update(["begin"]))
        event.listen(Engine, "commit", lambda conn: self.c.update(["commit"]))
        event.listen(Engine, "rollback", lambda conn: self.c.update(["rollback"]))
        event.listen(Pool, "checkout", lambda *a: self.c.update(["pool checkout"]))
        event.listen(Pool, "reset", lambda *a: self.c.update(["pool reset (rollback on return)"]))
        original = aiosqlite.Connection._execute

        async def hop(conn, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.c.update(["aiosqlite thread hop"])
            return await original(conn, fn, *args, **kwargs)

        aiosqlite.Connection._execute = hop  # type: ignore[method-assign]
        from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

        ping = PGDialect_asyncpg.do_ping

        def counted_ping(dialect, dbapi_connection):  # type: ignore[no-untyped-def]
            # asyncpg's ping outside autocommit is BEGIN, `;`, ROLLBACK (pgbouncer support): 3 trips
            self.c.update(["pre-ping (3 round trips each)"])
            return ping(dialect, dbapi_connection)

        PGDialect_asyncpg.do_ping = counted_ping  # type: ignore[method-assign]
        # what asyncpg really sends: BEGIN only outside autocommit, COMMIT/ROLLBACK only in a transaction
        from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection as Adapted

        start, commit, rollback = Adapted._start_transaction, Adapted.commit, Adapted.rollback

        async def counted_start(conn):  # type: ignore[no-untyped-def]
            if conn.isolation_level != "autocommit":
                self.c.update(["pg BEGIN sent"])
            return await start(conn)

        def counted_end(original, name):  # type: ignore[no-untyped-def]
            def end(conn):  # type: ignore[no-untyped-def]
                if conn._transaction is not None:
                    self.c.update([name])
                return original(conn)

            return end

        # the request path's raw asyncpg work (ledger_pg.py): every statement it sends, a batch's
        # transaction (BEGIN, its statements, COMMIT) included
        import contextvars

        import asyncpg

        from imagegate.db.runner import PostgresRunner

        direct = contextvars.ContextVar("direct", default=False)
        entry = "raw" if hasattr(PostgresRunner, "raw") else "fetchrow"  # (a baseline's src has no `raw`)
        raw = getattr(PostgresRunner, entry)

        async def counted_raw(runner, *args):  # type: ignore[no-untyped-def]
            token = direct.set(True)
            try:
                return await raw(runner, *args)
            finally:
                direct.reset(token)

        def counting(method):  # type: ignore[no-untyped-def]
            async def counted(conn, query, *args, **kwargs):  # type: ignore[no-untyped-def]
                if direct.get():
                    self.c.update(["statement"])
                    self.statements.append(" ".join(query.split()[:2]) + " (asyncpg, direct)")
                return await method(conn, query, *args, **kwargs)

            return counted

        for name in ("fetchrow", "fetch", "execute"):
            setattr(asyncpg.Connection, name, counting(getattr(asyncpg.Connection, name)))
        setattr(PostgresRunner, entry, counted_raw)
        Adapted._start_transaction = counted_start  # type: ignore[method-assign]
        Adapted.commit = counted_end(commit, "pg COMMIT sent")  # type: ignore[method-assign]
        Adapted.rollback = counted_end(rollback, "pg ROLLBACK sent")  # type: ignore[method-assign]

    def _trace_sqlite(self, dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        if isinstance(dbapi_connection, sqlite3.Connection):
            self.traced.add(id(dbapi_connection))
            dbapi_connection.set_trace_callback(self._traced)

    def _traced(self, statement: str) -> None:
        if statement.startswith("--") or "'main'." in statement[:40]:
            return  # SQLite's own statements inside one of ours (the FTS5 index's tables)
        if statement.split(maxsplit=1)[0].upper() in ("COMMIT", "ROLLBACK"):
            return  # counted as events, like the other engines'
        self._count(statement)

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if id(conn.connection.dbapi_connection) not in self.traced:
            self._count(statement)

    def _count(self, statement: str) -> None:
        self.c.update(["statement"])
        words = statement.split()
        verb = words[0].upper()
        table = next((words[i + 1] for i, w in enumerate(words[:-1]) if w.upper() in ("FROM", "INTO", "UPDATE")), "")
        self.statements.append(f"{verb} {table}".strip())


async def generate(client: httpx.AsyncClient, key: str, body: dict) -> None:
    r = await client.post("/v1/images/generations", json=body, headers={"authorization": f"Bearer {key}"})
    r.raise_for_status()


async def measure(args: argparse.Namespace, env: dict[str, str]) -> dict:
    settings = load_settings(env)
    async with open_admin(settings) as admin:
        account = await admin.accounts.create("count-db")
        await admin.ledger.add_credit(account["id"], "1000", "count")
        key = (await admin.keys.create(account["id"], test=False, models=None, rpm=None))["key"]
    counts = Counts()
    counts.install()
    app = create_app(settings)
    body = {"model": "bench-tiny", "prompt": "a fox", "size": "256x256", "response_format": args.response_format}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            for _ in range(5):
                await generate(client, key, body)
            counts.c.clear()
            counts.statements.clear()
            await generate(client, key, body)
            one = list(counts.statements)
            counts.c.clear()
            counts.statements.clear()
            started = time.perf_counter()
            for start in range(0, args.requests, args.concurrency):  # waves of `concurrency` at once
                wave = min(args.concurrency, args.requests - start)
                await asyncio.gather(*(generate(client, key, body) for _ in range(wave)))
            elapsed = time.perf_counter() - started
    per_request = {k: round(v / args.requests, 2) for k, v in sorted(counts.c.items())}
    if settings.database.url.startswith("postgresql"):
        # SQLAlchemy's begin/commit/rollback events fire in autocommit too; count what asyncpg sent
        trips = sum(counts.c[k] for k in ("statement", "pg BEGIN sent", "pg COMMIT sent", "pg ROLLBACK sent"))
        trips += 3 * counts.c["pre-ping (3 round trips each)"]
        per_request["postgres round trips"] = round(trips / args.requests, 2)
    return {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "per_request": per_request,
        "one_request_statements": one,
        "per_request_by_statement": {
            k: round(v / args.requests, 2) for k, v in collections.Counter(counts.statements).most_common()
        },
        "ms_per_request_in_process": round(1000 * elapsed / args.requests, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--response-format", default="url")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="requests in flight at once (one account): batches form"
    )
    parser.add_argument("--port", type=int, default=9177)
    parser.add_argument("--postgres", action="store_true", help="a throwaway database on the local PostgreSQL")
    parser.add_argument("--postgres-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="imagegate-countdb-"))
    (work / "bench-models.toml").write_text(operator_toml())
    env = {
        "IMAGEGATE_DATA_DIR": str(work / "data"),
        "IMAGEGATE_CONFIG": str(work / "bench-models.toml"),
        "IMAGEGATE_SIGNING_SECRET": "count",
        "OPENAI_API_KEY": "sk-count",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{args.port}/v1",
    }
    database = None
    if args.postgres:
        from pgdb import ThrowawayDatabase

        database = ThrowawayDatabase(args.postgres_admin, "imagegate_countdb")
        env["IMAGEGATE_DATABASE_URL"] = database.create()
    fake = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "fake_upstream.py"),
            "--port",
            str(args.port),
            "--api-key",
            "sk-count",
            "--render",
            "256x256:flat",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        fake.stdout.readline()  # the fake prints its first line once it listens
        print(json.dumps(asyncio.run(measure(args, env)), indent=1))
    finally:
        fake.terminate()
        fake.wait(timeout=10)
        subprocess.run(["rm", "-rf", str(work)], check=False)
        if database is not None:
            database.drop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
