"""The Batch API's rows: uploaded files (`file-…`; their bytes are in the BlobStore under
`batch_files/<id>`), batches, and each batch's lines with the job that ran each.

A line moves `pending -> dispatching -> dispatched -> completed | failed`, or from pending (or a
queued job) to `cancelled` / `expired`; every move is one guarded UPDATE, so two nodes' runners
never move the same line twice. A batch is advanced by one node at a time: `lease` takes it for a
short while (a node that died holding it is known by the lease running out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from .clock import utcnow
from .tables import batch_files, batch_lines, batches, jobs

ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
"""A batch the runner still advances."""
LINE_OPEN = ("pending", "dispatching", "dispatched")
INSERT_CHUNK = 500


@dataclass(frozen=True, slots=True)
class FileRow:
    id: str
    account_id: str
    purpose: str
    filename: str
    bytes: int
    lines: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: str
    account_id: str
    key_id: str
    key_mode: str
    currency: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    metadata: str | None
    prices: str
    quote_micros: int
    total: int
    output_file_id: str | None
    error_file_id: str | None
    created_at: datetime
    in_progress_at: datetime | None
    expires_at: datetime
    finalizing_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    expired_at: datetime | None
    cancelling_at: datetime | None
    cancelled_at: datetime | None
    notified_at: datetime | None


@dataclass(frozen=True, slots=True)
class LineRow:
    batch_id: str
    line: int
    custom_id: str
    body: str
    status: str
    job_id: str | None
    request_id: str | None
    status_code: int | None
    result: str | None


@dataclass(frozen=True, slots=True)
class LineEnd:
    """How a line ended: its status, the answer's HTTP status and body (or error) as JSON."""

    status: str
    status_code: int | None
    result: str | None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class EndedJob:
    line: int
    status: str
    result: str | None
    error: str | None


_FILE_COLUMNS = tuple(batch_files.c[f.name] for f in fields(FileRow))
_BATCH_COLUMNS = tuple(batches.c[f.name] for f in fields(BatchRow))
_LINE_COLUMNS = tuple(batch_lines.c[f.name] for f in fields(LineRow))


def _file(r: Any) -> FileRow:
    return FileRow(**{f.name: getattr(r, f.name) for f in fields(FileRow)})


def _batch(r: Any) -> BatchRow:
    return BatchRow(**{f.name: getattr(r, f.name) for f in fields(BatchRow)})


def _line(r: Any) -> LineRow:
    return LineRow(**{f.name: getattr(r, f.name) for f in fields(LineRow)})


class BatchesRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- files

    async def add_file(self, row: FileRow) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(batch_files).values(**{f.name: getattr(row, f.name) for f in fields(FileRow)}))

    async def get_file(self, file_id: str, account_id: str) -> FileRow | None:
        where = (batch_files.c.id == file_id, batch_files.c.account_id == account_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(*_FILE_COLUMNS).where(*where))).first()
        return _file(row) if row is not None else None

    async def delete_file(self, file_id: str, account_id: str) -> bool:
        where = (batch_files.c.id == file_id, batch_files.c.account_id == account_id)
        async with self._engine.begin() as conn:
            gone = await conn.execute(delete(batch_files).where(*where))
        return bool(gone.rowcount)

    # -- batches

    async def create(self, row: BatchRow, lines: Sequence[tuple[int, str, str]]) -> None:
        """The batch and its lines (line, custom_id, body JSON), all pending, in one transaction."""
        values = {f.name: getattr(row, f.name) for f in fields(BatchRow)}
        async with self._engine.begin() as conn:
            await conn.execute(insert(batches).values(**values))
            for start in range(0, len(lines), INSERT_CHUNK):
                chunk = lines[start : start + INSERT_CHUNK]
                await conn.execute(
                    insert(batch_lines),
                    [
                        {"batch_id": row.id, "line": n, "custom_id": c, "body": b, "status": "pending"}
                        for n, c, b in chunk
                    ],
                )

    async def get(self, batch_id: str, account_id: str | None = None) -> BatchRow | None:
        query = select(*_BATCH_COLUMNS).where(batches.c.id == batch_id)
        if account_id is not None:
            query = query.where(batches.c.account_id == account_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _batch(row) if row is not None else None

    async def page(self, account_id: str, after: str | None, limit: int) -> list[BatchRow]:
        """The account's batches, newest first (ids sort by creation), after the id `after`."""
        query = select(*_BATCH_COLUMNS).where(batches.c.account_id == account_id)
        if after is not None:
            query = query.where(batches.c.id < after)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(batches.c.id.desc()).limit(limit))).all()
        return [_batch(r) for r in rows]

    async def active(self, limit: int = 1000) -> list[str]:
        """Batches the runner still advances, and finished ones nobody was told of, whose lease is free,
        oldest first."""
        now = utcnow()
        free = or_(batches.c.lease_until.is_(None), batches.c.lease_until < now)
        wanted = or_(batches.c.status.in_(ACTIVE), batches.c.notified_at.is_(None))
        async with self._engine.connect() as conn:
            query = select(batches.c.id).where(wanted, free).order_by(batches.c.id).limit(limit)
            ids = (await conn.execute(query)).scalars().all()
        return list(ids)

    async def lease(self, batch_id: str, seconds: float) -> BatchRow | None:
        """Take the batch for `seconds` (no other node advances it meanwhile); None when another has it."""
        now = utcnow()
        free = or_(batches.c.lease_until.is_(None), batches.c.lease_until < now)
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id, free)
                    .values(lease_until=now + timedelta(seconds=seconds))
                    .returning(*_BATCH_COLUMNS)
                )
            ).first()
        return _batch(row) if row is not None else None

    async def release(self, batch_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(batches).where(batches.c.id == batch_id).values(lease_until=None))

    async def move(self, batch_id: str, from_status: Sequence[str], to_status: str, **values: Any) -> bool:
        """Move the batch from one of `from_status` to `to_status` (with its time column set now)."""
        now = utcnow()
        stamp = {f"{to_status}_at": now} if f"{to_status}_at" in batches.c else {}
        async with self._engine.begin() as conn:
            moved = await conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status.in_(tuple(from_status)))
                .values(status=to_status, **stamp, **values)
            )
        return bool(moved.rowcount)

    async def mark_notified(self, batch_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(batches).where(batches.c.id == batch_id).values(notified_at=utcnow()))

    # -- lines

    async def counts(self, batch_id: str) -> dict[str, int]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(batch_lines.c.status, func.count())
                    .where(batch_lines.c.batch_id == batch_id)
                    .group_by(batch_lines.c.status)
                )
            ).all()
        return {status: int(count) for status, count in rows}

    async def lines(self, batch_id: str, statuses: Sequence[str], limit: int, after: int = 0) -> list[LineRow]:
        """The batch's lines in these states, in file order, after line `after`."""
        query = (
            select(*_LINE_COLUMNS)
            .where(batch_lines.c.batch_id == batch_id, batch_lines.c.status.in_(tuple(statuses)))
            .where(batch_lines.c.line > after)
            .order_by(batch_lines.c.line)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_line(r) for r in rows]

    async def move_line(
        self, batch_id: str, line: int, from_status: Sequence[str], to_status: str, **values: Any
    ) -> bool:
        where = and_(
            batch_lines.c.batch_id == batch_id,
            batch_lines.c.line == line,
            batch_lines.c.status.in_(tuple(from_status)),
        )
        async with self._engine.begin() as conn:
            moved = await conn.execute(
                update(batch_lines).where(where).values(status=to_status, moved_at=utcnow(), **values)
            )
        return bool(moved.rowcount)

    async def end_line(self, batch_id: str, line: int, from_status: Sequence[str], end: LineEnd) -> bool:
        values: dict[str, Any] = {"status_code": end.status_code, "result": end.result}
        if end.request_id is not None:
            values["request_id"] = end.request_id
        return await self.move_line(batch_id, line, from_status, end.status, **values)

    async def end_pending(self, batch_id: str, status: str, result: str) -> int:
        """End every pending line (never started: no money) as `status` with the error `result`."""
        async with self._engine.begin() as conn:
            moved = await conn.execute(
                update(batch_lines)
                .where(batch_lines.c.batch_id == batch_id, batch_lines.c.status == "pending")
                .values(status=status, result=result, moved_at=utcnow())
            )
        return moved.rowcount or 0

    async def is_batch_job(self, job_id: str) -> bool:
        async with self._engine.connect() as conn:
            surface = (await conn.execute(select(jobs.c.surface).where(jobs.c.id == job_id))).scalar()
        return surface == "batch"

    async def ended_jobs(self, batch_id: str, limit: int = 500) -> list[EndedJob]:
        """The batch's dispatched lines whose jobs have ended (completed, failed or cancelled)."""
        query = (
            select(batch_lines.c.line, jobs.c.status, jobs.c.result, jobs.c.error)
            .select_from(batch_lines.join(jobs, jobs.c.id == batch_lines.c.job_id))
            .where(
                batch_lines.c.batch_id == batch_id,
                batch_lines.c.status == "dispatched",
                jobs.c.status.in_(("completed", "failed", "cancelled")),
            )
            .order_by(batch_lines.c.line)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [EndedJob(r.line, r.status, r.result, r.error) for r in rows]

    async def stale_dispatching(self, batch_id: str, older_than_seconds: float) -> int:
        """Lines left `dispatching` by a node that died meanwhile go back to pending (their
        Idempotency-Key makes a second submit answer the first one's job, never a second job)."""
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        async with self._engine.begin() as conn:
            moved = await conn.execute(
                update(batch_lines)
                .where(
                    batch_lines.c.batch_id == batch_id,
                    batch_lines.c.status == "dispatching",
                    batch_lines.c.moved_at < cutoff,
                )
                .values(status="pending")
            )
        return moved.rowcount or 0


__all__ = ["ACTIVE", "LINE_OPEN", "BatchRow", "BatchesRepo", "EndedJob", "FileRow", "LineEnd", "LineRow"]
