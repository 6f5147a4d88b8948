"""The loop every node runs to advance batches: start them, hand their lines to the job queue a
few at a time, end what must end (cancel, expiry), and write the output and error files.

A line becomes an async job through `Jobs.submit`, exactly as a client's job would (validation,
rate limits, screening, the hold), on the `batch` surface and at the batch's price cards fixed at
submit; the job workers run it and bill it. At most `concurrency` lines of a batch are in the queue
or running at once. A line is submitted under an Idempotency-Key of its own, so a node that died
between submitting it and recording its job leaves a line whose next submit answers the same job.
A refusal that may pass (rate limit, a dependency away) leaves the line for the next round; any
other refusal is the line's failure. Cancelling (or the completion window ending) ends the lines
not yet started and cancels the queued jobs (`Jobs.cancel`: their holds released); running ones
finish. A job's end reaches its line through `service.batch_events`. Only the node holding a
batch's lease advances it.

While a batch is active the runner looks every `poll_seconds` (a line refused for now is tried again
then); with none, it waits for a wake-up (`domain/wakeups.py`: a batch submitted or cancelled here, or
on any node while PostgreSQL's notices arrive) or its poll interval (only a safety net while notices
arrive).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...db.accounts import AccountsRepo
from ...db.batches import LINE_OPEN, BatchesRepo, BatchRow, LineEnd, LineRow
from ...db.clock import utcnow
from ...domain.batch_edits import edit_line
from ...domain.batch_input import EDITS
from ...domain.batch_output import cards_of, result_line, status_of
from ...domain.errors import (
    Conflict,
    GatewayError,
    JobNotCancellable,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
)
from ...domain.ids import new_id
from ...domain.principal import Principal
from ...domain.wakeups import LocalWakeups, Wakeups
from ..images.admission import Ticket
from ..images.inputs import ImageInputs
from ..images.operations import Generate, Operation
from ..jobs.jobs import Jobs
from .batches import batch_json
from .files import BatchFiles

log = logging.getLogger("imagegate.batches")

LEASE_SECONDS = 60.0
DISPATCHING_STALE_SECONDS = 120.0
"""A line left `dispatching` this long had its node die mid-submit: it is submitted again."""
NOT_STARTED = {"cancelled": "batch_cancelled", "expired": "batch_expired"}
Announce = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""(account id, key id, the finished batch's object): queue its webhook."""


