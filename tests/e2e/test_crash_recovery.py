"""A node SIGKILLed with requests in flight: on restart it releases what it held, at once; and an
async job through rolling restarts and a kill after its capture.

Node "crash-node" takes twelve live requests, each with its own Idempotency-Key, against an
upstream that hangs; a second node ("other-node") on the same database has one request in flight
too. crash-node is killed and restarted: before it serves again, its dead run's holds are released
and its claims given back; the other node's hold is untouched and its request still completes and
is billed. Each key retried after the restart is served (no 409 for minutes), the ledger verifies,
and what was captured is exactly what the clients received.

A job's node is stopped cleanly twice while the job is upstream (rolling restarts), then killed
after the job's capture committed and before its result was kept (a trigger holds the completion
write): the restarts used none of its attempts, and the job ends `job_interrupted`, its charge
refunded, its usage record costing nothing, the ledger verifying (issue 19, defects 1, 5 and 11).
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from tests.conftest import Gateway, start_gateway
from tests.e2e.test_jobs import FAST_JOBS, submit, wait_finished
from tests.upstreams.fake_openai import FakeOpenAI

IN_FLIGHT = 12
PRICE = 53_000  # gpt-image-2, the default quality and size, as held
SLOW = {
    "IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS": "40",
    "IMAGEGATE_REQUEST_DEADLINE_SECONDS": "60",
    "IMAGEGATE_RETRY_ATTEMPTS": "1",
}


def _post(gateway: Gateway, key: str, idem: str | None, out: dict[str, object]) -> None:
    try:
        headers = {"Idempotency-Key": idem} if idem else {}
        out[idem or "other"] = gateway.post_images(key, {"model": "gpt-image-2", "prompt": "a kettle"}, headers=headers)
    except httpx.TransportError as exc:  # the node died under this request
        out[idem or "other"] = exc


def _ledger_ok(gateway: Gateway) -> bool:
    return bool(json.loads(gateway.cli("ledger", "verify", "--json"))["ok"])


def test_a_restarted_node_releases_its_dead_runs_holds_and_claims_at_once(
    tmp_path: Path, upstream: FakeOpenAI, database_url: str | None
) -> None:
    db = {"IMAGEGATE_DATABASE_URL": database_url} if database_url else {}
    node_env = {**SLOW, **db, "IMAGEGATE_NODE_ID": f"crash-node-{tmp_path.name}"}
    # the other node waits for its upstream as long as the test may take to kill and restart crash-node
    patient = {"IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS": "150", "IMAGEGATE_REQUEST_DEADLINE_SECONDS": "180"}
    other_env = {**SLOW, **patient, **db, "IMAGEGATE_NODE_ID": f"other-node-{tmp_path.name}"}
    node = start_gateway(tmp_path / "data", upstream, node_env)
    other = start_gateway(tmp_path / "data", upstream, other_env)  # the same database (and image store)
    restarted: Gateway | None = None
    try:
        account = node.new_account("10")
        other_account = other.new_account("10")
        results: dict[str, object] = {}

        # The other node's request: held by the upstream until crash-node has restarted.
        upstream.script({"kind": "hold", "seconds": 150})
        other_worker = threading.Thread(target=_post, args=(other, other_account.key, None, results))
        other_worker.start()
        upstream.wait_for_requests(1, timeout=20)

        upstream.script({"kind": "hang", "seconds": 60, "times": IN_FLIGHT})
        keys = [f"crash-{i}" for i in range(IN_FLIGHT)]
        workers = [threading.Thread(target=_post, args=(node, account.key, k, results), daemon=True) for k in keys]
        for worker in workers:
            worker.start()
        upstream.wait_for_requests(1 + IN_FLIGHT, timeout=30)
        assert node.balance(account.id) == (10_000_000, IN_FLIGHT * PRICE)
        assert other.balance(other_account.id) == (10_000_000, PRICE)

        killed_at = time.monotonic()
        node.process._proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        node.process.stop()
        for worker in workers:
            worker.join(15)
        assert all(isinstance(results[k], httpx.TransportError) for k in keys)
        assert node.balance(account.id) == (10_000_000, IN_FLIGHT * PRICE)  # the dead run still holds

        upstream.reset()  # the retries are answered at once
        restarted = start_gateway(tmp_path / "data", upstream, node_env)
        released_after = time.monotonic() - killed_at
        # Released during start-up, before the node served anything: no polling needed.
        assert restarted.balance(account.id) == (10_000_000, 0)
        assert other.balance(other_account.id) == (10_000_000, PRICE)  # another live node's hold is not touched

        retries = [
            restarted.post_images(
                account.key, {"model": "gpt-image-2", "prompt": "a kettle"}, headers={"Idempotency-Key": k}
            )
            for k in keys
        ]
        assert [r.status_code for r in retries] == [200] * IN_FLIGHT, [r.text[:200] for r in retries]
        assert not any(r.headers.get("idempotent-replayed") for r in retries)
        charged = sum(int(r.headers["x-imagegate-cost-micros"]) for r in retries)

        upstream.release()  # now the other node's request completes
        other_worker.join(40)
        other_response = results["other"]
        assert isinstance(other_response, httpx.Response) and other_response.status_code == 200
        other_charged = int(other_response.headers["x-imagegate-cost-micros"])

        # Billed exactly what was delivered, nothing for the requests that died with the node.
        assert restarted.balance(account.id) == (10_000_000 - charged, 0)
        assert other.balance(other_account.id) == (10_000_000 - other_charged, 0)
        assert charged > 0 and other_charged > 0
        assert _ledger_ok(restarted) and _ledger_ok(other)
        (tmp_path / "release_seconds.txt").write_text(f"{released_after:.2f}\n")
        print(f"crash: {IN_FLIGHT} holds released {released_after:.2f} s after SIGKILL (restart included)")
    finally:
        for gw in (restarted, other, node):
            if gw is not None:
                gw.process.stop()


HOLD_THE_COMPLETION = """
CREATE FUNCTION hold_the_completion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$;
CREATE TRIGGER hold_the_completion BEFORE UPDATE ON jobs FOR EACH ROW
WHEN (new.status = 'completed') EXECUTE FUNCTION hold_the_completion();
"""


def _sql(url: str, statements: str) -> list[Any]:
    """Run SQL on the test's PostgreSQL database, as its operator would with psql: a query's rows."""

    async def run() -> list[Any]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            if statements.lstrip().upper().startswith("SELECT"):
                return list(await conn.fetch(statements))
            await conn.execute(statements)
            return []
        finally:
            await conn.close()

    return asyncio.run(run())


def _poll(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.postgres
def test_a_job_killed_after_its_capture_is_refunded_and_clean_stops_use_none_of_its_attempts(
    tmp_path: Path, upstream: FakeOpenAI, postgres_url: str
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    # The server notices a client that died mid-statement within 0.1 s (not at the statement's end).
    _sql(postgres_url, f"ALTER DATABASE \"{database}\" SET client_connection_check_interval = '100ms'")
    env = {
        **FAST_JOBS,
        "IMAGEGATE_DATABASE_URL": postgres_url,
        "IMAGEGATE_NODE_ID": f"job-node-{tmp_path.name}",
        "IMAGEGATE_JOB_WORKERS": "1",
    }
    node = start_gateway(tmp_path / "data", upstream, env)
    try:
        account = node.new_account("10")
        upstream.script({"kind": "hang", "seconds": 60, "times": 2})
        accepted, job = submit(node, account.key)
        state = f"SELECT status, attempts FROM jobs WHERE id = '{job['id']}'"
        for restart in range(2):  # a rolling restart while the job is upstream
            upstream.wait_for_requests(restart + 1, timeout=30)
            node.process.stop()  # SIGTERM: a clean stop
            assert [tuple(r) for r in _sql(postgres_url, state)] == [("queued", 0)]  # the attempt given back
            if restart == 1:
                _sql(postgres_url, HOLD_THE_COMPLETION)
            node = start_gateway(tmp_path / "data", upstream, env)

        # The third run is billed; its completion write waits in the trigger, and the node is killed.
        sleeping = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()"
        _poll(lambda: _sql(postgres_url, sleeping)[0][0] == 1)
        price = 10_000_000 - node.balance(account.id)[0]
        assert price > 0 and node.balance(account.id)[1] == 0  # captured, the rest released
        node.process._proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        node.process.stop()
        _poll(lambda: _sql(postgres_url, sleeping)[0][0] == 0)  # its transaction rolled back
        assert [tuple(r) for r in _sql(postgres_url, state)] == [("running", 1)]
        _sql(postgres_url, f"UPDATE jobs SET lease_until = '2000-01-01' WHERE id = '{job['id']}'")  # time passes

        node = start_gateway(tmp_path / "data", upstream, env)
        finished = wait_finished(node, account.key, job["id"])
        assert finished["status"] == "failed" and finished["error"]["code"] == "job_interrupted", finished
        assert "refunded" in finished["error"]["message"]
        assert node.balance(account.id) == (10_000_000, 0)
        assert len(upstream.requests) == 3  # not run (and billed) again
        row = node.usage_row(accepted.headers["x-request-id"])
        assert row is not None and (row["status"], row["error_code"], row["cost_micros"]) == (503, "job_interrupted", 0)
        assert _ledger_ok(node)
    finally:
        node.process.stop()
