"""Account limits and safety additions, and the safety audit log."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..domain.ids import new_id
from ..domain.principal import AccountLimits
from ..domain.safety_policy import AccountSafety
from .clock import utcnow
from .tables import accounts, safety_events


@dataclass(frozen=True, slots=True)
class SafetyEvent:
    id: str
    request_id: str
    account_id: str
    key_id: str
    action: str  # block | flag
    stage: str  # gateway | upstream
    category: str | None
    code: str | None
    prompt: str | None
    created_at: datetime


class SafetyEventsRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(
        self,
        *,
        request_id: str,
        account_id: str,
        key_id: str,
        action: str,
        stage: str,
        category: str | None,
        code: str | None,
        prompt: str | None,
    ) -> SafetyEvent:
        event = SafetyEvent(
            new_id("sev"), request_id, account_id, key_id, action, stage, category, code, prompt, utcnow()
        )
        async with self._engine.begin() as conn:
            await conn.execute(insert(safety_events).values(**asdict(event)))
        return event

    async def list(
        self, *, account_id: str | None = None, include_flags: bool = False, limit: int = 100
    ) -> list[SafetyEvent]:
        """Newest first."""
        query = select(safety_events).order_by(safety_events.c.created_at.desc(), safety_events.c.id.desc())
        if account_id is not None:
            query = query.where(safety_events.c.account_id == account_id)
        if not include_flags:
            query = query.where(safety_events.c.action == "block")
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).all()
        return [SafetyEvent(**row._mapping) for row in rows]


class AccountPolicyRepo:
    """The per-account columns the limiter and the screening read (through the key lookup)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def set_limits(self, account_id: str, limits: AccountLimits) -> bool:
        values = {"rpm": limits.rpm, "ipm": limits.ipm, "max_in_flight": limits.max_in_flight}
        return await self._update(account_id, values)

    async def set_safety(self, account_id: str, safety: AccountSafety) -> bool:
        stored = (
            None
            if safety.empty
            else json.dumps(
                {"block_terms": list(safety.block_terms), "block_categories": list(safety.block_categories)}
            )
        )
        return await self._update(account_id, {"safety": stored})

    async def _update(self, account_id: str, values: Mapping[str, object]) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))
        return result.rowcount == 1


__all__ = ["AccountPolicyRepo", "SafetyEvent", "SafetyEventsRepo"]