class BatchRunner:
    def __init__(
        self,
        repo: BatchesRepo,
        files: BatchFiles,
        jobs: Jobs,
        accounts: AccountsRepo,
        announce: Announce,
        inputs: ImageInputs,
        *,
        concurrency: int,
        poll_seconds: float,
        wakeups: Wakeups | None = None,
    ) -> None:
        """`wakeups`: what tells the runner that batches were submitted or cancelled (it subscribes
        to `batches`)."""
        self._repo = repo
        self._files = files
        self._jobs = jobs
        self._accounts = accounts
        self._announce = announce
        self._inputs = inputs
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._wakeups = wakeups or LocalWakeups()
        self._wakeups.subscribe("batches", self.wake)

    def wake(self) -> None:
        """A batch was submitted or cancelled, or one of its lines ended: look at once."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                active = await self.advance_all()
            except Exception:  # a database hiccup must not end the loop
                log.exception("batch runner: a round failed")
                active = 0
            wait = self.poll_seconds if active else self._wakeups.idle_seconds(self.poll_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def advance_all(self) -> int:
        """One round over the active batches (those another node holds are left to it); how many."""
        active = await self._repo.active()
        for batch_id in active:
            row = await self._repo.lease(batch_id, LEASE_SECONDS)
            if row is None:  # another node has it
                continue
            try:
                await self._advance(row)
            except Exception:
                log.exception("batch %s: advancing it failed; the next round tries again", batch_id)
            finally:
                await self._repo.release(batch_id)
        return len(active)

    async def _advance(self, row: BatchRow) -> None:
        if row.status == "validating":
            await self._repo.move(row.id, ("validating",), "in_progress")
            row = await self._reread(row)
        await self._repo.stale_dispatching(row.id, DISPATCHING_STALE_SECONDS)
        await self._take_ended_jobs(row)
        if row.status == "cancelling":
            await self._end_unstarted(row, "cancelled")
        elif row.status == "in_progress" and utcnow() >= row.expires_at:
            await self._end_unstarted(row, "expired")
        elif row.status == "in_progress":
            await self._dispatch(row)
        if row.status in ("in_progress", "cancelling", "finalizing"):
            counts = await self._repo.counts(row.id)
            if not any(counts.get(status, 0) for status in LINE_OPEN):
                await self._finalize(row, counts)
                row = await self._reread(row)
        if row.status in ("completed", "failed", "expired", "cancelled") and row.notified_at is None:
            await self._announce(row.account_id, row.key_id, batch_json(row, await self._repo.counts(row.id)))
            await self._repo.mark_notified(row.id)

    async def _take_ended_jobs(self, row: BatchRow) -> None:
        """End the lines whose jobs have ended: the answer (200) or the error, as the job kept it."""
        while ended := await self._repo.ended_jobs(row.id):
            for job in ended:
                if job.status == "completed":
                    end = LineEnd("completed", 200, job.result)
                elif job.status == "failed" and job.error is not None:
                    error = json.loads(job.error)
                    end = LineEnd("failed", status_of(error), json.dumps({"error": error}, ensure_ascii=False))
                else:
                    message = "The request's job was cancelled before it ran. Nothing was charged."
                    end = LineEnd("cancelled", None, json.dumps({"code": "batch_cancelled", "message": message}))
                await self._repo.end_line(row.id, job.line, ("dispatched",), end)

    async def _reread(self, row: BatchRow) -> BatchRow:
        return await self._repo.get(row.id) or row

    async def _dispatch(self, row: BatchRow) -> None:
        counts = await self._repo.counts(row.id)
        room = self.concurrency - counts.get("dispatching", 0) - counts.get("dispatched", 0)
        if room <= 0:
            return
        principal = await self._principal(row)
        for line in await self._repo.lines(row.id, ("pending",), room):
            if not await self._repo.move_line(row.id, line.line, ("pending",), "dispatching"):
                continue
            if not await self._submit(row, principal, line):
                return  # refused for now (a rate limit, a dependency away): the next round tries again

    async def _principal(self, row: BatchRow) -> Principal | GatewayError:
        """The batch's key as it is now (its limits, its allowed models); revoked or disabled: the refusal."""
        found = await self._accounts.key_by_id(row.key_id)
        if found is None or found.revoked:
            return PermissionDenied("The batch's API key has been revoked.", code="key_revoked")
        if found.account_disabled:
            return PermissionDenied("This account is disabled.", code="account_disabled")
        return found.principal

    async def _submit(self, row: BatchRow, principal: Principal | GatewayError, line: LineRow) -> bool:
        """Submit one line as a job; False when it must wait for a later round."""
        request_id = new_id("req")
        try:
            if isinstance(principal, GatewayError):
                raise principal
            ticket = Ticket(
                principal,
                request_id,
                time.monotonic(),
                f"imagegate-batch:{row.id}:{line.line}",
                surface="batch",
                prices=cards_of(row.prices),
            )
            accepted = await self._jobs.submit(await self._operation(row, json.loads(line.body)), ticket)
        except (RateLimited, ServiceUnavailable, Conflict) as exc:
            await self._repo.move_line(row.id, line.line, ("dispatching",), "pending")
            log.info("batch %s line %d: %s; tried again later", row.id, line.line, exc.code)
            return False
        except GatewayError as exc:
            end = LineEnd("failed", exc.status, json.dumps(exc.body(), ensure_ascii=False), request_id)
            await self._repo.end_line(row.id, line.line, ("dispatching",), end)
            return True
        except Exception:
            log.exception("batch %s line %d: submitting it failed", row.id, line.line)
            error = {
                "message": "The request failed inside the gateway. Nothing was charged.",
                "type": "server_error",
                "param": None,
                "code": "internal_error",
            }
            end = LineEnd("failed", 500, json.dumps({"error": error}), request_id)
            await self._repo.end_line(row.id, line.line, ("dispatching",), end)
            return True
        job_id = str(accepted.body["id"])
        await self._repo.move_line(
            row.id, line.line, ("dispatching",), "dispatched", job_id=job_id, request_id=request_id
        )
        return True

    async def _operation(self, row: BatchRow, body: dict[str, Any]) -> Operation:
        """The line as the operation its endpoint runs: a generation, or an edit of the images its
        `image_url`s name, read now (a data URL decoded, an https URL fetched under the address rules)."""
        if row.endpoint == EDITS:
            return await self._inputs.operation(*edit_line(body))
        return Generate(body)

    async def _end_unstarted(self, row: BatchRow, status: str) -> None:
        """Cancelling or expired: lines not started end as `status` (nothing held, nothing billed),
        queued jobs are cancelled (their holds released); running ones are left to finish."""
        code = NOT_STARTED[status]
        message = (
            "The batch was cancelled before this request ran."
            if status == "cancelled"
            else ("The batch's completion window ended before this request ran.")
        )
        error = json.dumps({"code": code, "message": message})
        await self._repo.end_pending(row.id, status, error)
        principal = Principal(row.key_id, row.account_id, row.key_mode, None, currency=row.currency)
        after = 0
        while True:
            lines = await self._repo.lines(row.id, ("dispatched",), 200, after)
            if not lines:
                return
            for line in lines:
                assert line.job_id is not None
                try:
                    await self._jobs.cancel(principal, line.job_id)
                except (JobNotCancellable, NotFound):
                    continue  # running or finished: its end reaches the line through batch_events
                await self._repo.end_line(row.id, line.line, ("dispatched",), LineEnd(status, None, error))
            after = lines[-1].line

    async def _finalize(self, row: BatchRow, counts: dict[str, int]) -> None:
        """Every line has ended: write the output and error files, then the final status."""
        if row.status != "finalizing" and not await self._repo.move(row.id, (row.status,), "finalizing"):
            return
        if row.cancelling_at is not None or counts.get("cancelled", 0):
            final = "cancelled"
        elif counts.get("expired", 0):
            final = "expired"
        elif counts.get("completed", 0) == 0 and counts.get("failed", 0):
            final = "failed"
        else:
            final = "completed"
        output, errors = await self._result_files(row)
        await self._repo.move(row.id, ("finalizing",), final, output_file_id=output, error_file_id=errors)
        log.info("batch %s %s: %s", row.id, final, counts)

    async def _result_files(self, row: BatchRow) -> tuple[str | None, str | None]:
        good: list[str] = []
        bad: list[str] = []
        after = 0
        while lines := await self._repo.lines(row.id, ("completed", "failed", "cancelled", "expired"), 200, after):
            for line in lines:
                body = json.loads(line.result) if line.result is not None else None
                text = result_line(
                    f"batch_req_{row.id[6:]}_{line.line}", line.custom_id, line.request_id, line.status_code, body
                )
                (good if line.status == "completed" else bad).append(text)
            after = lines[-1].line
        return await self._write(row, "output", good), await self._write(row, "error", bad)

    async def _write(self, row: BatchRow, kind: str, lines: list[str]) -> str | None:
        if not lines:
            return None
        data = ("\n".join(lines) + "\n").encode()
        kept = await self._files.keep(row.account_id, "batch_output", f"{row.id}_{kind}.jsonl", data, len(lines))
        return kept.id


__all__ = ["BatchRunner"]
