"""The Responses API surface (`POST /v1/responses` with the image_generation tool) in process, through
the official `openai` SDK: one image_generation_call billed exactly as the Images API bills the same
image, OpenAI's stream events in order, a two-turn edit with `previous_response_id`, the kept
responses (GET, DELETE, the sweep), and every refusal in the OpenAI error shape, unbilled."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI

from .app import InProcess, app_settings, open_app

LOW_1024 = 6_000
"""gpt-image-2's live price of one low-quality 1024x1024 image, in micro-USD."""
OFFLINE_GPT_IMAGE = """
[models.gpt-image-2]
img2img = true

[[models.gpt-image-2.routes]]
name = "offline"
provider = "preview"
credentials = "none"
upstream_model = "preview"
"""
"""gpt-image-2 at its real prices, drawn by the offline preview (edits on, as an operator may turn them on)."""
EDITING_GPT_IMAGE = """
[models.gpt-image-2]
img2img = true
"""
"""gpt-image-2 on its OpenAI route (the fake upstream), with edits on."""
UPSTREAM_KEY = "sk-fake-upstream-responses"
TOOL = {"type": "image_generation", "model": "gpt-image-2", "quality": "low", "size": "1024x1024"}
PROMPT = "a lighthouse at dusk"
Scenario = Callable[[InProcess], Awaitable[None]]


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=UPSTREAM_KEY) as fake:
        yield fake


def run_app(tmp_path: Path, scenario: Scenario, catalog: str = OFFLINE_GPT_IMAGE, **env: str) -> None:
    async def go() -> None:
        async with open_app(app_settings(tmp_path / "data", catalog, **env)) as app:
            await scenario(app)

    asyncio.run(go())


def on_upstream(tmp_path: Path, fake: FakeOpenAI, scenario: Scenario) -> None:
    fake.reset()
    env = {"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": fake.base_url}
    run_app(tmp_path, scenario, EDITING_GPT_IMAGE, **env)


def sdk(app: InProcess, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=str(app.http.base_url.join("/v1")), http_client=app.http, max_retries=0)


def decoded(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


async def balance(app: InProcess, key: str) -> int:
    response = await app.http.get("/v1/account", headers={"Authorization": f"Bearer {key}"})
    return int(response.json()["balance_micros"])


async def usage_of(app: InProcess, key: str) -> dict[str, dict[str, Any]]:
    response = await app.http.get("/v1/usage", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return {record["id"]: record for record in response.json()["data"]}


async def post(app: InProcess, key: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await app.http.post("/v1/responses", json=body, headers={"Authorization": f"Bearer {key}", **headers})


def test_sdk_create_answers_one_image_call_billed_as_the_images_api_bills_it(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        start = await balance(app, key)
        images_api = await app.http.post(
            "/v1/images/generations",
            json={"model": "gpt-image-2", "prompt": PROMPT, "quality": "low", "size": "1024x1024"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert images_api.status_code == 200, images_api.text
        after_images = await balance(app, key)

        raw = await sdk(app, key).responses.with_raw_response.create(model="gpt-5", input=PROMPT, tools=[TOOL])
        response = raw.parse()
        assert response.id.startswith("resp_") and response.object == "response" and response.status == "completed"
        (call,) = response.output
        assert call.type == "image_generation_call" and call.id.startswith("ig_") and call.status == "completed"
        assert (call.size, call.quality, call.output_format, call.background) == ("1024x1024", "low", "png", "auto")
        assert call.result is not None and decoded(call.result).size == (1024, 1024)
        assert call.revised_prompt and PROMPT in call.revised_prompt
        assert response.usage is not None and response.usage.total_tokens == 0  # no text model ran
        billing = raw.http_response.json()["billing"]
        assert billing == images_api.json()["billing"] and billing["amount_micros"] == LOW_1024
        assert start - after_images == after_images - await balance(app, key) == LOW_1024
        assert raw.headers["x-imagegate-cost-micros"] == str(LOW_1024)
        record = (await usage_of(app, key))[raw.headers["x-request-id"]]
        assert (record["surface"], record["cost_micros"], record["model"]) == ("responses", LOW_1024, "gpt-image-2")
        assert (await app.gateway.admin.verify_ledger())["ok"]

    run_app(tmp_path, scenario)
