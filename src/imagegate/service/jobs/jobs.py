"""Async image jobs (`Prefer: respond-async`): accepted at once, run later by a worker on any node.

This module submits, reads and cancels jobs; `service.jobs.workers` runs them, and
`service.jobs.records` says how one is kept and shown. A job is admitted at submit exactly like a
sync request (validation, rate limits, screening, price and hold: every refusal is answered then,
with its ordinary status), so a queued job carries its hold. That hold belongs to the job, not to
the node that took it: it names no node run (a restarted node does not release it) and lives
`JobTerms.hold_ttl_seconds`. The job stores its operation (`service.images.operations`: its name and
payload; an edit's images in the BlobStore, under `jobs/<job id>/`), so that any node's worker can
rebuild the admitted request and run the same `ImageService.execute` a sync request runs; the
answer is the sync body, kept in the job. Nothing is billed for a failed, cancelled or expired job:
each ends its money in `Settlement.end_job` (released, or refunded if an attempt had captured it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ...db.jobs import JobRow, JobsRepo, NewJob
from ...domain.errors import InvalidRequest, JobCancelled, JobNotCancellable, NotFound
from ...domain.ids import is_id, new_id
from ...domain.principal import Principal
from ...domain.request import ImageRequest
from ...domain.text import check_id
from ..images.admission import Admitted, Replay, Ticket
from ..images.generation import ImageService, Prepared, Read
from ..images.operations import Operation
from ..images.settlement import Settlement
from ..images.summary import RequestSummary
from .records import JobUploads, overrides_json, public_body, ticket_of

NOTIFY_AGAIN_AFTER_SECONDS = 60
"""A finished job whose owner was not told within this is announced again by the sweep."""
HOLD_MARGIN_SECONDS = 60


@dataclass(frozen=True, slots=True)
class JobTerms:
    workers: int
    poll_seconds: float
    queue_ttl_seconds: int
    lease_seconds: float
    """How long one attempt may run before another node may take the job (the request deadline plus
    a margin): a node that died holding a job is known by its lease expiring."""
    max_attempts: int = 3
    notify_again_after_seconds: float = NOTIFY_AGAIN_AFTER_SECONDS

    @property
    def hold_ttl_seconds(self) -> int:
        """A job's hold outlives its longest legitimate life: queued, then every attempt's lease, and
        one more for a run its node gave back on a clean stop. A job whose runs keep being given back
        (restart after restart) may outlive its hold: it then fails, its hold released, nothing charged."""
        attempts = self.max_attempts + 1
        return int(self.queue_ttl_seconds + attempts * self.lease_seconds + HOLD_MARGIN_SECONDS)


@dataclass(frozen=True, slots=True)
class JobAccepted:
    """The 202 of a submitted job (or its Idempotency-Key's replay)."""

    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False

    @property
    def location(self) -> str:
        return f"/v1/images/jobs/{self.body['id']}"


def _refuse_stream(request: ImageRequest) -> None:
    if request.stream:
        raise InvalidRequest(
            "'stream': true cannot be combined with 'Prefer: respond-async': a job's result is fetched "
            "from GET /v1/images/jobs/{id}. Send one or the other.",
            param="Prefer",
        )


@dataclass(frozen=True, slots=True)
class JobParts:
    """What submitting a job (`Jobs`) and running one (`JobWorkers`) both work on: the jobs table, the
    image pipeline that admits and executes it, the settlement that ends its money, its uploads, and the
    terms both keep to."""

    repo: JobsRepo
    images: ImageService
    settlement: Settlement
    uploads: JobUploads
    terms: JobTerms


class Jobs:
    """Submitting, reading and cancelling jobs; `service.jobs.workers` runs them."""

    def __init__(self, parts: JobParts, wake: Callable[[], None]) -> None:
        """`wake`: tells this node's idle workers that a job was queued (no polling latency)."""
        self._parts = parts
        self._wake = wake

    async def submit(
        self, source: Operation | Read, ticket: Ticket, summary: RequestSummary | None = None
    ) -> JobAccepted:
        """Admit any operation as a job and queue it: the 202 body (or its Idempotency-Key's replay).
        The job's usage record, written when it ends, is on the `job` surface (a batch's line: `batch`)."""
        ticket = replace(ticket, surface="batch" if ticket.surface == "batch" else "job")

        async def prepare_job() -> Prepared:
            prepared = await self._parts.images.prepare(source)
            _refuse_stream(prepared.request)
            # The Idempotency-Key's hash covers the preference: the same key sent without it is a
            # different request (400 idempotency_key_reused), never a 202 replayed as a 200.
            return replace(prepared, idempotency_body={"prefer": "respond-async", "body": prepared.idempotency_body})

        admitted, prepared = await self._parts.images.admit(
            ticket, prepare_job, summary or RequestSummary(), job_hold_ttl=self._parts.terms.hold_ttl_seconds
        )
        if isinstance(admitted, Replay):
            return JobAccepted(admitted.body, admitted.rate_headers, replayed=True)
        operation, job_id = prepared.operation, new_id("job")
        uploads = operation.uploads()
        created = None
        try:
            await self._parts.uploads.keep(job_id, uploads)
            created = await self._parts.repo.create(self._new_job(job_id, admitted, operation))
            body = {"id": job_id, "object": "image.job", "status": "queued", "created": int(created.timestamp())}
            await self._parts.settlement.accepted(admitted, body)
        except BaseException as exc:
            if created is not None:  # the client never learns of this job: it must not run
                await asyncio.shield(self._parts.repo.cancel(job_id, admitted.ticket.principal.account_id))
            await asyncio.shield(self._parts.settlement.abandon(admitted, None, exc))
            await asyncio.shield(self._parts.uploads.forget(job_id, len(uploads)))
            raise
        finally:
            await self._parts.images.leave(admitted)  # a queued job holds no connection
        self._wake()
        return JobAccepted(body, admitted.rate_headers)

    def _new_job(self, job_id: str, admitted: Admitted, operation: Operation) -> NewJob:
        principal, priced = admitted.ticket.principal, admitted.priced
        return NewJob(
            id=job_id,
            account_id=principal.account_id,
            key_id=principal.key_id,
            key_mode=principal.mode,
            currency=principal.currency,
            request_id=admitted.ticket.request_id,
            operation=operation.name,
            payload=operation.job_payload(),
            hold_id=admitted.hold_id,
            billable=priced.billable,
            held_unit_micros=priced.held_unit,
            live_unit_micros=priced.live_unit,
            price_overrides=overrides_json(priced.overrides),
            queue_seconds=self._parts.terms.queue_ttl_seconds,
            surface=admitted.ticket.surface,
        )

    async def get(self, principal: Principal, job_id: str) -> dict[str, Any]:
        check_id(job_id, "job_id")
        return public_body(await self._owned(principal, job_id))

    async def cancel(self, principal: Principal, job_id: str) -> dict[str, Any]:
        """Cancel a queued job: its hold released, nothing billed. A running or finished one: 409."""
        check_id(job_id, "job_id")
        row = await self._parts.repo.cancel(job_id, principal.account_id) if is_id(job_id, "job") else None
        if row is None:
            existing = await self._owned(principal, job_id)
            raise JobNotCancellable(
                f"The job is {existing.status}; only a queued job can be cancelled.", code="job_not_cancellable"
            )
        await self._parts.settlement.end_job(
            row.id, ticket_of(row), row.hold_id, JobCancelled("The job was cancelled before it started.")
        )
        await self._parts.uploads.forget_of(row)
        return public_body(row)

    async def _owned(self, principal: Principal, job_id: str) -> JobRow:
        """The job of this principal's account; any other id (another account's, unknown, malformed): 404."""
        row = await self._parts.repo.get(job_id, principal.account_id) if is_id(job_id, "job") else None
        if row is None:
            raise NotFound(f"No job '{job_id[:64]}' for this account.", code="job_not_found")
        return row


__all__ = ["JobAccepted", "JobParts", "JobTerms", "Jobs"]
