"""One usage record per authenticated request, success or refusal."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from .tables import usage_records


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
    created_at: datetime


class UsageRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, record: UsageRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(usage_records).values(**asdict(record)))


__all__ = ["UsageRecord", "UsageRepo"]
