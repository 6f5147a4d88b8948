"""The Batch API in process, through the official `openai` SDK: files.create + batches.create +
batches.retrieve + files.content end to end, billed exactly (each successful line at the model's
batch price, failed lines unbilled), whole-batch refusals naming the line, cancel, expiry, the
batch webhook, and hostile files refused with nothing kept."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from PIL import Image
from sqlalchemy import func, select, update

from imagegate.db.engine import create_engine
from imagegate.db.tables import batch_files, batches
from tests.support.assertions import assert_error

from .app import InProcess, app_settings, offline_routes, open_app

pytestmark = pytest.mark.tier("in_process")

LOW_1024 = 6_000
"""gpt-image-2's live price of one low-quality 1024x1024 image, in micro-USD."""
BATCH_LOW_1024 = LOW_1024 // 2
"""The bundled catalog gives gpt-image-2 half price in a batch."""
OFFLINE_GPT_IMAGE = offline_routes("gpt-image-2", editing=("gpt-image-2",))
ENDPOINT = "/v1/images/generations"
EDITS = "/v1/images/edits"
Scenario = Callable[[InProcess], Awaitable[None]]


def run_app(tmp_path: Path, scenario: Scenario, database_url: str | None = None, **env: str) -> None:
    """The scenario against the app on SQLite, or on `database_url` (a PostgreSQL database of its own)."""
    if database_url is not None:
        env["IMAGEGATE_DATABASE_URL"] = database_url

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
    return await client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h", **extra)


def test_a_batch_runs_every_line_and_bills_the_good_ones_at_the_batch_price(
    tmp_path: Path, own_database_url: str | None
) -> None:
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
        assert (await app.gateway.admin.ledger.verify())["ok"]
        listed = await client.batches.list(limit=5)
        assert [b.id for b in listed.data] == [batch.id]

    run_app(tmp_path, scenario, own_database_url)


