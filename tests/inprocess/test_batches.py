"""The Batch API in process, through the official `openai` SDK: files.create + batches.create +
batches.retrieve + files.content end to end, billed exactly (each successful line at the model's
batch price, failed lines unbilled), whole-batch refusals naming the line, cancel, expiry, the
batch webhook, and hostile files refused with nothing kept."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import func, select, update

from imagegate.db.batches import batch_files, batches
from imagegate.db.engine import create_engine
from tests.support.assertions import assert_error

from .app import InProcess, app_settings, open_app

pytestmark = pytest.mark.tier("in_process")

LOW_1024 = 6_000
"""gpt-image-2's live price of one low-quality 1024x1024 image, in micro-USD."""
BATCH_LOW_1024 = LOW_1024 // 2
"""The bundled catalog gives gpt-image-2 half price in a batch."""
OFFLINE_GPT_IMAGE = """
[[models.gpt-image-2.routes]]
name = "offline"
provider = "preview"
credentials = "none"
upstream_model = "preview"
"""
ENDPOINT = "/v1/images/generations"
Scenario = Callable[[InProcess], Awaitable[None]]


def run_app(tmp_path: Path, scenario: Scenario, **env: str) -> None:
    async def go() -> None:
        settings = app_settings(tmp_path / "data", OFFLINE_GPT_IMAGE, IMAGEGATE_JOB_POLL_SECONDS="0.2", **env)
        async with open_app(settings) as app:
            await scenario(app)

    asyncio.run(go())


def sdk(app: InProcess, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=key, base_url=str(app.http.base_url.join("/v1")), http_client=app.http, max_retries=0
    )


def line(custom_id: str, **body: Any) -> dict[str, Any]:
    fields = {"model": "gpt-image-2", "prompt": f"a kite {custom_id}", "quality": "low", "size": "1024x1024"}
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": {**fields, **body}}


def jsonl(*lines: dict[str, Any]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in lines).encode()


async def balance(app: InProcess, key: str) -> int:
    response = await app.http.get("/v1/account", headers={"Authorization": f"Bearer {key}"})
    return int(response.json()["balance_micros"])


async def finished(client: openai.AsyncOpenAI, batch_id: str, statuses: tuple[str, ...] = ("completed",)) -> Any:
    """The batch once it reaches one of `statuses` (bounded: 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        batch = await client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        assert batch.status not in ("completed", "failed", "expired", "cancelled"), batch
        assert time.monotonic() < deadline, f"batch still {batch.status}"
        await asyncio.sleep(0.05)


async def lines_of(client: openai.AsyncOpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if file_id is None:
        return {}
    content = await client.files.content(file_id)
    return {record["custom_id"]: record for record in map(json.loads, content.text.splitlines())}


async def submit(client: openai.AsyncOpenAI, data: bytes, **extra: Any) -> Any:
    uploaded = await client.files.create(file=("input.jsonl", io.BytesIO(data)), purpose="batch")
    return await client.batches.create(
        input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h", **extra
    )


def test_a_batch_runs_every_line_and_bills_the_good_ones_at_the_batch_price(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        start = await balance(app, key)
        data = jsonl(line("one"), line("two", n=2), line("bad-size", size="999x999"), line("bad-model", model="nope"))
        uploaded = await client.files.create(file=("input.jsonl", io.BytesIO(data)), purpose="batch")
        assert uploaded.id.startswith("file-") and uploaded.purpose == "batch" and uploaded.bytes == len(data)
        assert (await client.files.retrieve(uploaded.id)).filename == "input.jsonl"
        assert (await client.files.content(uploaded.id)).content == data
        batch = await client.batches.create(
            input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h", metadata={"run": "nightly"}
        )
        assert batch.id.startswith("batch_") and batch.status == "validating" and batch.metadata == {"run": "nightly"}
        quote = batch.model_extra["billing"]["quote_micros"]  # type: ignore[index]
        assert quote == 3 * BATCH_LOW_1024  # the two valid lines' three images; the invalid ones are not quoted
        done = await finished(client, batch.id)
        assert done.request_counts is not None
        assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (4, 2, 2)
        assert done.in_progress_at and done.finalizing_at and done.completed_at
        good = await lines_of(client, done.output_file_id)
        bad = await lines_of(client, done.error_file_id)
        assert set(good) == {"one", "two"} and set(bad) == {"bad-size", "bad-model"}
        for record in good.values():
            assert record["error"] is None and record["id"].startswith("batch_req_")
            response = record["response"]
            assert response["status_code"] == 200 and response["request_id"].startswith("req_")
            assert response["body"]["data"] and response["body"]["billing"]["unit_price_micros"] == BATCH_LOW_1024
        assert len(good["two"]["response"]["body"]["data"]) == 2
        for record in bad.values():
            assert record["response"]["status_code"] == 400 and record["response"]["body"]["error"]["type"]
        assert bad["bad-model"]["response"]["body"]["error"]["param"] == "model"
        assert start - await balance(app, key) == quote  # quote = charge, exactly
        usage = (await app.http.get("/v1/usage", headers={"Authorization": f"Bearer {key}"})).json()["data"]
        charged = [r for r in usage if r["status"] == 200]
        assert len(charged) == 2 and {r["surface"] for r in charged} == {"batch"}
        assert sum(r["cost_micros"] for r in usage) == quote
        assert (await app.gateway.admin.verify_ledger())["ok"]
        listed = await client.batches.list(limit=5)
        assert [b.id for b in listed.data] == [batch.id]

    run_app(tmp_path, scenario)


@pytest.mark.parametrize(
    ("lines", "number", "words"),
    [
        pytest.param([line("a"), {"method": "POST", "url": ENDPOINT, "body": {}}], 2, "custom_id", id="no-custom-id"),
        pytest.param([line("a"), line("b"), line("a")], 3, "repeats line 1", id="duplicate"),
        pytest.param([line("a"), {**line("b"), "url": "/v1/chat/completions"}], 2, "url", id="other-url"),
        pytest.param([line("a"), {**line("b"), "method": None}], 2, "method", id="no-method"),
    ],
)
def test_a_bad_line_refuses_the_whole_batch_naming_it(
    tmp_path: Path, lines: list[dict[str, Any]], number: int, words: str
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        start = await balance(app, key)
        with pytest.raises(openai.BadRequestError) as refused:
            await submit(client, jsonl(*lines))
        assert_error(refused.value.response, 400, "invalid_request_error", "invalid_batch_file", "input_file_id")
        message = refused.value.response.json()["error"]["message"]
        assert f"Line {number} " in message and words in message, message
        assert (await client.batches.list()).data == []
        assert await balance(app, key) == start

    run_app(tmp_path, scenario)
