"""The workers that run async jobs on every node, and the sweep that ends the jobs nobody will run.

Each of a node's `IMAGEGATE_JOB_WORKERS` workers claims one runnable job at a time (`db/jobs.py`:
no two nodes run the same job), rebuilds the admitted request from the stored job and runs the same
`ImageService.execute` a sync request runs, then keeps the answer (or the error) in the job and tells
`JobEvents`. An idle worker waits for a wake-up (`domain/wakeups.py`: a job queued on this node, or
on any node while PostgreSQL's notices arrive) or the poll interval (only a safety net, 30 s or more,
while notices arrive).
A node that stops puts its running jobs back in the queue, their holds kept and the attempt given
back (a rolling restart is not a failure); one that dies leaves them to be taken again when their
leases expire. Every way a job ends without its result reaching the client ends its money the same
way, `Settlement.end_job`: released, or refunded if an attempt had captured it, and the job's error
says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from ...db.jobs import JobRow
from ...domain.errors import GatewayError, JobCancelled, JobExpired
from ...domain.wakeups import LocalWakeups, Wakeups
from ..images.admission import Admitted, Priced
from ..images.billing import Billing
from ..images.operations import Operation
from ..patience import while_unreachable
from .events import JobEvents
from .jobs import JobParts
from .records import error_json, overrides_of, public_body, ticket_of

log = logging.getLogger("imagegate.jobs")

NOTIFY_FOR_SECONDS = 86400
"""A finished job nobody was told of is announced again by each sweep, for at most this long."""
KEEP_FINISHED_SECONDS = 7 * 86400
"""Finished jobs (and their results) are kept this long, then deleted by the sweep."""
ENDING_GRACE_SECONDS = 60
"""A job ended (failed, cancelled) this long ago whose hold is still open or captured had its ending
cut short (its node died in between): the sweep ends its money."""


class JobWorkers:
    def __init__(self, parts: JobParts, events: JobEvents, wakeups: Wakeups | None = None) -> None:
        """`wakeups`: what tells the workers that jobs were queued (they subscribe to `jobs`), and how
        long an idle one waits before looking anyway."""
        self._parts = parts
        self._events = events
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._wakeups = wakeups or LocalWakeups()
        self._wakeups.subscribe("jobs", self.wake)

    def wake(self) -> None:
        """A job was queued (here, or on another node that said so): idle workers look at once."""
        self._wake.set()

    async def start(self) -> None:
        self._workers = [asyncio.create_task(self._work()) for _ in range(self._parts.terms.workers)]

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
                    await asyncio.wait_for(
                        self._wake.wait(), self._wakeups.idle_seconds(self._parts.terms.poll_seconds)
                    )
                self._wake.clear()

    async def run_one(self) -> bool:
        """Claim one runnable job and run it; False when there was none."""
        claimed = await self._parts.repo.claim(self._parts.terms.lease_seconds, self._parts.terms.max_attempts)
        if claimed is None:
            return False
        row, token = claimed
        try:
            await self._run_claimed(row, token)
        except asyncio.CancelledError:  # the node is stopping: the job goes back to the queue, hold kept
            await asyncio.shield(self._parts.repo.requeue(row.id, token, self._parts.terms.lease_seconds))
            self._wakeups.notify("jobs")  # another node's idle workers take it now
            raise
        return True

    async def _run_claimed(self, row: JobRow, token: str) -> None:
        if row.hold_id is not None:  # an earlier attempt may have billed it (its node died or stopped)
            status = await self._parts.settlement.hold_status(row.hold_id)
            if status != "open":
                ended = JobExpired("The job's hold ended before it could run. Nothing was charged.")
                await self._fail(row, token, ended)
                return
        try:
            admitted, operation = await self._rebuild(row)
        except Exception as exc:  # unknown operation, the stored request no longer validates, or its uploads are gone
            await self._fail(row, token, exc)
            return
        try:
            result = await self._parts.images.execute(admitted, operation, release_on_cancel=False)
        except Exception as exc:  # execute released the hold and recorded the usage (a capture may have landed)
            if not isinstance(exc, GatewayError):
                log.exception("job %s failed", row.id)
            await self._fail(row, token, exc, recorded=True)
            return
        await self._finish(row, token, "completed", json.dumps(result.body), None)

    async def _fail(self, row: JobRow, token: str, exc: BaseException, *, recorded: bool = False) -> None:
        """End the job's money (`Settlement.end_job`: released, or refunded if an attempt captured it),
        then keep the error, which says which."""
        error = await self._parts.settlement.end_job(row.id, ticket_of(row), row.hold_id, exc, recorded=recorded)
        await self._finish(row, token, "failed", None, error_json(error))

    async def _rebuild(self, row: JobRow) -> tuple[Admitted, Operation]:
        """The admitted request and its operation, as the submitting node had them, from the stored job."""
        operation = await self._parts.uploads.operation_of(row)
        request = await self._parts.images.validate(operation)
        priced = Priced(
            request,
            row.billable,
            overrides_of(row.price_overrides),
            row.held_unit_micros,
            row.live_unit_micros,
        )
        return Admitted(ticket_of(row), priced, row.hold_id, idempotency_claimed=False, in_flight=False), operation

    async def _finish(self, row: JobRow, token: str, status: str, result: str | None, error: str | None) -> None:
        async def finish() -> bool:
            return await self._parts.repo.finish(row.id, token, status, result, error)

        # A completed job is billed by now: ride out a database blip rather than leave it to be re-run.
        if not await while_unreachable(finish, Billing.SETTLE_PATIENCE_SECONDS):
            log.warning("job %s: its lease was taken over; this attempt's outcome is dropped", row.id)
            return
        await self._parts.uploads.forget_of(row)
        finished = await self._parts.repo.get(row.id, row.account_id)
        if finished is not None:
            await self._notify(finished)

    async def _notify(self, row: JobRow) -> None:
        """Tell JobEvents, then mark the job notified; a failure leaves it for the sweep."""
        try:
            await self._events.job_finished(row.account_id, row.key_id, public_body(row))
            await self._parts.repo.mark_notified(row.id)
        except Exception:
            log.exception("job %s: announcing it failed; the sweep tries again", row.id)

    async def sweep(self) -> dict[str, int]:
        """Fail jobs not started in time (or whose nodes kept dying) and end their money as every job
        ends it (`Settlement.end_job`); end the money of ended jobs whose ending was cut short (their
        node died between the two); announce finished jobs nobody was told of; delete old ones."""
        expired = JobExpired(
            "The job did not run in time: no worker started it within the queue's time, or the nodes "
            "running it stopped. Nothing was charged."
        )
        failed = await self._parts.repo.fail_stale(error_json(expired), self._parts.terms.max_attempts)
        for row in failed:
            ended = await self._end_failed(row, expired)
            await self._parts.uploads.forget_of(row)
            await self._notify(ended)
        unsettled = await self._parts.repo.ended_with_money_left(ENDING_GRACE_SECONDS)
        for row in unsettled:
            await self._end_failed(
                row, JobCancelled("The job was cancelled.") if row.status == "cancelled" else expired
            )
        unnotified = await self._parts.repo.unnotified(self._parts.terms.notify_again_after_seconds, NOTIFY_FOR_SECONDS)
        for row in unnotified:
            await self._notify(row)
        forgotten = await self._parts.repo.forget_finished(KEEP_FINISHED_SECONDS)
        return {"expired": len(failed), "notified": len(unnotified), "forgotten": forgotten, "settled": len(unsettled)}

    async def _end_failed(self, row: JobRow, exc: GatewayError) -> JobRow:
        """A job already marked failed or cancelled: end its money, and if that refunded a charge, say
        so in its error instead of "nothing was charged". The job as it now reads."""
        error = await self._parts.settlement.end_job(row.id, ticket_of(row), row.hold_id, exc)
        if error is exc or row.status != "failed":
            return row
        await self._parts.repo.amend_error(row.id, error_json(error))
        return await self._parts.repo.get(row.id, row.account_id) or row

    async def sweep_logged(self) -> None:
        """`sweep`, for the background loop: a failure is logged, and the next round tries again."""
        try:
            swept = await self.sweep()
        except Exception:
            log.exception("job sweep failed")
            return
        if swept["expired"]:
            log.warning("failed %d job(s) that did not run in time; their money ended", swept["expired"])
        if swept["settled"]:
            log.warning("ended the money of %d job(s) whose node died while ending them", swept["settled"])


__all__ = ["JobWorkers"]