def photo_url() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def test_a_batch_of_edits_reads_each_lines_images_and_bills_the_good_lines(
    tmp_path: Path, own_database_url: str | None
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        start = await balance(app, key)
        edit = {**line("edit")["body"], "images": [{"image_url": photo_url()}]}
        lines = [
            {"custom_id": "good", "method": "POST", "url": EDITS, "body": edit},
            {
                "custom_id": "two-images",
                "method": "POST",
                "url": EDITS,
                "body": {**edit, "images": [{"image_url": photo_url()}] * 2},
            },
            {"custom_id": "no-images", "method": "POST", "url": EDITS, "body": line("x")["body"]},
            {
                "custom_id": "by-file-id",
                "method": "POST",
                "url": EDITS,
                "body": {**edit, "images": [{"file_id": "file-abc"}]},
            },
            {
                "custom_id": "not-an-image",
                "method": "POST",
                "url": EDITS,
                "body": {**edit, "images": [{"image_url": "data:image/png;base64,aGVsbG8="}]},
            },
        ]
        uploaded = await client.files.create(file=("in.jsonl", io.BytesIO(jsonl(*lines))), purpose="batch")
        batch = await client.batches.create(input_file_id=uploaded.id, endpoint=EDITS, completion_window="24h")
        quote = batch.model_extra["billing"]["quote_micros"]  # type: ignore[index]
        assert quote == 3 * BATCH_LOW_1024  # the undecodable image is found when its line runs: it is quoted
        done = await finished(client, batch.id)
        good, bad = await lines_of(client, done.output_file_id), await lines_of(client, done.error_file_id)
        assert set(good) == {"good", "two-images"} and set(bad) == {"no-images", "by-file-id", "not-an-image"}
        assert good["good"]["response"]["body"]["billing"]["unit_price_micros"] == BATCH_LOW_1024
        assert bad["no-images"]["response"]["body"]["error"]["param"] == "images"
        assert bad["by-file-id"]["response"]["body"]["error"]["param"] == "images[0].file_id"
        assert bad["not-an-image"]["response"]["status_code"] == 400
        assert start - await balance(app, key) == 2 * BATCH_LOW_1024  # the two good lines, one image each
        assert (await app.gateway.admin.ledger.verify())["ok"]

    run_app(tmp_path, scenario, own_database_url)


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


async def held(app: InProcess, key: str) -> int:
    response = await app.http.get("/v1/account", headers={"Authorization": f"Bearer {key}"})
    return int(response.json()["held_micros"])


async def wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 30
    while not await check():
        assert time.monotonic() < deadline, f"still not: {what}"
        await asyncio.sleep(0.05)


def test_cancel_ends_unstarted_lines_unbilled_and_releases_the_queued_ones_holds(
    tmp_path: Path, own_database_url: str | None
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        start = await balance(app, key)
        batch = await submit(client, jsonl(*(line(f"line-{n}") for n in range(10))))
        cap = app.settings.batches.concurrency

        async def capped_lines_held() -> bool:  # no worker runs them: the first `cap` lines wait queued, held
            return await held(app, key) == cap * BATCH_LOW_1024

        await wait_until(capped_lines_held, "the batch's first lines queued and held")
        cancelling = await client.batches.cancel(batch.id)
        assert cancelling.status in ("cancelling", "cancelled")
        done = await finished(client, batch.id, ("cancelled",))
        assert done.cancelled_at and done.output_file_id is None
        bad = await lines_of(client, done.error_file_id)
        assert len(bad) == 10 and {r["error"]["code"] for r in bad.values()} == {"batch_cancelled"}
        assert all(r["response"] is None for r in bad.values())
        assert await balance(app, key) == start and await held(app, key) == 0
        assert (await app.gateway.admin.ledger.verify())["ok"]
        assert (await client.batches.cancel(done.id)).status == "cancelled"  # cancelling again changes nothing
        with pytest.raises(openai.ConflictError) as ended:
            await _cancel_failed(client)
        assert_error(ended.value.response, 409, "conflict_error", "batch_not_cancellable")

    run_app(tmp_path, scenario, own_database_url, IMAGEGATE_JOB_WORKERS="0")


async def _cancel_failed(client: openai.AsyncOpenAI) -> Any:
    """A batch that has ended cannot be cancelled: one made to fail at once (every line invalid)."""
    batch = await submit(client, jsonl(line("x", size="1x1")))
    ended = await finished(client, batch.id, ("failed",))
    assert ended.errors is not None and ended.errors.data and ended.errors.data[0].code == "all_requests_failed"
    return await client.batches.cancel(batch.id)


def test_expiry_ends_what_has_not_run_and_keeps_nothing_held(tmp_path: Path, own_database_url: str | None) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        start = await balance(app, key)
        batch = await submit(client, jsonl(*(line(f"line-{n}") for n in range(6))))
        assert batch.expires_at == batch.created_at + 86_400

        async def lines_held() -> bool:
            return await held(app, key) > 0

        await wait_until(lines_held, "lines queued and held")
        engine = create_engine(app.settings.database.url)
        try:  # the completion window has passed (as the runner reads it: the row's expires_at)
            async with engine.begin() as conn:
                await conn.execute(update(batches).where(batches.c.id == batch.id).values(expires_at=func.now()))
        finally:
            await engine.dispose()
        app.gateway.batch_runner.wake()
        done = await finished(client, batch.id, ("expired",))
        assert done.expired_at and done.request_counts is not None and done.request_counts.completed == 0
        bad = await lines_of(client, done.error_file_id)
        assert len(bad) == 6 and {r["error"]["code"] for r in bad.values()} == {"batch_expired"}
        assert await balance(app, key) == start and await held(app, key) == 0
        assert (await app.gateway.admin.ledger.verify())["ok"]

    run_app(tmp_path, scenario, own_database_url, IMAGEGATE_JOB_WORKERS="0")


def test_an_ended_batch_is_announced_to_its_keys_webhook_and_its_lines_are_not(
    tmp_path: Path, own_database_url: str | None
) -> None:
    async def scenario(app: InProcess) -> None:
        admin = app.gateway.admin
        account = await admin.accounts.create("hooks")
        await admin.ledger.add_credit(account["id"], "10", "funding")
        created = await admin.keys.create(account["id"], test=False, models=None, rpm=None)
        await admin.webhooks.set_url(created["id"], "http://127.0.0.1:9/hook")
        client = sdk(app, created["key"])
        batch = await submit(client, jsonl(line("a"), line("b")))
        await finished(client, batch.id)
        messages: list[dict[str, Any]] = []

        async def announced() -> bool:  # queued just after the batch's final status is written
            auth = {"Authorization": f"Bearer {created['key']}"}
            messages[:] = (await app.http.get("/v1/webhooks/deliveries", headers=auth)).json()["data"]
            return bool(messages)

        await wait_until(announced, "the batch's webhook queued")
        (message,) = messages  # one for the batch, none for its two lines' jobs
        assert (message["type"], message["job_id"]) == ("batch.completed", batch.id)

    run_app(tmp_path, scenario, own_database_url)


def test_files_and_batches_are_the_owning_accounts_and_image_downloads_still_work(
    tmp_path: Path, own_database_url: str | None
) -> None:
    async def scenario(app: InProcess) -> None:
        owner, other = sdk(app, await app.new_key()), sdk(app, await app.new_key())
        uploaded = await owner.files.create(file=("in.jsonl", io.BytesIO(jsonl(line("a")))), purpose="batch")
        for call in (other.files.retrieve, other.files.content, other.files.delete):
            with pytest.raises(openai.NotFoundError) as missing:
                await call(uploaded.id)
            assert_error(missing.value.response, 404, "not_found_error", "file_not_found")
        with pytest.raises(openai.NotFoundError):
            await other.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h")
        batch = await owner.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h")
        with pytest.raises(openai.NotFoundError) as missing:
            await other.batches.retrieve(batch.id)
        assert_error(missing.value.response, 404, "not_found_error", "batch_not_found")
        assert (await other.batches.list()).data == []
        deleted = await owner.files.delete(uploaded.id)
        assert deleted.deleted and deleted.id == uploaded.id
        with pytest.raises(openai.NotFoundError):
            await owner.files.retrieve(uploaded.id)
        image = await owner.images.generate(
            model="gpt-image-2", prompt="a kite", quality="low", size="1024x1024", response_format="url"
        )
        assert image.data and image.data[0].url
        download = await app.http.get(image.data[0].url)
        assert download.status_code == 200 and download.headers["content-type"] == "image/png"

    run_app(tmp_path, scenario, own_database_url)


def test_a_batch_quoted_past_the_balance_is_refused_at_submit(tmp_path: Path, own_database_url: str | None) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key("0.01")  # 10,000 micros: three lines' 9,000 fit, four lines' 12,000 do not
        client = sdk(app, key)
        await submit(client, jsonl(*(line(f"l{n}") for n in range(3))))
        with pytest.raises(openai.APIStatusError) as refused:
            await submit(client, jsonl(*(line(f"l{n}") for n in range(4))))
        assert_error(refused.value.response, 402, "billing_error", "insufficient_balance")

    run_app(tmp_path, scenario, own_database_url, IMAGEGATE_JOB_WORKERS="0")


HOSTILE = [
    pytest.param(b'{"custom_id": "a", "method": "POST"}\n{"custom_id": "b\\u0000"}\n', "Line 2 ", id="nul"),
    pytest.param(b'{"custom_id": "\\ud800"}\n', "Line 1 ", id="lone-surrogate"),
    pytest.param(b'{"custom_id": "a"}\n{"custom_id": "\xff"}\n', "Line 2 ", id="not-utf8"),
    pytest.param(b"\x89PNG\r\n\x1a\n", "Line 1 ", id="not-jsonl"),
    pytest.param(b"[1, 2]\n", "Line 1 ", id="not-an-object"),
    pytest.param(b"\n" * 10_000_000, "more than 50000 lines", id="ten-million-lines"),
    pytest.param(b"\n\n", "no requests", id="empty"),
]


@pytest.mark.parametrize(("data", "words"), HOSTILE)
def test_hostile_files_are_refused_and_nothing_is_kept(tmp_path: Path, data: bytes, words: str) -> None:
    async def scenario(app: InProcess) -> None:
        client = sdk(app, await app.new_key())
        with pytest.raises(openai.BadRequestError) as refused:
            await client.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch")
        error = assert_error(refused.value.response, 400, "invalid_request_error", "invalid_batch_file", "file")
        assert words in error["message"], error
        await nothing_kept(app)

    run_app(tmp_path, scenario)


def test_a_file_past_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        client = sdk(app, await app.new_key())
        huge_line = b'{"custom_id": "a", "method": "POST", "url": "' + b"x" * (100 * 1024 * 1024) + b'"}\n'
        with pytest.raises(openai.APIStatusError) as refused:
            await client.files.create(file=("in.jsonl", io.BytesIO(huge_line)), purpose="batch")
        assert_error(refused.value.response, 413, "invalid_request_error", "request_too_large")
        await nothing_kept(app)

    run_app(tmp_path, scenario)


def test_hostile_metadata_and_bodies_are_refused_naming_the_field(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        uploaded = await client.files.create(file=("in.jsonl", io.BytesIO(jsonl(line("a")))), purpose="batch")
        fields = f'"input_file_id": "{uploaded.id}", "endpoint": "{ENDPOINT}", "completion_window": "24h"'
        for metadata in ('{"k": "\\ud800"}', '{"k\\u0000": "v"}', '{"k": 1}', "[]"):
            body = ("{" + fields + ', "metadata": ' + metadata + "}").encode()
            refused = await app.http.post("/v1/batches", content=body, headers={"Authorization": f"Bearer {key}"})
            assert_error(refused, 400, "invalid_request_error", param="metadata")
        with pytest.raises(openai.BadRequestError) as refused:
            await client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/images/variations", completion_window="24h"
            )
        assert_error(refused.value.response, 400, "invalid_request_error", param="endpoint")
        with pytest.raises(openai.BadRequestError) as refused:
            await client.files.create(file=("in.jsonl", io.BytesIO(jsonl(line("a")))), purpose="fine-tune")
        assert_error(refused.value.response, 400, "invalid_request_error", param="purpose")
        assert (await client.batches.list()).data == []

    run_app(tmp_path, scenario)


async def nothing_kept(app: InProcess) -> None:
    engine = create_engine(app.settings.database.url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(batch_files))).scalar() == 0
    finally:
        await engine.dispose()
    assert not list(app.settings.node.data_dir.rglob("file-*"))
