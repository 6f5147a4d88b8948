"""Gateway runs (one per process) and what a dead run leaves behind: open holds, running idempotency claims.

Every process registers a row when it starts; the holds it takes and the idempotency keys it claims
carry its `run_id`. Releasing a run closes its open holds (credit back, ledger entries written, as
the sweeper does) and gives back its running claims, so a client may retry them at once.
Which runs are dead is decided in service/recovery.py; this module only reads and writes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .ledger import _close
from .runner import Runner
from .tables import holds, idempotency_keys, node_runs


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    node_id: str
    boot_id: str
    pid: int
    process_start: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Released:
    holds: int
    claims: int


class RunsRepo:
    def __init__(self, engine: AsyncEngine, runner: Runner) -> None:
        self._engine = engine
        self._runner = runner

    async def register(self, run: RunRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(node_runs).values(asdict(run)))  # a record is its row, column for column

    async def runs_of(self, node_id: str) -> list[RunRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(node_runs).where(node_runs.c.node_id == node_id))).all()
        return [RunRecord(r.run_id, r.node_id, r.boot_id, r.pid, r.process_start, r.started_at) for r in rows]

    async def release(self, run_id: str, reason: str) -> Released:
        """Close every open hold of `run_id`, give back its running claims, forget the run."""
        async with self._engine.connect() as conn:
            open_holds = (
                (await conn.execute(select(holds.c.id).where(holds.c.run_id == run_id, holds.c.status == "open")))
                .scalars()
                .all()
            )
        released = 0
        for hold_id in open_holds:
            if await self._runner.write(partial(_close, hold_id, 0, reason, "released")):
                released += 1
        async with self._engine.begin() as conn:
            claims = await conn.execute(
                delete(idempotency_keys).where(
                    and_(idempotency_keys.c.run_id == run_id, idempotency_keys.c.status == "running")
                )
            )
            await conn.execute(delete(node_runs).where(node_runs.c.run_id == run_id))
        return Released(released, claims.rowcount or 0)

    async def forget(self, run_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(node_runs).where(node_runs.c.run_id == run_id))


__all__ = ["Released", "RunRecord", "RunsRepo"]
