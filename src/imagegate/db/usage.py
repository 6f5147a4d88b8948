"""One usage record per authenticated request, success or refusal, and the queries over them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from .runner import EngineRunner, Runner
from .tables import usage_records

MAX_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class UsageRecord:
    id: str
    account_id: str
    key_id: str
    model: str | None
    route: str | None
    attempts: int
    n: int | None
    delivered: int
    size: str | None
    quality: str | None
    status: int
    error_code: str | None
    cost_micros: int
    unit_price_micros: int
    latency_ms: int
    user: str | None
    surface: str
    """The API the request came through: `images`, `chat`, `responses`, `job` (an async job), `batch`."""
    created_at: datetime
    lost_images: int = 0
    """Images the upstream made (the operator pays for them upstream) that the client never got:
    withheld by output screening, or made for a request that then failed. What a margin report
    counts as the operator's loss, at the route's upstream price."""
    upstream_cost_micros: int = 0
    """What the upstream calls that made images for it cost the operator (every attempt, delivered
    or not), in micro-USD under the routes' cost sheets (`domain/upstream_cost.py`)."""
    upstream_cost_estimated: bool = False
    """Some of that cost is the sheet's per-image figure: an upstream reported no usage it prices."""

    def as_json(self, *, upstream_cost: bool = False) -> dict[str, Any]:
        """The record as the API shows it; what it cost upstream only to the operator (`upstream_cost`)."""
        data = asdict(self)
        if not upstream_cost:
            del data["upstream_cost_micros"], data["upstream_cost_estimated"]
        data.update(created=int(self.created_at.timestamp()), time=self.created_at.isoformat())
        del data["created_at"]
        return data


INSERT_USAGE = insert(usage_records)
"""Built once: executed with `asdict(record)` as its parameters."""
_INSERT_ONCE = {
    "postgresql": postgresql.insert(usage_records).on_conflict_do_nothing(index_elements=["id"]),
    "sqlite": sqlite.insert(usage_records).on_conflict_do_nothing(index_elements=["id"]),
}


def insert_once(record: UsageRecord, conn: Connection) -> None:
    """Write the record unless its request already has one: a write retried after its commit was in
    doubt (the database went away) must not fail on the row its first try left."""
    conn.execute(_INSERT_ONCE[conn.dialect.name], asdict(record))


def mark_refunded(record: UsageRecord, conn: Connection) -> None:
    """The request's charge was given back: its record says how it ended (`record`'s status and
    error code) and that it cost nothing, nor delivered anything; written if it had none."""
    c = usage_records.c
    rewritten = conn.execute(
        update(usage_records)
        .where(c.id == record.id)
        .values(status=record.status, error_code=record.error_code, cost_micros=0, delivered=0)
    )
    if not rewritten.rowcount:
        insert_once(record, conn)


class UsageRepo:
    def __init__(self, engine: AsyncEngine, runner: Runner | None = None) -> None:
        self._engine = engine
        self._runner = runner or EngineRunner(engine)

    async def record(self, record: UsageRecord) -> None:
        """Write the request's record (once: a retry after an in-doubt commit adds nothing)."""
        await self._runner.write(partial(insert_once, record))

    async def query(
        self, start: datetime, end: datetime, account_id: str | None = None, limit: int = MAX_ROWS
    ) -> tuple[list[UsageRecord], dict[str, Any]]:
        """Records in [start, end), newest first (at most `limit`), and totals over all of them."""
        where = [usage_records.c.created_at >= start, usage_records.c.created_at < end]
        if account_id is not None:
            where.append(usage_records.c.account_id == account_id)
        rows_query = select(usage_records).where(*where).order_by(usage_records.c.created_at.desc()).limit(limit)
        totals_query = select(
            func.count().label("requests"),
            func.coalesce(func.sum(usage_records.c.delivered), 0).label("images"),
            func.coalesce(func.sum(usage_records.c.cost_micros), 0).label("cost_micros"),
        ).where(*where)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(rows_query)).all()
            totals = (await conn.execute(totals_query)).one()
        records = [UsageRecord(**row._mapping) for row in rows]
        return records, {
            "requests": totals.requests,
            "images": int(totals.images),
            "cost_micros": int(totals.cost_micros),
        }


__all__ = ["INSERT_USAGE", "UsageRecord", "UsageRepo", "insert_once", "mark_refunded"]
