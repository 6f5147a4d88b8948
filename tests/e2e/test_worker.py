"""`imagegate worker`: a node that runs async jobs (and sends webhooks, and sweeps) with no HTTP server,
beside API nodes (`IMAGEGATE_NODE_ROLE=api`) that run none of them. Process tier: the worker is its own
process, stopped by a signal as an operator (or an orchestrator) stops it."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import Gateway, start_gateway
from tests.e2e.test_jobs import FAST_JOBS, _wait_until, get_job, job_path, submit, wait_finished
from tests.support.gateway import ROOT, _clean_environ
from tests.support.processes import ManagedProcess
from tests.upstreams.fake_openai import GENERATIONS_PATH, FakeOpenAI

SLOW = {"IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS": "40", "IMAGEGATE_REQUEST_DEADLINE_SECONDS": "60"}


def start_worker(api: Gateway, name: str) -> ManagedProcess:
    """`imagegate worker` on the API node's database and image store (its environment, another node id)."""
    env = {**api.env, "IMAGEGATE_NODE_ID": name, "IMAGEGATE_JOB_WORKERS": "2"}
    worker = ManagedProcess(
        [sys.executable, "-m", "imagegate", "worker"],
        env={**_clean_environ(), **env},
        log_path=api.data_dir.parent / f"{name}.log",
        cwd=ROOT,
        inherit_env=False,
    )
    worker.start()
    return worker


def test_a_worker_runs_the_jobs_an_api_node_accepts_and_stops_on_sigterm_giving_a_running_one_back(
    tmp_path: Path, upstream: FakeOpenAI, own_database_url: str | None
) -> None:
    db = {"IMAGEGATE_DATABASE_URL": own_database_url} if own_database_url else {}
    env = {**FAST_JOBS, **SLOW, **db, "IMAGEGATE_NODE_ROLE": "api", "IMAGEGATE_NODE_ID": f"api-{tmp_path.name}"}
    api = start_gateway(tmp_path / "data", upstream, env)
    worker: ManagedProcess | None = None
    try:
        account = api.new_account("10")
        _, first = submit(api, account.key)
        assert get_job(api, account.key, first["id"])["status"] == "queued"  # the API node runs no job

        worker = start_worker(api, f"worker-{tmp_path.name}")
        done = wait_finished(api, account.key, first["id"], timeout=90)  # the worker starts first
        assert done["status"] == "completed", done
        assert [r.path for r in upstream.requests] == [GENERATIONS_PATH]
        charged = done["result"]["billing"]["amount_micros"]
        assert _wait_until(lambda: api.balance(account.id) == (10_000_000 - charged, 0), 10)

        upstream.script({"kind": "hang", "seconds": 60})  # the next job is running when the worker stops
        _, second = submit(api, account.key)
        running = _wait_until(lambda: get_job(api, account.key, second["id"])["status"] == "running", 30)
        assert running, get_job(api, account.key, second["id"])
        held = api.balance(account.id)[1]
        assert held > 0

        assert worker.pid is not None
        worker.stop(timeout=20)  # SIGTERM
        assert worker.returncode == 0, worker.log_tail()
        # its attempt given back: queued again with its hold, for the next worker to run
        job = get_job(api, account.key, second["id"])
        assert job["status"] == "queued", job
        assert api.balance(account.id) == (10_000_000 - charged, held)

        cancelled = job_path(api, account.key, "DELETE", second["id"])
        assert cancelled.status_code == 200, cancelled.text  # a queued job: its hold goes back
        assert api.balance(account.id) == (10_000_000 - charged, 0)
        assert api.admin(lambda admin: admin.ledger.verify())["ok"]
    finally:
        if worker is not None:
            worker.stop()
        api.stop()
