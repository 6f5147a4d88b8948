"""Async image jobs in the database, shared by every node.

A job is claimed with ONE statement (an UPDATE of the row a sub-select picks): on PostgreSQL the
sub-select locks `FOR UPDATE SKIP LOCKED`, so nodes claiming at once take different jobs; SQLite runs
one writer at a time, so the UPDATE … RETURNING is atomic by itself. A claim gives the job a lease
(a fresh token and a time); every later change of a running job names that token, so a node whose
lease was taken over (it was thought dead) changes nothing. A running job whose lease expired is
claimed again, up to `max_attempts` claims in all; a claim its node gave back on a clean stop
(`requeue`) does not count. An idle worker's poll finds nothing with a plain
read and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..domain.ids import new_id
from .clock import utcnow
from .tables import holds, jobs

FINISHED = ("completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class _JobFields:
    """What a job is, as submitted: who, what to run, and the hold with the prices it was taken at."""

    id: str
    account_id: str
    key_id: str
    key_mode: str
    currency: str
    request_id: str
    operation: str
    payload: str
    hold_id: str | None
    billable: bool
    held_unit_micros: int
    live_unit_micros: int
    price_overrides: str
    surface: str
    """`job`, or `batch` for a line of a batch (its usage record says which)."""


@dataclass(frozen=True, slots=True)
class NewJob(_JobFields):
    queue_seconds: float


@dataclass(frozen=True, slots=True)
class JobRow(_JobFields):
    status: str
    attempts: int
    lease_token: str | None
    created_at: datetime
    finished_at: datetime | None
    result: str | None
    error: str | None


_ROW_FIELDS = tuple(f.name for f in fields(JobRow))
_NEW_FIELDS = tuple(f.name for f in fields(NewJob) if f.name != "queue_seconds")
_COLUMNS = tuple(jobs.c[name] for name in _ROW_FIELDS)


def _row(r: Any) -> JobRow:
    return JobRow(**{name: getattr(r, name) for name in _ROW_FIELDS})


class JobsRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def create(self, job: NewJob) -> datetime:
        """Insert the queued job; its creation time."""
        now = utcnow()
        values: dict[str, Any] = {name: getattr(job, name) for name in _NEW_FIELDS}
        values.update(
            status="queued",
            attempts=0,
            created_at=now,
            queue_expires_at=now + timedelta(seconds=job.queue_seconds),
        )
        async with self._engine.begin() as conn:
            await conn.execute(insert(jobs).values(**values))
        return now

    async def get(self, job_id: str, account_id: str) -> JobRow | None:
        """The job, only for the account that submitted it."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(*_COLUMNS).where(jobs.c.id == job_id, jobs.c.account_id == account_id))
            ).first()
        return _row(row) if row is not None else None

    async def cancel(self, job_id: str, account_id: str) -> JobRow | None:
        """Cancel the job if it is still queued: the cancelled row, or None (not queued, or not theirs)."""
        now = utcnow()
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.status == "queued")
                    .values(status="cancelled", finished_at=now, notified_at=now)
                    .returning(*_COLUMNS)
                )
            ).first()
        return _row(row) if row is not None else None

    async def claim(self, lease_seconds: float, max_attempts: int) -> tuple[JobRow, str] | None:
        """Take the oldest runnable job (queued in time, or running with an expired lease and attempts
        left) with a fresh lease: (the job, its lease token), or None when there is none."""
        now = utcnow()
        runnable = or_(
            and_(jobs.c.status == "queued", jobs.c.queue_expires_at > now, jobs.c.attempts < max_attempts),
            and_(jobs.c.status == "running", jobs.c.lease_until < now, jobs.c.attempts < max_attempts),
        )
        pick = select(jobs.c.id).where(runnable).order_by(jobs.c.created_at).limit(1)
        async with self._engine.connect() as conn:  # an idle poll only reads: no write lock, no transaction
            if (await conn.execute(pick)).first() is None:
                return None
        if self._postgres:
            pick = pick.with_for_update(skip_locked=True)
        token = new_id("lease")
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == pick.scalar_subquery(), runnable)
                    .values(
                        status="running",
                        attempts=jobs.c.attempts + 1,
                        lease_token=token,
                        lease_until=now + timedelta(seconds=lease_seconds),
                        started_at=now,
                    )
                    .returning(*_COLUMNS)
                )
            ).first()
        return (_row(row), token) if row is not None else None

    async def finish(self, job_id: str, token: str, status: str, result: str | None, error: str | None) -> bool:
        """Record the outcome of the claim `token`; False when the claim is no longer the job's."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "running", jobs.c.lease_token == token)
                .values(status=status, result=result, error=error, finished_at=utcnow(), lease_until=None)
            )
        return bool(done.rowcount)

    async def requeue(self, job_id: str, token: str, queue_seconds: float) -> None:
        """Put a claimed job back in the queue (its node is stopping cleanly), for at least
        `queue_seconds`, and give back the attempt: a rolling restart is not a failure of the job."""
        now = utcnow()
        async with self._engine.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "running", jobs.c.lease_token == token)
                .values(
                    status="queued",
                    attempts=jobs.c.attempts - 1,
                    lease_token=None,
                    lease_until=None,
                    queue_expires_at=now + timedelta(seconds=queue_seconds),
                )
            )

    async def fail_stale(self, error: str, max_attempts: int, limit: int = 100) -> list[JobRow]:
        """Fail queued jobs past their queue time and running ones whose last lease expired with no
        attempts left: the failed rows (their holds are still to be released)."""
        now = utcnow()
        stale = or_(
            and_(jobs.c.status == "queued", or_(jobs.c.queue_expires_at <= now, jobs.c.attempts >= max_attempts)),
            and_(jobs.c.status == "running", jobs.c.lease_until < now, jobs.c.attempts >= max_attempts),
        )
        async with self._engine.connect() as conn:
            ids = (await conn.execute(select(jobs.c.id).where(stale).limit(limit))).scalars().all()
        failed = []
        for job_id in ids:  # one by one, each guarded: a job claimed meanwhile is left alone
            async with self._engine.begin() as conn:
                row = (
                    await conn.execute(
                        update(jobs)
                        .where(jobs.c.id == job_id, stale)
                        .values(status="failed", error=error, finished_at=now, lease_until=None)
                        .returning(*_COLUMNS)
                    )
                ).first()
            if row is not None:
                failed.append(_row(row))
        return failed

    async def amend_error(self, job_id: str, error: str) -> None:
        """Replace a failed job's error (its money ended otherwise than the first error said)."""
        async with self._engine.begin() as conn:
            await conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "failed").values(error=error))

    async def ended_with_money_left(self, older_than_seconds: float, limit: int = 100) -> list[JobRow]:
        """Failed or cancelled jobs, ended more than `older_than_seconds` ago, whose hold is still open
        or captured: their node died between ending the job and ending its money."""
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        query = (
            select(*_COLUMNS)
            .select_from(jobs.join(holds, holds.c.id == jobs.c.hold_id))
            .where(
                jobs.c.status.in_(("failed", "cancelled")),
                jobs.c.finished_at < cutoff,
                holds.c.status.in_(("open", "settled")),
            )
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_row(r) for r in rows]

    async def unnotified(self, older_than_seconds: float, within_seconds: float, limit: int = 100) -> list[JobRow]:
        """Finished (completed or failed) jobs whose owner was not yet told, finished more than
        `older_than_seconds` and less than `within_seconds` ago (announcing is retried that long)."""
        now = utcnow()
        cutoff = now - timedelta(seconds=older_than_seconds)
        oldest = now - timedelta(seconds=within_seconds)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(*_COLUMNS)
                    .where(
                        jobs.c.status.in_(("completed", "failed")),
                        jobs.c.notified_at.is_(None),
                        jobs.c.finished_at < cutoff,
                        jobs.c.finished_at > oldest,
                    )
                    .order_by(jobs.c.finished_at)
                    .limit(limit)
                )
            ).all()
        return [_row(r) for r in rows]

    async def mark_notified(self, job_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.notified_at.is_(None)).values(notified_at=utcnow())
            )

    async def forget_finished(self, older_than_seconds: float, limit: int = 1000) -> int:
        """Delete jobs that finished longer ago than that; how many went."""
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        old = select(jobs.c.id).where(jobs.c.status.in_(FINISHED), jobs.c.finished_at < cutoff).limit(limit)
        async with self._engine.begin() as conn:
            gone = await conn.execute(delete(jobs).where(jobs.c.id.in_(old)))
        return gone.rowcount or 0


__all__ = ["FINISHED", "JobRow", "JobsRepo", "NewJob"]
