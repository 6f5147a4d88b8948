"""The seam through which a finished async job is announced (the webhooks plug in here).

A worker calls `job_finished` when a job reaches `completed` or `failed`, with the job's public body
(what `GET /v1/images/jobs/{id}` answers), then marks the job notified. A node can die between the
two, so the sweep calls it again for jobs finished over a minute ago and never marked (each round,
for a day): delivery is at least once, and an implementation deduplicates by job id and status.
Cancelled jobs are not announced (their owner cancelled them).
"""

from __future__ import annotations

from typing import Any, Protocol


class JobEvents(Protocol):
    async def job_finished(self, account_id: str, key_id: str, job: dict[str, Any]) -> None:
        """Announce the finished job; raising leaves it unmarked, so the sweep tries again."""
        ...


class NoJobEvents:
    """The default: nobody is told (a client polls the job)."""

    async def job_finished(self, account_id: str, key_id: str, job: dict[str, Any]) -> None:
        return None


__all__ = ["JobEvents", "NoJobEvents"]
