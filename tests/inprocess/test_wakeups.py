"""Work queued on one node wakes another node's idle loops at once, on PostgreSQL (LISTEN/NOTIFY).

Two nodes in this process share one PostgreSQL database, as an API node and a worker node of a
deployment do: `api` (`IMAGEGATE_NODE_ROLE=api`: it accepts work and runs none) and `worker`, whose
idle loops poll only once an hour here. So a job or a webhook message queued on `api` is run or sent
by `worker` within seconds only if the notice woke it; and after the listening connections are
killed (`pg_terminate_backend`), they reconnect and the notices work again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from imagegate.db.wakeups import APPLICATION_NAME
from tests.upstreams.fake_webhooks import FakeWebhookReceiver

from .app import InProcess, app_settings, offline_routes, open_app

pytestmark = pytest.mark.tier("in_process")

HOUR = "3600"
PROMPT = {"model": "gpt-image-2", "prompt": "a lighthouse", "quality": "low", "size": "1024x1024"}
SOON = 10.0
"""Seconds a woken node may take (a poll would take an hour)."""


@asynccontextmanager
async def two_nodes(tmp_path: Path, database_url: str, **worker_env: str) -> AsyncIterator[tuple[InProcess, InProcess]]:
    """(api, worker) on one database, both listening."""
    shared = {"IMAGEGATE_DATABASE_URL": database_url}
    catalog = offline_routes("gpt-image-2")
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(
            open_app(app_settings(tmp_path / "api", catalog, IMAGEGATE_NODE_ROLE="api", **shared))
        )
        worker_settings = app_settings(
            tmp_path / "worker",
            catalog,
            IMAGEGATE_JOB_POLL_SECONDS=HOUR,
            IMAGEGATE_WEBHOOK_POLL_SECONDS=HOUR,
            **shared,
            **worker_env,
        )
        worker = await stack.enter_async_context(open_app(worker_settings))
        await until(lambda: _listening(api, worker), "the nodes did not start listening")
        yield api, worker


async def _listening(*nodes: InProcess) -> bool:
    return all(node.gateway.wakeups.listening for node in nodes)


async def until(done: Callable[[], Awaitable[bool]], failure: str, timeout: float = SOON) -> None:
    """Wait for `done()`, bounded in time."""
    deadline = time.monotonic() + timeout
    while not await done():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.05)


async def job_finished(api: InProcess, key: str) -> dict[str, Any]:
    """Queue a job on `api` and wait (SOON at most) until some node has run it: its last state."""
    auth = {"Authorization": f"Bearer {key}"}
    queued = await api.http.post("/v1/images/generations", json=PROMPT, headers={**auth, "Prefer": "respond-async"})
    assert queued.status_code == 202, queued.text
    job: dict[str, Any] = queued.json()

    async def done() -> bool:
        nonlocal job
        job = (await api.http.get(f"/v1/images/jobs/{job['id']}", headers=auth)).json()
        return job["status"] not in ("queued", "running")

    await until(done, f"the job was not run promptly: {job}")
    return job


async def sql(database_url: str, query: str, *args: Any) -> list[Any]:
    """One statement on its own connection, as an operator's psql would run it."""
    conn = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def listener_pids(database_url: str) -> set[int]:
    """The backends of this database's listening connections (every node's)."""
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()"
    return {row["pid"] for row in await sql(database_url, query, APPLICATION_NAME)}


def test_a_job_queued_on_an_api_node_is_run_at_once_by_a_worker_node_that_polls_hourly(
    tmp_path: Path, postgres_url: str
) -> None:
    async def scenario() -> None:
        async with two_nodes(tmp_path, postgres_url) as (api, _worker):
            key = await api.new_key("10")
            job = await job_finished(api, key)
            assert job["status"] == "completed", job

    asyncio.run(scenario())


def test_a_webhook_queued_on_an_api_node_is_sent_at_once_and_its_retry_on_time(
    tmp_path: Path, postgres_url: str
) -> None:
    async def scenario() -> None:
        with FakeWebhookReceiver() as receiver:
            receiver.script({"status": 503})  # the first try fails; the retry is due 50 ms later
            async with two_nodes(tmp_path, postgres_url, IMAGEGATE_WEBHOOK_RETRY_BASE_SECONDS="0.05") as (api, _):
                admin = api.gateway.admin
                account = await admin.accounts.create("wakeups")
                key = await admin.keys.create(account["id"], test=True, models=None, rpm=None)
                await admin.webhooks.set_url(key["id"], receiver.url)
                finished = {"id": "job_wakeups01", "object": "image.job", "status": "completed", "created": 1}
                await api.gateway.webhooks.job_finished(account["id"], key["id"], finished)
                got = await asyncio.to_thread(receiver.wait_for, 2, SOON)
                assert [request.status for request in got] == [503, 200]

    asyncio.run(scenario())


def test_the_listeners_reconnect_after_their_connections_are_killed_and_wake_the_worker_again(
    tmp_path: Path, postgres_url: str
) -> None:
    async def scenario() -> None:
        async with two_nodes(tmp_path, postgres_url) as (api, worker):
            key = await api.new_key("10")
            killed = await listener_pids(postgres_url)
            assert len(killed) == 2
            for pid in killed:
                await sql(postgres_url, "SELECT pg_terminate_backend($1)", pid)

            async def reconnected() -> bool:
                pids = await listener_pids(postgres_url)
                return len(pids) == 2 and not pids & killed and await _listening(api, worker)

            await until(reconnected, "the listeners did not come back")
            job = await job_finished(api, key)
            assert job["status"] == "completed", job

    asyncio.run(scenario())
