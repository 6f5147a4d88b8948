"""Idempotency keys, shared by every node through the database.

Keys are scoped by (account, key mode): a test key and a live key of one account never share a key
space, so a free preview is never replayed to a live key nor a paid image to a test key; two live
keys of one account do share it (a client that rotates its key mid-retry still gets its replay).

A key is claimed with one INSERT (the primary key makes the race safe); the first request's
successful response is kept for 24 hours and replayed. A failed request gives its key back, so a
client may retry a failure with the same key. A claim whose node died is taken over once its lock
expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from .clock import utcnow
from .tables import idempotency_keys

RETENTION = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Claim:
    """The state of a key when a request tried to claim it."""

    status: str  # "claimed" (ours now), "running" (another request has it), "done", "mismatch"
    response_status: int | None = None
    response_body: str | None = None
    response_cost_micros: int | None = None


class IdempotencyRepo:
    def __init__(self, engine: AsyncEngine, run_id: str | None = None) -> None:
        self._engine = engine
        self._run_id = run_id  # this process's run: a restart gives back its running claims

    async def claim(
        self, account_id: str, key: str, body_hash: str, request_id: str, lock_seconds: float, *, mode: str
    ) -> Claim:
        now = utcnow()
        values = {
            "account_id": account_id,
            "mode": mode,
            "key": key,
            "body_hash": body_hash,
            "request_id": request_id,
            "status": "running",
            "locked_until": now + timedelta(seconds=lock_seconds),
            "expires_at": now + RETENTION,
            "created_at": now,
            "run_id": self._run_id,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(idempotency_keys).values(**values))
            return Claim("claimed")
        except IntegrityError:
            pass
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.account_id == account_id,
                        idempotency_keys.c.mode == mode,
                        idempotency_keys.c.key == key,
                    )
                )
            ).first()
            if row is None:  # given back in between: try once more from the top
                return await self.claim(account_id, key, body_hash, request_id, lock_seconds, mode=mode)
            if row.expires_at <= now or (row.status == "running" and row.locked_until <= now):
                taken = await conn.execute(
                    update(idempotency_keys)
                    .where(
                        idempotency_keys.c.account_id == account_id,
                        idempotency_keys.c.mode == mode,
                        idempotency_keys.c.key == key,
                        idempotency_keys.c.request_id == row.request_id,
                    )
                    .values(**values)
                )
                return Claim("claimed") if taken.rowcount == 1 else Claim("running")
        if row.body_hash != body_hash:
            return Claim("mismatch")
        if row.status == "running":
            return Claim("running")
        return Claim("done", row.response_status, row.response_body, row.response_cost_micros)

    async def complete(
        self, account_id: str, key: str, request_id: str, status: int, body: str, cost: int, *, mode: str
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.account_id == account_id,
                    idempotency_keys.c.mode == mode,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.request_id == request_id,
                )
                .values(status="done", response_status=status, response_body=body, response_cost_micros=cost)
            )

    async def give_back(self, account_id: str, key: str, request_id: str, *, mode: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.account_id == account_id,
                    idempotency_keys.c.mode == mode,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.request_id == request_id,
                )
            )


__all__ = ["Claim", "IdempotencyRepo"]
