"""What an idle node costs: database statements and CPU per second while no work comes (issue 21).

    .venv/bin/python bench/idle_polls.py [--seconds 30] [--databases sqlite,postgres] [--settle 3]
        [--postgres-admin postgresql://postgres@127.0.0.1:5432/postgres] [--env NAME=VALUE ...]

Starts one node in this process (`imagegate.node.Node`, the default settings: 4 job workers, the
webhook sender, the batch runner, the sweeps) on a fresh SQLite file or a throwaway PostgreSQL
database, lets it settle, then counts over `--seconds`: SQL statements (SQLAlchemy's
`before_cursor_execute`, every engine), asyncpg's `Connection.execute` calls (transaction control,
and the listening connection's pings and notices) and this process's CPU time. Prints one JSON row per
database. To measure older code, put its `src` first: `PYTHONPATH=/tmp/old/src` (a tree made by
`git archive COMMIT src | tar -x -C /tmp/old`).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Engine

import imagegate
from imagegate.config import load_settings
from imagegate.node import Node
from pgdb import ThrowawayDatabase


class Counts:
    def __init__(self) -> None:
        self.c: collections.Counter[str] = collections.Counter()
        event.listen(Engine, "before_cursor_execute", lambda *_: self.c.update(["statements"]))
        execute = asyncpg.Connection.execute

        async def counted(conn, query, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.c.update(["asyncpg execute"])
            return await execute(conn, query, *args, **kwargs)

        asyncpg.Connection.execute = counted  # type: ignore[method-assign]


async def idle(env: dict[str, str], seconds: float, settle: float, counts: Counts) -> dict[str, float]:
    node = Node(load_settings(env))
    await node.start()
    try:
        await asyncio.sleep(settle)  # the first rounds (every loop looks once at start) are not idling
        before, cpu = counts.c.copy(), time.process_time()
        await asyncio.sleep(seconds)  # the measurement itself: what the node does on its own meanwhile
        used, spent = counts.c - before, time.process_time() - cpu
    finally:
        await node.stop()
    return {
        "statements_per_s": round(used["statements"] / seconds, 3),
        "asyncpg_execute_per_s": round(used["asyncpg execute"] / seconds, 3),
        "cpu_ms_per_s": round(spent * 1000 / seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--settle", type=float, default=3)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE over the node's settings")
    args = parser.parse_args()
    counts = Counts()
    for database in args.databases.split(","):
        with tempfile.TemporaryDirectory(prefix="idle-polls-") as tmp:
            env = {"IMAGEGATE_DATA_DIR": str(Path(tmp) / "data"), "IMAGEGATE_SIGNING_SECRET": "idle-bench"}
            env.update(item.split("=", 1) for item in args.env)
            throwaway = ThrowawayDatabase(args.postgres_admin) if database == "postgres" else None
            if throwaway is not None:
                env["IMAGEGATE_DATABASE_URL"] = throwaway.create()
            try:
                row = asyncio.run(idle(env, args.seconds, args.settle, counts))
            finally:
                if throwaway is not None:
                    throwaway.drop()
        print(json.dumps({"database": database, "code": str(Path(imagegate.__file__).parent), **row}))


if __name__ == "__main__":
    main()
