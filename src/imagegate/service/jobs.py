"""Async image jobs (`Prefer: respond-async`): accepted at once, run later by a worker on any node.

A job is admitted at submit exactly like a sync request (validation, rate limits, screening, price
and hold: every refusal is answered then, with its ordinary status), so a queued job carries its
hold. That hold belongs to the job, not to the node that took it: it names no node run (a restarted
node does not release it) and lives `JobTerms.hold_ttl_seconds`. The validated request is stored in
the database (an edit's images in the BlobStore, under `jobs/<job id>/`), so that any node's worker
can rebuild the admitted request and run the same `ImageService.execute` a sync request runs; the
answer is the sync body, kept in the job. Nothing is billed for a failed, cancelled or expired job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ..db.jobs import FINISHED, JobRow, JobsRepo, NewJob
from ..domain.edit_request import Upload
from ..domain.errors import (
    GatewayError,
    InvalidRequest,
    JobCancelled,
    JobExpired,
    JobNotCancellable,
    NotFound,
    StorageUnavailable,
)
from ..domain.json_body import parse_json_object
from ..domain.ports import BlobStore
from ..domain.pricing import PriceOverrides
from ..domain.principal import Principal
from ..domain.request import ImageRequest
from ..ids import new_id
from .admission import Admitted, Priced, Replay, Ticket
from .generation import ImageService, Prepare
from .job_events import JobEvents
from .settlement import Settlement
from .summary import RequestSummary

log = logging.getLogger("imagegate.jobs")

_JOB_ID = re.compile(r"^job_[0-9a-z]{26}$")
NOTIFY_AGAIN_AFTER_SECONDS = 60
"""A finished job whose owner was not told within this is announced again by the sweep..."""
NOTIFY_FOR_SECONDS = 86400
"""...each round, for at most this long after it finished."""
KEEP_FINISHED_SECONDS = 7 * 86400
"""Finished jobs (and their results) are kept this long, then deleted by the sweep."""
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
        """A job's hold outlives its longest legitimate life: queued, then every attempt's lease."""
        attempts = self.max_attempts + 1  # a requeued attempt (its node stopped) gets a fresh lease of queue time
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


def public_body(row: JobRow) -> dict[str, Any]:
    """The job as `GET /v1/images/jobs/{id}` answers it (and as JobEvents is told)."""
    body: dict[str, Any] = {
        "id": row.id,
        "object": "image.job",
        "status": row.status,
        "created": int(row.created_at.timestamp()),
    }
    if row.status in FINISHED and row.finished_at is not None:
        body["completed_at"] = int(row.finished_at.timestamp())
    if row.status == "completed" and row.result is not None:
        body["result"] = json.loads(row.result)
    if row.status == "failed" and row.error is not None:
        body["error"] = json.loads(row.error)
    return body


def _error_of(exc: BaseException) -> str:
    if isinstance(exc, GatewayError):
        return json.dumps(exc.body()["error"])
    return json.dumps(
        {
            "message": "The job failed inside the gateway. Nothing was charged.",
            "type": "server_error",
            "param": None,
            "code": "internal_error",
        }
    )


def _upload_key(job_id: str, index: int) -> str:
    return f"jobs/{job_id}/{index}"


def _overrides_json(overrides: PriceOverrides) -> str:
    return json.dumps([[*key, micros] for key, micros in overrides.items()])


def _overrides_of(stored: str) -> PriceOverrides:
    return {(m, q, s): int(micros) for m, q, s, micros in json.loads(stored)}


def _ticket_of(row: JobRow) -> Ticket:
    """The job's request as a worker runs it: its key and account, under the submit's request id."""
    principal = Principal(row.key_id, row.account_id, row.key_mode, None, currency=row.currency)
    return Ticket(principal, row.request_id, time.monotonic())


def _refuse_stream(request: ImageRequest) -> None:
    if request.stream:
        raise InvalidRequest(
            "'stream': true cannot be combined with 'Prefer: respond-async': a job's result is fetched "
            "from GET /v1/images/jobs/{id}. Send one or the other.",
            param="Prefer",
        )


class Jobs:
    def __init__(
        self,
        repo: JobsRepo,
        images: ImageService,
        settlement: Settlement,
        store: BlobStore,
        events: JobEvents,
        terms: JobTerms,
    ) -> None:
        self._repo = repo
        self._images = images
        self._settlement = settlement
        self._store = store
        self._events = events
        self.terms = terms
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    # -- submitting, reading, cancelling

    async def submit_generation(
        self,
        raw: bytes,
        principal: Principal,
        request_id: str,
        idempotency_key: str | None = None,
        summary: RequestSummary | None = None,
    ) -> JobAccepted:
        stored: dict[str, Any] = {}

        async def prepare() -> tuple[dict[str, Any], ImageRequest]:
            body = parse_json_object(raw)
            request = self._images.parse_generation(body)
            stored["payload"] = json.dumps(body)
            return body, request

        ticket = Ticket(principal, request_id, time.monotonic(), idempotency_key)
        return await self._submit(ticket, prepare, "generate", [], stored, summary)

    async def submit_edit(
        self,
        fields: dict[str, str],
        files: list[Upload],
        principal: Principal,
        request_id: str,
        idempotency_key: str | None = None,
        summary: RequestSummary | None = None,
    ) -> JobAccepted:
        stored: dict[str, Any] = {}

        async def prepare() -> tuple[dict[str, Any], ImageRequest]:
            body, request = await self._images.parse_edit(fields, files)
            stored["payload"] = json.dumps({"fields": fields, "files": [[f.field, f.filename] for f in files]})
            return body, request

        ticket = Ticket(principal, request_id, time.monotonic(), idempotency_key)
        return await self._submit(ticket, prepare, "edit", files, stored, summary)

    async def _submit(
        self,
        ticket: Ticket,
        prepare: Prepare,
        operation: str,
        uploads: list[Upload],
        stored: dict[str, Any],
        summary: RequestSummary | None,
    ) -> JobAccepted:
        async def prepare_job() -> tuple[dict[str, Any], ImageRequest]:
            body, request = await prepare()
            _refuse_stream(request)
            # The Idempotency-Key's hash covers the preference: the same key sent without it is a
            # different request (400 idempotency_key_reused), never a 202 replayed as a 200.
            return {"prefer": "respond-async", "body": body}, request

        admitted, _ = await self._images.admit(
            ticket, prepare_job, summary or RequestSummary(), job_hold_ttl=self.terms.hold_ttl_seconds
        )
        if isinstance(admitted, Replay):
            return JobAccepted(admitted.body, admitted.rate_headers, replayed=True)
        job_id = new_id("job")
        try:
            for index, upload in enumerate(uploads):
                await self._store.put_private(_upload_key(job_id, index), upload.data)
            created = await self._repo.create(self._new_job(job_id, admitted, operation, stored["payload"]))
            body = {"id": job_id, "object": "image.job", "status": "queued", "created": int(created.timestamp())}
            await self._settlement.accepted(admitted, body)
        except BaseException as exc:
            await asyncio.shield(self._settlement.abandon(admitted, None, exc))
            await asyncio.shield(self._forget_uploads(job_id, len(uploads)))
            raise
        finally:
            await self._images.leave(admitted)  # a queued job holds no connection
        self.wake()
        return JobAccepted(body, admitted.rate_headers)

    def _new_job(self, job_id: str, admitted: Admitted, operation: str, payload: str) -> NewJob:
        principal, priced = admitted.ticket.principal, admitted.priced
        return NewJob(
            id=job_id,
            account_id=principal.account_id,
            key_id=principal.key_id,
            key_mode=principal.mode,
            currency=principal.currency,
            request_id=admitted.ticket.request_id,
            operation=operation,
            payload=payload,
            hold_id=admitted.hold_id,
            billable=priced.billable,
            held_unit_micros=priced.held_unit,
            live_unit_micros=priced.live_unit,
            price_overrides=_overrides_json(priced.overrides),
            queue_seconds=self.terms.queue_ttl_seconds,
        )

    async def get(self, principal: Principal, job_id: str) -> dict[str, Any]:
        return public_body(await self._owned(principal, job_id))

    async def cancel(self, principal: Principal, job_id: str) -> dict[str, Any]:
        """Cancel a queued job: its hold released, nothing billed. A running or finished one: 409."""
        row = await self._repo.cancel(job_id, principal.account_id) if _JOB_ID.match(job_id) else None
        if row is None:
            existing = await self._owned(principal, job_id)
            raise JobNotCancellable(
                f"The job is {existing.status}; only a queued job can be cancelled.", code="job_not_cancellable"
            )
        await self._settlement.withdraw(
            _ticket_of(row), row.hold_id, JobCancelled("The job was cancelled before it started.")
        )
        await self._forget_uploads_of(row)
        return public_body(row)

    async def _owned(self, principal: Principal, job_id: str) -> JobRow:
        """The job of this principal's account; any other id (another account's, unknown, malformed): 404."""
        row = await self._repo.get(job_id, principal.account_id) if _JOB_ID.match(job_id) else None
        if row is None:
            raise NotFound(f"No job '{job_id[:64]}' for this account.", code="job_not_found")
        return row

    # -- the workers

    def wake(self) -> None:
        """A job was queued here: this node's idle workers look at once (no polling latency)."""
        self._wake.set()

    async def start(self) -> None:
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.terms.workers)]

    async def stop(self) -> None:
        """Stop the workers; a job they were running is queued again with its hold (another node,
        or this one restarted, runs it)."""
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []

    async def _work(self) -> None:
        while True:
            try:
                claimed = await self.run_one()
            except Exception:  # a database hiccup must not end the worker
                log.exception("job worker: claiming or running a job failed")
                claimed = False
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.terms.poll_seconds)
                self._wake.clear()

    async def run_one(self) -> bool:
        """Claim one runnable job and run it; False when there was none."""
        claimed = await self._repo.claim(self.terms.lease_seconds, self.terms.max_attempts)
        if claimed is None:
            return False
        row, token = claimed
        try:
            await self._run_claimed(row, token)
        except asyncio.CancelledError:  # the node is stopping: the job goes back to the queue, hold kept
            await asyncio.shield(self._repo.requeue(row.id, token, self.terms.lease_seconds))
            raise
        return True

    async def _run_claimed(self, row: JobRow, token: str) -> None:
        try:
            admitted = await self._rebuild(row)
        except Exception as exc:  # the stored request no longer validates, or its uploads are gone
            await self._settlement.withdraw(_ticket_of(row), row.hold_id, exc)
            await self._finish(row, token, "failed", None, _error_of(exc))
            return
        try:
            result = await self._images.execute(
                admitted, self._images.upstream_for(row.operation), release_on_cancel=False
            )
        except Exception as exc:  # execute released the hold and recorded the usage
            if not isinstance(exc, GatewayError):
                log.exception("job %s failed", row.id)
            await self._finish(row, token, "failed", None, _error_of(exc))
            return
        await self._finish(row, token, "completed", json.dumps(result.body), None)

    async def _rebuild(self, row: JobRow) -> Admitted:
        """The admitted request, as the submitting node had it, from the stored job."""
        payload = json.loads(row.payload)
        if row.operation == "edit":
            files = []
            for index, (part, filename) in enumerate(payload["files"]):
                data = await self._store.get_private(_upload_key(row.id, index))
                if data is None:
                    raise StorageUnavailable("The job's uploaded images are no longer in the image store.")
                files.append(Upload(part, filename, data))
            _, request = await self._images.parse_edit(payload["fields"], files)
        else:
            request = self._images.parse_generation(payload)
        priced = Priced(
            request,
            row.billable,
            _overrides_of(row.price_overrides),
            row.held_unit_micros,
            row.live_unit_micros,
        )
        return Admitted(_ticket_of(row), priced, row.hold_id, idempotency_claimed=False, in_flight=False)

    async def _finish(self, row: JobRow, token: str, status: str, result: str | None, error: str | None) -> None:
        if not await self._repo.finish(row.id, token, status, result, error):
            log.warning("job %s: its lease was taken over; this attempt's outcome is dropped", row.id)
            return
        await self._forget_uploads_of(row)
        finished = await self._repo.get(row.id, row.account_id)
        if finished is not None:
            await self._notify(finished)

    async def _notify(self, row: JobRow) -> None:
        """Tell JobEvents, then mark the job notified; a failure leaves it for the sweep."""
        try:
            await self._events.job_finished(row.account_id, row.key_id, public_body(row))
            await self._repo.mark_notified(row.id)
        except Exception:
            log.exception("job %s: announcing it failed; the sweep tries again", row.id)

    async def _forget_uploads_of(self, row: JobRow) -> None:
        if row.operation == "edit":
            await self._forget_uploads(row.id, len(json.loads(row.payload)["files"]))

    async def _forget_uploads(self, job_id: str, count: int) -> None:
        for index in range(count):
            try:
                await self._store.delete_private(_upload_key(job_id, index))
            except StorageUnavailable:
                log.warning("job %s: its upload %d could not be deleted", job_id, index)

    # -- the sweep (every node)

    async def sweep(self) -> dict[str, int]:
        """Fail jobs not started in time (or whose nodes kept dying), releasing their holds; announce
        finished jobs nobody was told of; delete old finished jobs."""
        expired = JobExpired(
            "The job did not run in time: no worker started it within the queue's time, or the nodes "
            "running it stopped. Nothing was charged."
        )
        failed = await self._repo.fail_stale(_error_of(expired), self.terms.max_attempts)
        for row in failed:
            await self._settlement.withdraw(_ticket_of(row), row.hold_id, expired)
            await self._forget_uploads_of(row)
            await self._notify(row)
        unnotified = await self._repo.unnotified(self.terms.notify_again_after_seconds, NOTIFY_FOR_SECONDS)
        for row in unnotified:
            await self._notify(row)
        forgotten = await self._repo.forget_finished(KEEP_FINISHED_SECONDS)
        return {"expired": len(failed), "notified": len(unnotified), "forgotten": forgotten}

    async def sweep_logged(self) -> None:
        """`sweep`, for the background loop: a failure is logged, and the next round tries again."""
        try:
            swept = await self.sweep()
        except Exception:
            log.exception("job sweep failed")
            return
        if swept["expired"]:
            log.warning("failed %d job(s) that did not run in time; their holds were released", swept["expired"])


__all__ = ["JobAccepted", "JobTerms", "Jobs", "public_body"]
