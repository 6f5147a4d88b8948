"""Async jobs' workers and sweep on a real SQLite database, with scripted upstreams: the JobEvents seam is
told of every finished job at least once, a job not started in time expires unbilled, a job whose node
died (its lease expired) is run again and billed once, and a stopping node puts its job back in the
queue with its hold. (The HTTP side, PostgreSQL and several nodes: tests/e2e/test_jobs.py.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from imagegate.config import Settings
from imagegate.db.tables import jobs as jobs_table
from imagegate.domain.errors import UpstreamFailed
from imagegate.domain.ids import new_id
from imagegate.domain.principal import Principal
from imagegate.service.images.admission import Ticket
from imagegate.service.images.operations import Generate
from imagegate.service.jobs.jobs import Jobs, JobTerms
from imagegate.service.jobs.workers import JobWorkers

from .harness import LOW_64, MODEL, Core, Money, core_settings, run_core
from .scripted import HeldAnswer, ScriptedUpstream, image

FUNDS = 1_000_000
TERMS = JobTerms(workers=1, poll_seconds=0.05, queue_ttl_seconds=3600, lease_seconds=60, notify_again_after_seconds=0)


class RecordingEvents:
    """Implements `service.jobs.events.JobEvents`: records each announcement; can fail the first ones."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.failures = failures

    async def job_finished(self, account_id: str, key_id: str, job: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the receiver is down")
        self.calls.append((account_id, key_id, job))


@pytest.fixture
def sqlite_settings(tmp_path: Path, core_config: Path) -> Iterator[Settings]:
    yield core_settings(tmp_path / "data", core_config)


def jobs_on(
    core: Core, upstream: ScriptedUpstream, events: RecordingEvents, terms: JobTerms = TERMS
) -> tuple[Jobs, JobWorkers]:
    return core.jobs(core.router({"primary": upstream}), events, terms)


async def submit(jobs: Jobs, principal: Principal) -> str:
    ticket = Ticket(principal, new_id("req"), time.monotonic(), surface="images")
    accepted = await jobs.submit(Generate({"model": MODEL, "prompt": "a red square"}), ticket)
    assert accepted.body["status"] == "queued"
    return str(accepted.body["id"])


def test_a_finished_job_is_announced_with_its_public_body_and_marked(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        events = RecordingEvents()
        jobs, workers = jobs_on(core, ScriptedUpstream([image()]), events)
        principal = await core.principal("1")
        job_id = await submit(jobs, principal)
        assert await core.money(principal) == Money(FUNDS, LOW_64)
        assert await workers.run_one() and not await workers.run_one()
        job = await jobs.get(principal, job_id)
        assert job["status"] == "completed" and job["result"]["billing"]["amount_micros"] == LOW_64
        assert events.calls == [(principal.account_id, principal.key_id, job)]
        await workers.sweep()  # marked notified: not announced again
        assert len(events.calls) == 1
        assert await core.money(principal) == Money(FUNDS - LOW_64, 0)
        await core.assert_ledger_consistent()

    run_core(sqlite_settings, scenario)


def test_an_announcement_that_failed_is_made_again_by_the_sweep(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        events = RecordingEvents(failures=1)
        jobs, workers = jobs_on(
            core, ScriptedUpstream(UpstreamFailed("down"), UpstreamFailed("down"), UpstreamFailed("down")), events
        )
        principal = await core.principal("1")
        job_id = await submit(jobs, principal)
        assert await workers.run_one()
        assert events.calls == []  # the receiver failed; the job stays unannounced
        failed = await jobs.get(principal, job_id)
        assert failed["status"] == "failed" and failed["error"]["code"] == "upstream_failed"
        assert (await workers.sweep())["notified"] == 1
        assert events.calls == [(principal.account_id, principal.key_id, failed)]
        assert (await workers.sweep())["notified"] == 0
        assert await core.money(principal) == Money(FUNDS, 0)

    run_core(sqlite_settings, scenario)


def test_a_job_not_started_in_time_expires_unbilled(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        events = RecordingEvents()
        upstream = ScriptedUpstream([image()])
        jobs, workers = jobs_on(
            core, upstream, events, JobTerms(workers=0, poll_seconds=1, queue_ttl_seconds=0, lease_seconds=60)
        )
        principal = await core.principal("1")
        job_id = await submit(jobs, principal)
        assert (await workers.sweep())["expired"] == 1
        job = await jobs.get(principal, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "job_expired"
        assert not await workers.run_one() and upstream.calls == 0
        assert await core.money(principal) == Money(FUNDS, 0)
        assert [c[2]["status"] for c in events.calls] == ["failed"]
        (record,) = await core.usage(principal)
        assert (record.status, record.error_code, record.cost_micros) == (504, "job_expired", 0)
        await core.assert_ledger_consistent()

    run_core(sqlite_settings, scenario)


def test_a_job_whose_node_died_is_run_again_once_and_a_job_that_kept_dying_fails(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        upstream = ScriptedUpstream([image()])
        jobs, workers = jobs_on(core, upstream, RecordingEvents())
        principal = await core.principal("1")
        job_id = await submit(jobs, principal)
        # A node claims it with a lease that has already run out, and dies.
        assert await core.db.jobs.claim(lease_seconds=0, max_attempts=3) is not None
        assert await workers.run_one()  # taken over
        job = await jobs.get(principal, job_id)
        assert job["status"] == "completed" and upstream.calls == 1
        assert await core.money(principal) == Money(FUNDS - LOW_64, 0)

        doomed = await submit(jobs, principal)
        for _ in range(3):  # three nodes in a row die running it
            assert await core.db.jobs.claim(lease_seconds=0, max_attempts=3) is not None
        assert not await workers.run_one()  # no attempts left: not run again
        assert (await workers.sweep())["expired"] == 1
        failed = await jobs.get(principal, doomed)
        assert failed["status"] == "failed" and failed["error"]["code"] == "job_expired"
        assert await core.money(principal) == Money(FUNDS - LOW_64, 0) and upstream.calls == 1
        await core.assert_ledger_consistent()

    run_core(sqlite_settings, scenario)


def test_a_job_whose_node_died_after_billing_it_fails_refunded_and_is_not_run_again(
    sqlite_settings: Settings,
) -> None:
    async def scenario(core: Core) -> None:
        upstream = ScriptedUpstream([image()])
        jobs, workers = jobs_on(core, upstream, RecordingEvents())
        principal = await core.principal("1")
        job_id = await submit(jobs, principal)
        claimed = await core.db.jobs.claim(lease_seconds=0, max_attempts=3)
        assert claimed is not None
        # That node ran it and its settlement captured the price, then it died before keeping the result.
        assert await core.db.ledger.settle(claimed[0].hold_id or "", LOW_64, "1 image(s)")
        assert await core.money(principal) == Money(FUNDS - LOW_64, 0)

        assert await workers.run_one()  # taken over
        job = await jobs.get(principal, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "job_interrupted"
        assert upstream.calls == 0  # not run (and billed) a second time
        assert await core.money(principal) == Money(FUNDS, 0)  # the charge without a result is refunded
        await core.assert_ledger_consistent()

    run_core(sqlite_settings, scenario)


def test_a_stopping_node_queues_its_running_job_again_with_its_hold(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        held = HeldAnswer([image()])
        first, first_workers = jobs_on(core, ScriptedUpstream(held), RecordingEvents())
        principal = await core.principal("1")
        job_id = await submit(first, principal)
        await first_workers.start()
        await asyncio.wait_for(held.entered.wait(), 10)
        assert (await first.get(principal, job_id))["status"] == "running"
        await first_workers.stop()
        assert (await first.get(principal, job_id))["status"] == "queued"
        assert await core.money(principal) == Money(FUNDS, LOW_64)  # the hold is still the job's

        second, second_workers = jobs_on(core, ScriptedUpstream([image()]), RecordingEvents())
        assert await second_workers.run_one()
        assert (await second.get(principal, job_id))["status"] == "completed"
        assert await core.money(principal) == Money(FUNDS - LOW_64, 0)
        await core.assert_ledger_consistent()

    run_core(sqlite_settings, scenario)


async def store_as(core: Core, job_id: str, operation: str, payload: str) -> None:
    """Rewrite a queued job's stored operation, as another release (or a corrupt row) left it."""
    async with core.db.engine.begin() as conn:
        await conn.execute(
            update(jobs_table).where(jobs_table.c.id == job_id).values(operation=operation, payload=payload)
        )


def test_a_job_stored_by_an_earlier_release_runs_as_its_operation(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        upstream = ScriptedUpstream([image()])
        jobs, workers = jobs_on(core, upstream, RecordingEvents())
        principal = await core.principal("1")
        job_id = await submit(jobs, principal)
        await store_as(core, job_id, "generate", '{"model": "core-test", "prompt": "a blue circle"}')
        assert await workers.run_one()
        job = await jobs.get(principal, job_id)
        assert job["status"] == "completed" and job["result"]["data"][0]["revised_prompt"] == "revised"
        assert [r.prompt for r in upstream.requests] == ["a blue circle"]
        assert await core.money(principal) == Money(FUNDS - LOW_64, 0)
        (record,) = await core.usage(principal)
        assert (record.status, record.cost_micros, record.surface) == (200, LOW_64, "job")

    run_core(sqlite_settings, scenario)


def test_a_job_whose_stored_operation_is_unknown_fails_unbilled_and_is_never_run(sqlite_settings: Settings) -> None:
    async def scenario(core: Core) -> None:
        upstream = ScriptedUpstream([image()])
        events = RecordingEvents()
        jobs, workers = jobs_on(core, upstream, events)
        principal = await core.principal("1")
        job_id = await submit(jobs, principal)
        await store_as(core, job_id, "variation", '{"model": "core-test", "prompt": "a red square"}')
        assert await workers.run_one()
        job = await jobs.get(principal, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "internal_error", job
        assert "'variation'" in job["error"]["message"] and "Nothing was charged" in job["error"]["message"]
        assert upstream.calls == 0  # never guessed to be a generation
        assert await core.money(principal) == Money(FUNDS, 0)  # its hold released
        assert [c[2]["status"] for c in events.calls] == ["failed"]
        (record,) = await core.usage(principal)
        assert (record.status, record.error_code, record.cost_micros) == (500, "internal_error", 0)
        await core.assert_ledger_consistent()

    run_core(sqlite_settings, scenario)
