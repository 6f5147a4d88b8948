"""Read-only views over the usage records for the pages: latencies of a model, activity per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from .tables import api_keys, usage_records

MAX_SAMPLE_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class LatencySample:
    size: str | None
    quality: str | None
    latency_ms: int


@dataclass(frozen=True, slots=True)
class ActivityRow:
    created_at: datetime
    status: int
    delivered: int
    cost_micros: int


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class UsageStatsRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def latencies(self, model_id: str, since: datetime) -> list[LatencySample]:
        """The successful requests of live keys for `model_id` since `since`: what the upstream took.
        A test key's request is an offline preview and a replay took no work: neither is counted."""
        c = usage_records.c
        query = (
            select(c.size, c.quality, c.latency_ms)
            .join(api_keys, api_keys.c.id == c.key_id)
            .where(c.model == model_id, c.status == 200, c.created_at >= since, api_keys.c.mode == "live")
            .where((c.route.is_(None)) | (c.route != "idempotent-replay"))
            .order_by(c.created_at.desc())  # past the cap, the newest
            .limit(MAX_SAMPLE_ROWS)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [LatencySample(r.size, r.quality, int(r.latency_ms)) for r in rows]

    async def activity(self, since: datetime, account_id: str | None = None) -> list[ActivityRow]:
        """Every request since `since` (one account's, or all), oldest first."""
        c = usage_records.c
        query = select(c.created_at, c.status, c.delivered, c.cost_micros).where(c.created_at >= since)
        if account_id is not None:
            query = query.where(c.account_id == account_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(c.created_at).limit(MAX_SAMPLE_ROWS))).all()
        return [ActivityRow(_aware(r.created_at), int(r.status), int(r.delivered), int(r.cost_micros)) for r in rows]


__all__ = ["ActivityRow", "LatencySample", "UsageStatsRepo"]
