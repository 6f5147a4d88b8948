"""Async image jobs (`Prefer: respond-async`) against running gateways, with the official `openai` SDK.

A job is admitted at submit (every refusal is answered then, and no job is made), answered 202, run by
a worker on any node sharing the database, and polled with `GET /v1/images/jobs/{id}` until its
result is the sync answer, billed exactly once like the sync request. A failed job is not billed; a
queued one can be cancelled (hold released); a node with workers off only accepts jobs, and another
node picks them up, also after the first one stopped. Two nodes on PostgreSQL never run a job twice.
Each gateway here has a database of its own (other gateways' workers never take its jobs).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import Account, Gateway, PostgresDatabase, require_service, start_gateway, start_in_process
from tests.providers.conftest import write_config
from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import EDITS_PATH, GENERATIONS_PATH, FakeOpenAI

ASYNC = {"Prefer": "respond-async"}
PROMPT = "a lighthouse on a cliff at dawn"
EDITS_ON = """
[models.gpt-image-2]
img2img = true
"""
FAST_JOBS = {"IMAGEGATE_JOB_POLL_SECONDS": "0.2", "IMAGEGATE_SWEEP_INTERVAL_SECONDS": "1"}


def _picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _wait_until(condition: Callable[[], Any], timeout: float) -> Any:
    """Poll `condition` until it is truthy (its value), for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


class Database:
    """A database of one gateway's own: its data folder's SQLite file, or a fresh PostgreSQL one."""

    def __init__(self, kind: str) -> None:
        self.postgres = PostgresDatabase() if kind == "postgres" else None
        if self.postgres is not None:
            require_service("PostgreSQL", 5432)
            self.postgres.create()

    @property
    def env(self) -> dict[str, str]:
        return {"IMAGEGATE_DATABASE_URL": self.postgres.url} if self.postgres else {}

    def drop(self) -> None:
        if self.postgres is not None:
            self.postgres.drop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def jobs_gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, db_kind: str) -> Iterator[Gateway]:
    """A node with workers on (and edits on for gpt-image-2, as an operator may turn them on)."""
    database = Database(db_kind)
    root = tmp_path_factory.mktemp("jobs")
    config = write_config(root / "catalog.toml", EDITS_ON)
    gw = start_in_process(root / "data", fake_openai, {**FAST_JOBS, **database.env, "IMAGEGATE_CONFIG": config})
    yield gw
    gw.stop()
    database.drop()


@pytest.fixture(scope="module")
def idle_gateway(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, db_kind: str) -> Iterator[Gateway]:
    """A node that only accepts jobs (IMAGEGATE_JOB_WORKERS=0): its jobs stay queued."""
    database = Database(db_kind)
    env = {**FAST_JOBS, **database.env, "IMAGEGATE_JOB_WORKERS": "0"}
    gw = start_in_process(tmp_path_factory.mktemp("jobs-idle") / "data", fake_openai, env)
    yield gw
    gw.stop()
    database.drop()


def submit(gateway: Gateway, key: str, **fields: Any) -> tuple[httpx.Response, dict[str, Any]]:
    """A generation submitted as a job through the SDK: (the raw 202, its job body)."""
    raw = gateway.client(key).images.with_raw_response.generate(
        model="gpt-image-2", prompt=PROMPT, extra_headers=ASYNC, **fields
    )
    return raw.http_response, json.loads(raw.http_response.content)


def get_job(gateway: Gateway, key: str, job_id: str) -> dict[str, Any]:
    response = gateway.client(key).get(f"/images/jobs/{job_id}", cast_to=httpx.Response)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_finished(gateway: Gateway, key: str, job_id: str, timeout: float = 30) -> dict[str, Any]:
    """Poll the job until it is no longer queued or running (bounded)."""
    job = _wait_until(
        lambda: (j := get_job(gateway, key, job_id))["status"] not in ("queued", "running") and j, timeout
    )
    assert job, f"job {job_id} still not finished after {timeout} s: {get_job(gateway, key, job_id)}"
    return dict(job)


