"""The job workers' `JobEvents`, batch-aware: a finished job that runs a batch's line wakes the
batch runner (which reads the job's end from the jobs table, `BatchesRepo.ended_jobs`) and sends no
webhook of its own (the batch sends one when it ends); any other job goes on to the webhooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...db.batches import BatchesRepo
from ..jobs.events import JobEvents


class BatchJobEvents:
    def __init__(self, inner: JobEvents, repo: BatchesRepo, wake: Callable[[], None]) -> None:
        self._inner = inner
        self._repo = repo
        self._wake = wake

    async def job_finished(self, account_id: str, key_id: str, job: dict[str, Any]) -> None:
        if await self._repo.is_batch_job(str(job.get("id"))):
            self._wake()
            return
        await self._inner.job_finished(account_id, key_id, job)


__all__ = ["BatchJobEvents"]
