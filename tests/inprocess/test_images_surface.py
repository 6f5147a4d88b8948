"""The Images API as one surface over the operation table, in process: every operation (a generation,
an edit, each at once, streamed or as a job) gets the same access-log line, the same bill and a usage
record naming its surface; a job stored before the table existed still runs."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import update

from imagegate.db.engine import create_engine
from imagegate.db.tables import jobs

from .app import InProcess, app_settings, offline_routes, open_app

LOW_1024 = 6_000
"""gpt-image-2's live price of one low-quality 1024x1024 image, in micro-USD."""
OFFLINE_GPT_IMAGE = offline_routes("gpt-image-2", editing=("gpt-image-2",))
"""gpt-image-2 at its real prices, drawn by the offline preview (edits on, as an operator may turn them on)."""
FIELDS = {"model": "gpt-image-2", "prompt": "a red kite over the sea", "quality": "low", "size": "1024x1024"}
ASYNC = {"Prefer": "respond-async"}


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


def run_app(tmp_path: Path, scenario: Callable[[InProcess], Awaitable[None]], **env: str) -> None:
    async def go() -> None:
        async with open_app(app_settings(tmp_path / "data", OFFLINE_GPT_IMAGE, **env)) as app:
            await scenario(app)

    asyncio.run(go())


async def generate(app: InProcess, key: str, **extra: Any) -> httpx.Response:
    return await app.http.post(
        "/v1/images/generations", json={**FIELDS, **extra}, headers={"Authorization": f"Bearer {key}"}
    )


async def edit(app: InProcess, key: str, headers: dict[str, str] | None = None, **extra: str) -> httpx.Response:
    return await app.http.post(
        "/v1/images/edits",
        data={**FIELDS, **extra},
        files={"image": ("photo.png", photo(), "image/png")},
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
    )


async def usage_of(app: InProcess, key: str) -> dict[str, dict[str, Any]]:
    response = await app.http.get("/v1/usage", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return {record["id"]: record for record in response.json()["data"]}


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda app, key: generate(app, key), id="generation"),
        pytest.param(lambda app, key: edit(app, key), id="edit"),
        pytest.param(lambda app, key: generate(app, key, stream=True), id="streamed-generation"),
        pytest.param(lambda app, key: edit(app, key, stream="true"), id="streamed-edit"),
    ],
)
def test_each_operations_access_line_names_its_model_images_and_cost(
    tmp_path: Path, send: Callable[[InProcess, str], Awaitable[httpx.Response]]
) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        response = await send(app, key)
        assert response.status_code == 200, response.text
        request_id = response.headers["x-request-id"]
        line = app.access.of(request_id)
        assert " 200 key=key_" in line and "model=gpt-image-2 images=1 cost_micros=6000 " in line, line
        (record,) = (await usage_of(app, key)).values()
        assert (record["id"], record["cost_micros"], record["surface"]) == (request_id, LOW_1024, "images")

    run_app(tmp_path, scenario)


def test_a_job_is_billed_like_the_sync_request_on_the_job_surface(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        accepted = await edit(app, key, headers=ASYNC)
        assert accepted.status_code == 202, accepted.text
        assert "model=gpt-image-2 images=0 cost_micros=0 " in app.access.of(accepted.headers["x-request-id"])
        assert await app.gateway.job_workers.run_one()
        job = (await app.http.get(accepted.headers["location"], headers={"Authorization": f"Bearer {key}"})).json()
        assert job["status"] == "completed" and job["result"]["billing"]["amount_micros"] == LOW_1024, job
        record = (await usage_of(app, key))[accepted.headers["x-request-id"]]
        assert (record["status"], record["cost_micros"], record["surface"]) == (200, LOW_1024, "job")

    run_app(tmp_path, scenario, IMAGEGATE_JOB_WORKERS="0")


def test_an_edit_job_stored_in_the_earlier_format_still_runs_as_an_edit(tmp_path: Path) -> None:
    """The payload as releases before the operation table wrote it: the fields, and the files by part and name."""

    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        accepted = await edit(app, key, headers=ASYNC)
        job_id = accepted.json()["id"]
        earlier = json.dumps({"fields": FIELDS, "files": [["image", "photo.png"]]})
        engine = create_engine(app.settings.database.url)
        async with engine.begin() as conn:
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(operation="edit", payload=earlier))
        await engine.dispose()
        assert await app.gateway.job_workers.run_one()
        job = (await app.http.get(accepted.headers["location"], headers={"Authorization": f"Bearer {key}"})).json()
        assert job["status"] == "completed", job
        assert not any((tmp_path / "data" / "images" / "jobs").rglob("*"))  # its upload went with it

    run_app(tmp_path, scenario, IMAGEGATE_JOB_WORKERS="0")