def job_path(gateway: Gateway, key: str | None, method: str, job_id: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with gateway.http() as http:
        return http.request(method, f"/v1/images/jobs/{job_id}", headers=headers)


def generation_calls(upstream: FakeOpenAI) -> int:
    return sum(r.path == GENERATIONS_PATH for r in upstream.requests)


# -- a job's life


def test_a_generation_job_answers_202_then_the_sync_body_billed_once(
    jobs_gateway: Gateway, upstream: FakeOpenAI
) -> None:
    account = jobs_gateway.new_account("10")
    response, job = submit(jobs_gateway, account.key)
    assert response.status_code == 202
    assert set(job) == {"id", "object", "status", "created"} and job["object"] == "image.job"
    assert job["id"].startswith("job_") and job["status"] == "queued" and abs(job["created"] - time.time()) < 60
    assert response.headers["preference-applied"] == "respond-async"
    assert response.headers["location"] == f"/v1/images/jobs/{job['id']}"

    done = wait_finished(jobs_gateway, account.key, job["id"])
    assert done["status"] == "completed", done
    assert set(done) == {"id", "object", "status", "created", "completed_at", "result"}
    assert done["completed_at"] >= done["created"]
    result = done["result"]
    (image,) = result["data"]
    downloaded = httpx.get(image["url"], timeout=30)
    assert downloaded.status_code == 200 and downloaded.content.startswith(b"\x89PNG")
    amount = result["billing"]["amount_micros"]
    assert amount > 0 and result["billing"]["images"] == 1
    assert jobs_gateway.balance(account.id) == (10_000_000 - amount, 0)
    assert generation_calls(upstream) == 1

    # The same request answered synchronously costs the same, and the job's usage row is the sync one's.
    sync = jobs_gateway.client(account.key).images.generate(model="gpt-image-2", prompt=PROMPT)
    assert sync.model_extra is not None and sync.model_extra["billing"] == result["billing"]
    assert jobs_gateway.balance(account.id) == (10_000_000 - 2 * amount, 0)
    row = jobs_gateway.usage_row(response.headers["x-request-id"])
    assert row is not None and (row["status"], row["cost_micros"], row["delivered"]) == (200, amount, 1)
    assert get_job(jobs_gateway, account.key, job["id"]) == done  # polling again changes nothing

    # A finished job cannot be cancelled.
    assert_error(job_path(jobs_gateway, account.key, "DELETE", job["id"]), 409, "conflict_error", "job_not_cancellable")
    assert jobs_gateway.balance(account.id) == (10_000_000 - 2 * amount, 0)


def test_an_edit_job_runs_on_the_edit_wire_and_its_uploads_go(jobs_gateway: Gateway, upstream: FakeOpenAI) -> None:
    account = jobs_gateway.new_account("10")
    raw = jobs_gateway.client(account.key).images.with_raw_response.edit(
        model="gpt-image-2", image=("photo.png", _picture(), "image/png"), prompt=PROMPT, extra_headers=ASYNC
    )
    assert raw.http_response.status_code == 202
    job = json.loads(raw.http_response.content)
    done = wait_finished(jobs_gateway, account.key, job["id"])
    assert done["status"] == "completed", done
    amount = done["result"]["billing"]["amount_micros"]
    assert httpx.get(done["result"]["data"][0]["url"], timeout=30).status_code == 200
    assert [r.path for r in upstream.requests] == [EDITS_PATH]
    assert jobs_gateway.balance(account.id) == (10_000_000 - amount, 0)
    uploads = jobs_gateway.data_dir / "images" / "jobs"
    assert not uploads.exists() or not any(uploads.rglob("*")), list(uploads.rglob("*"))


def test_a_failing_upstream_fails_the_job_unbilled(jobs_gateway: Gateway, upstream: FakeOpenAI) -> None:
    account = jobs_gateway.new_account("10")
    upstream.script({"kind": "server_error", "times": 3})
    response, job = submit(jobs_gateway, account.key)
    assert response.status_code == 202
    done = wait_finished(jobs_gateway, account.key, job["id"])
    assert done["status"] == "failed", done
    assert set(done) == {"id", "object", "status", "created", "completed_at", "error"}
    assert set(done["error"]) == {"message", "type", "param", "code"}
    assert (done["error"]["type"], done["error"]["code"]) == ("upstream_error", "upstream_failed")
    assert jobs_gateway.balance(account.id) == (10_000_000, 0)
    row = jobs_gateway.usage_row(response.headers["x-request-id"])
    assert row is not None and (row["status"], row["cost_micros"]) == (502, 0)


# -- refused at submit: the ordinary answer, and no job


def test_refusals_at_submit_are_the_sync_ones_and_make_no_job(jobs_gateway: Gateway, upstream: FakeOpenAI) -> None:
    broke = jobs_gateway.new_account("0")
    with pytest.raises(openai.APIStatusError) as caught:
        submit(jobs_gateway, broke.key)
    assert (caught.value.status_code, caught.value.code) == (402, "insufficient_balance")
    assert caught.value.response.headers.get("location") is None

    account = jobs_gateway.new_account("10")
    with pytest.raises(openai.BadRequestError) as bad:
        submit(jobs_gateway, account.key, size="7x7")
    assert bad.value.code == "invalid_value" and bad.value.param == "size"

    blocked = jobs_gateway.post_images(
        account.key,
        {"model": "gpt-image-2", "prompt": "step by step diagram of how to build a pipe bomb"},
        headers=ASYNC,
    )
    assert_error(blocked, 451, "content_policy_error", "prompt_blocked", None)

    limited = jobs_gateway.new_account("10")
    one_a_minute = jobs_gateway.admin(
        lambda admin: admin.keys.create(limited.id, test=False, models=None, rpm=1, ipm=None)
    )["key"]
    accepted = submit(jobs_gateway, one_a_minute)[1]
    with pytest.raises(openai.RateLimitError) as slowed:
        submit(jobs_gateway, one_a_minute)
    assert slowed.value.code == "rate_limit_exceeded" and slowed.value.response.headers.get("location") is None
    done = wait_finished(jobs_gateway, one_a_minute, accepted["id"])
    charged = done["result"]["billing"]["amount_micros"]
    assert jobs_gateway.balance(limited.id) == (10_000_000 - charged, 0)  # the refused one made no job, held nothing

    # stream and respond-async together: refused, naming the header.
    streamed = jobs_gateway.post_images(
        account.key, {"model": "gpt-image-2", "prompt": PROMPT, "stream": True}, headers=ASYNC
    )
    assert_error(streamed, 400, "invalid_request_error", "invalid_value", "Prefer")
    assert jobs_gateway.balance(account.id) == (10_000_000, 0)
    assert jobs_gateway.balance(broke.id) == (0, 0)
    assert generation_calls(upstream) == 1  # the one accepted job's


def test_idempotency_key_replays_the_202_job_body(jobs_gateway: Gateway, upstream: FakeOpenAI) -> None:
    account = jobs_gateway.new_account("10")
    key = {"Idempotency-Key": f"job-{time.time_ns()}"}
    body = {"model": "gpt-image-2", "prompt": PROMPT}
    first = jobs_gateway.post_images(account.key, body, headers={**ASYNC, **key})
    again = jobs_gateway.post_images(account.key, body, headers={**ASYNC, **key})
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    sync = jobs_gateway.post_images(account.key, body, headers=key)  # the same key without the preference
    assert_error(sync, 400, "invalid_request_error", "idempotency_key_reused", "Idempotency-Key")
    done = wait_finished(jobs_gateway, account.key, first.json()["id"])
    assert done["status"] == "completed"
    assert jobs_gateway.balance(account.id) == (10_000_000 - done["result"]["billing"]["amount_micros"], 0)
    assert generation_calls(upstream) == 1


# -- cancelling, and who may see a job


def test_a_queued_job_is_cancelled_and_its_hold_released(idle_gateway: Gateway, upstream: FakeOpenAI) -> None:
    account = idle_gateway.new_account("10")
    response, job = submit(idle_gateway, account.key)
    assert response.status_code == 202
    balance, held = idle_gateway.balance(account.id)
    assert balance == 10_000_000 and held > 0  # the job carries its hold while queued
    assert get_job(idle_gateway, account.key, job["id"])["status"] == "queued"

    cancelled = job_path(idle_gateway, account.key, "DELETE", job["id"])
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["id"] == job["id"]
    assert idle_gateway.balance(account.id) == (10_000_000, 0)
    assert get_job(idle_gateway, account.key, job["id"])["status"] == "cancelled"
    assert_error(job_path(idle_gateway, account.key, "DELETE", job["id"]), 409, "conflict_error", "job_not_cancellable")
    row = idle_gateway.usage_row(response.headers["x-request-id"])
    assert row is not None and (row["status"], row["error_code"], row["cost_micros"]) == (499, "job_cancelled", 0)
    assert upstream.requests == []
    assert idle_gateway.admin(lambda admin: admin.ledger.verify())["ok"]


def test_another_accounts_job_and_unknown_ids_are_404(idle_gateway: Gateway) -> None:
    owner = idle_gateway.new_account("10")
    stranger = idle_gateway.new_account("10")
    _, job = submit(idle_gateway, owner.key)
    for method in ("GET", "DELETE"):
        for job_id in (job["id"], "job_" + "0" * 26, "job_NOT-AN-ID", "img_" + "0" * 26):
            key = stranger.key if job_id == job["id"] else owner.key
            assert_error(job_path(idle_gateway, key, method, job_id), 404, "not_found_error", "job_not_found")
    with pytest.raises(openai.NotFoundError):
        stranger_client = idle_gateway.client(stranger.key)
        stranger_client.get(f"/images/jobs/{job['id']}", cast_to=httpx.Response)
    assert job_path(idle_gateway, None, "GET", job["id"]).status_code == 401
    assert get_job(idle_gateway, owner.key, job["id"])["status"] == "queued"  # nothing the stranger did counted
    assert idle_gateway.balance(stranger.id) == (10_000_000, 0)


@pytest.mark.parametrize("job_id", ["job_%00", "job_" + "0" * 26 + "%00", "job_" + "x" * 61])  # %00: a NUL
def test_a_job_id_that_cannot_be_stored_is_a_400_not_a_404_echoing_it(idle_gateway: Gateway, job_id: str) -> None:
    """As every other id: refused at validation, naming `job_id` (a NUL used to come back inside a 404)."""
    owner = idle_gateway.new_account("10")
    for method in ("GET", "DELETE"):
        response = job_path(idle_gateway, owner.key, method, job_id)
        assert_error(response, 400, "invalid_request_error", "invalid_value", "job_id")
        assert "\x00" not in response.text and "\\u0000" not in response.text


# -- nodes


def _node(path: Path, upstream: FakeOpenAI, db: dict[str, str], name: str, workers: int) -> Gateway:
    """A node named `name` on the database `db` (and the image store in `path`), edits on."""
    config = write_config(path.parent / "catalog.toml", EDITS_ON)
    env = {
        **FAST_JOBS,
        **db,
        "IMAGEGATE_NODE_ID": name,
        "IMAGEGATE_JOB_WORKERS": str(workers),
        "IMAGEGATE_CONFIG": config,
    }
    return start_gateway(path, upstream, env)


def test_a_job_accepted_by_a_stopped_node_is_run_by_another(tmp_path: Path, upstream: FakeOpenAI, db_kind: str) -> None:
    database = Database(db_kind)
    accepting = _node(tmp_path / "data", upstream, database.env, f"accept-{tmp_path.name}", 0)
    running: Gateway | None = None
    try:
        account: Account = accepting.new_account("10")
        jobs = [submit(accepting, account.key)[1]["id"] for _ in range(2)]
        edit = accepting.client(account.key).images.with_raw_response.edit(
            model="gpt-image-2", image=("p.png", _picture(), "image/png"), prompt=PROMPT, extra_headers=ASYNC
        )
        assert edit.http_response.status_code == 202
        jobs.append(json.loads(edit.http_response.content)["id"])  # its image, stored for any node to read
        held = accepting.balance(account.id)[1]
        assert held > 0
        accepting.process.stop()
        assert upstream.requests == []
        assert accepting.balance(account.id) == (10_000_000, held)  # a stopped node's run leaves a job's hold

        running = _node(tmp_path / "data", upstream, database.env, f"run-{tmp_path.name}", 2)
        results = [wait_finished(running, account.key, job_id) for job_id in jobs]
        assert [r["status"] for r in results] == ["completed"] * 3, results
        charged = sum(r["result"]["billing"]["amount_micros"] for r in results)
        assert sorted(r.path for r in upstream.requests) == sorted([GENERATIONS_PATH] * 2 + [EDITS_PATH])
        assert _wait_until(lambda: running.balance(account.id) == (10_000_000 - charged, 0), 10)
        assert running.admin(lambda admin: admin.ledger.verify())["ok"]
    finally:
        for gw in (running, accepting):
            if gw is not None:
                gw.process.stop()
        database.drop()


JOBS_ON_TWO_NODES = 20


def test_two_nodes_on_postgres_run_every_job_exactly_once(
    tmp_path: Path, upstream: FakeOpenAI, postgres_url: str
) -> None:
    db = {"IMAGEGATE_DATABASE_URL": postgres_url}
    nodes = [_node(tmp_path / f"data-{i}", upstream, db, f"node-{i}-{tmp_path.name}", 4) for i in range(2)]
    try:
        account = nodes[0].new_account("10")
        ids = [submit(nodes[i % 2], account.key)[1]["id"] for i in range(JOBS_ON_TWO_NODES)]
        assert len(set(ids)) == JOBS_ON_TWO_NODES
        results = [wait_finished(nodes[(i + 1) % 2], account.key, job_id) for i, job_id in enumerate(ids)]
        assert [r["status"] for r in results] == ["completed"] * JOBS_ON_TWO_NODES
        assert generation_calls(upstream) == JOBS_ON_TWO_NODES
        charged = sum(r["result"]["billing"]["amount_micros"] for r in results)
        assert nodes[0].balance(account.id) == (10_000_000 - charged, 0)
        verdict = nodes[0].admin(lambda admin: admin.ledger.verify())
        assert verdict["ok"], verdict
    finally:
        for gw in nodes:
            gw.process.stop()
