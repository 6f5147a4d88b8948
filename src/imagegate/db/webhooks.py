"""The webhook outbox: one row per message (job id x status), one row per attempt, and each key's URL.

Delivery loops on many nodes share the outbox. A loop *claims* due messages with one UPDATE that
stamps them with its claim token and moves `next_attempt_at` to the end of a lease (on PostgreSQL
the rows are picked `FOR UPDATE SKIP LOCKED`; SQLite runs one writer at a time). A claimed message is
not due again until its lease ends, so no two loops send the same attempt; a loop that dies
mid-send leaves the message to be claimed again when the lease ends (at least once). The result is
written only by the claim's holder (`WHERE claim = token`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..domain.ids import new_id
from .tables import account_budgets, api_keys, webhook_attempts, webhook_messages

MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A key's webhook: its account, URL (None: no webhook) and secret version."""

    key_id: str
    account_id: str
    url: str | None
    version: int


@dataclass(frozen=True, slots=True)
class NewMessage:
    id: str
    account_id: str
    key_id: str
    job_id: str
    event_type: str
    body: str


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message this loop may send once, now: with the key's URL and secret version as they are now."""

    id: str
    key_id: str
    body: str
    attempts: int
    first_attempt_at: datetime | None
    claim: str
    url: str | None
    version: int


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt: int
    url: str | None
    status_code: int | None
    error: str | None
    """What went wrong in detail (a socket error, a TLS alert): the operator's to read."""
    duration_ms: int
    attempted_at: datetime
    reason: str | None = None
    """What went wrong in a few words that reveal nothing of the receiver's network: the account's."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a claimed message leaves its attempt: `status` (pending: retry at `next_attempt_at`)."""

    status: str
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    account_id: str
    key_id: str
    job_id: str
    event_type: str
    status: str
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None
    history: tuple[Attempt, ...]


class WebhooksRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    async def set_url(self, key_id: str, url: str) -> Endpoint | None:
        """Point the key at `url` and move its secret to the next version; None when there is no such key."""
        query = (
            update(api_keys)
            .where(api_keys.c.id == key_id)
            .values(webhook_url=url, webhook_version=api_keys.c.webhook_version + 1)
            .returning(api_keys.c.account_id, api_keys.c.webhook_version)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).first()
        return Endpoint(key_id, row.account_id, url, int(row.webhook_version)) if row else None

    async def clear_url(self, key_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(webhook_url=None))
        return result.rowcount == 1

    async def endpoint(self, key_id: str) -> Endpoint | None:
        c = api_keys.c
        query = select(c.account_id, c.webhook_url, c.webhook_version).where(c.id == key_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return Endpoint(key_id, row.account_id, row.webhook_url, int(row.webhook_version)) if row else None

    async def enqueue(self, message: NewMessage, now: datetime) -> bool:
        """Add the message, due now; False when it is already there (the same job and status again)."""
        values = {
            "id": message.id,
            "account_id": message.account_id,
            "key_id": message.key_id,
            "job_id": message.job_id,
            "event_type": message.event_type,
            "body": message.body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        dialect_insert = pg_insert if self._dialect == "postgresql" else sqlite_insert
        query = dialect_insert(webhook_messages).values(**values).on_conflict_do_nothing(index_elements=["id"])
        async with self._engine.begin() as conn:
            result = await conn.execute(query)
        return result.rowcount == 1

    async def next_due(self) -> datetime | None:
        """When the first pending message falls due (now or earlier: it is due; a retry's time; a
        claim's end); None when none is pending. One read, no write lock: what an idle sender asks."""
        m = webhook_messages.c
        async with self._engine.connect() as conn:
            due: datetime | None = await conn.scalar(select(func.min(m.next_attempt_at)).where(m.status == "pending"))
        return due

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
        """Claim up to `limit` due messages for one attempt each, until `lease_until` (a write
        transaction even when none is due: ask `next_due` first)."""
        m = webhook_messages.c
        due = and_(m.status == "pending", m.next_attempt_at <= now)
        picked = select(m.id).where(due).order_by(m.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
        token = new_id("clm")
        claim = (
            update(webhook_messages)
            .where(m.id.in_(picked.scalar_subquery()), due)  # `due` again: re-checked on a row another loop took
            .values(claim=token, next_attempt_at=lease_until)
        )
        # `key_id` names a key, or an account whose alerts go to the account's own URL
        alerts = account_budgets.c
        claimed = (
            select(
                m.id,
                m.key_id,
                m.body,
                m.attempts,
                m.first_attempt_at,
                func.coalesce(api_keys.c.webhook_url, alerts.webhook_url).label("webhook_url"),
                func.coalesce(api_keys.c.webhook_version, alerts.webhook_version).label("webhook_version"),
            )
            .select_from(
                webhook_messages.outerjoin(api_keys, api_keys.c.id == m.key_id).outerjoin(
                    account_budgets, alerts.account_id == m.key_id
                )
            )
            .where(m.claim == token, m.status == "pending")
        )
        async with self._engine.begin() as conn:
            await conn.execute(claim)
            rows = (await conn.execute(claimed)).all()
        return [
            Claimed(
                r.id,
                r.key_id,
                r.body,
                int(r.attempts),
                r.first_attempt_at,
                token,
                r.webhook_url,
                int(r.webhook_version or 0),
            )
            for r in rows
        ]

    async def record(self, message: Claimed, attempt: Attempt, outcome: Outcome) -> bool:
        """Write one attempt and where the message goes next; False when the claim was lost (nothing written)."""
        m = webhook_messages.c
        final = outcome.status != "pending"
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(webhook_messages)
                .where(m.id == message.id, m.claim == message.claim, m.status == "pending")
                .values(
                    status=outcome.status,
                    attempts=m.attempts + 1,
                    next_attempt_at=outcome.next_attempt_at,
                    claim=None,
                    first_attempt_at=message.first_attempt_at or attempt.attempted_at,
                    last_attempt_at=attempt.attempted_at,
                    last_status_code=attempt.status_code,
                    last_error=_clip(attempt.error),
                    finished_at=attempt.attempted_at if final else None,
                )
            )
            if result.rowcount != 1:
                return False
            await conn.execute(
                insert(webhook_attempts).values(
                    message_id=message.id,
                    attempt=attempt.attempt,
                    url=attempt.url,
                    status_code=attempt.status_code,
                    error=_clip(attempt.error),
                    duration_ms=attempt.duration_ms,
                    attempted_at=attempt.attempted_at,
                    reason=attempt.reason,
                )
            )
        return True

    async def messages(
        self,
        *,
        account_id: str | None = None,
        status: str | None = None,
        before: str | None = None,
        limit: int = 20,
    ) -> list[MessageRecord]:
        """Messages newest first (one account's, or all), each with its attempts; `before`: a message id,
        for the next page."""
        m = webhook_messages.c
        query = select(webhook_messages).order_by(m.created_at.desc(), m.id.desc()).limit(limit)
        if account_id is not None:
            query = query.where(m.account_id == account_id)
        if status is not None:
            query = query.where(m.status == status)
        async with self._engine.connect() as conn:
            if before is not None:
                cursor = (await conn.execute(select(m.created_at).where(m.id == before))).scalar()
                if cursor is None:
                    return []
                query = query.where(or_(m.created_at < cursor, and_(m.created_at == cursor, m.id < before)))
            rows = (await conn.execute(query)).all()
            history = await _attempts(conn, [r.id for r in rows])
        return [_record(r._mapping, history.get(r.id, ())) for r in rows]


async def _attempts(conn: AsyncConnection, ids: list[str]) -> dict[str, tuple[Attempt, ...]]:
    if not ids:
        return {}
    a = webhook_attempts.c
    rows = (await conn.execute(select(webhook_attempts).where(a.message_id.in_(ids)).order_by(a.attempt))).all()
    found: dict[str, list[Attempt]] = {}
    for r in rows:
        found.setdefault(r.message_id, []).append(
            Attempt(r.attempt, r.url, r.status_code, r.error, r.duration_ms, r.attempted_at, r.reason)
        )
    return {k: tuple(v) for k, v in found.items()}


def _record(row: Any, history: tuple[Attempt, ...]) -> MessageRecord:
    return MessageRecord(
        id=row["id"],
        account_id=row["account_id"],
        key_id=row["key_id"],
        job_id=row["job_id"],
        event_type=row["event_type"],
        status=row["status"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        history=history,
    )


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR_CHARS]


__all__ = [
    "Attempt",
    "Claimed",
    "Endpoint",
    "MessageRecord",
    "NewMessage",
    "Outcome",
    "WebhooksRepo",
]
