"""The Responses API surface (`POST /v1/responses` with the image_generation tool) in process, through
the official `openai` SDK: one image_generation_call billed exactly as the Images API bills the same
image, OpenAI's stream events in order, a two-turn edit with `previous_response_id`, the kept
responses (GET, DELETE, the sweep), and every refusal in the OpenAI error shape, unbilled."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.support.assertions import assert_error
from tests.upstreams.fake_openai import FakeOpenAI
from tests.upstreams.reference_images import parse_multipart

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


OPENING = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.image_generation_call.in_progress",
    "response.image_generation_call.generating",
]
CLOSING = [
    "response.image_generation_call.completed",
    "response.output_item.done",
    "response.completed",
]


def test_sdk_stream_sends_openais_events_in_order_and_bills_once(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        start = await balance(app, key)
        async with sdk(app, key).responses.stream(model="gpt-image-2", input=PROMPT, tools=[TOOL]) as stream:
            events = [event async for event in stream]
            final = await stream.get_final_response()
        assert [event.type for event in events] == OPENING + CLOSING
        assert [event.sequence_number for event in events] == list(range(len(events)))
        (call,) = final.output
        assert call.type == "image_generation_call" and call.status == "completed"
        assert call.result is not None and decoded(call.result).size == (1024, 1024)
        assert events[2].item.id == call.id and final.id == events[0].response.id  # type: ignore[union-attr]
        assert final.model_extra is not None and final.model_extra["billing"]["amount_micros"] == LOW_1024
        assert start - await balance(app, key) == LOW_1024
        kept = await sdk(app, key).responses.retrieve(final.id)  # kept before response.completed went out
        assert kept.output[0].result == call.result
        (record,) = (await usage_of(app, key)).values()
        assert (record["surface"], record["cost_micros"]) == ("responses", LOW_1024)

    run_app(tmp_path, scenario)


def test_partial_images_the_upstream_streams_are_passed_through(tmp_path: Path, fake_upstream: FakeOpenAI) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        tool = {**TOOL, "partial_images": 2}
        async with sdk(app, key).responses.stream(model="gpt-5", input=PROMPT, tools=[tool]) as stream:  # type: ignore[list-item]
            events = [event async for event in stream]
        partials = [event for event in events if event.type == "response.image_generation_call.partial_image"]
        assert [event.type for event in events] == OPENING + [partials[0].type] * 2 + CLOSING
        assert [event.partial_image_index for event in partials] == [0, 1]  # type: ignore[union-attr]
        assert all(decoded(event.partial_image_b64).format == "PNG" for event in partials)  # type: ignore[union-attr]
        sent = fake_upstream.requests[0].json
        assert (sent["stream"], sent["partial_images"], sent["quality"]) == (True, 2, "low")

    on_upstream(tmp_path, fake_upstream, scenario)


def test_a_second_turn_edits_the_previous_responses_image(tmp_path: Path, fake_upstream: FakeOpenAI) -> None:
    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        first = await client.responses.create(model="gpt-5", input=PROMPT, tools=[TOOL])
        second = await client.responses.create(
            model="gpt-5", input="now make it snow", tools=[TOOL], previous_response_id=first.id
        )
        assert second.previous_response_id == first.id and second.output[0].result
        generation, edit = fake_upstream.requests
        assert (generation.path, edit.path) == ("/v1/images/generations", "/v1/images/edits")
        parts = {part.name: part for part in parse_multipart(edit.headers["content-type"], edit.body)}
        assert parts["prompt"].data == b"now make it snow"
        assert parts["image"].data == base64.b64decode(first.output[0].result or "")  # the first turn's image
        records = await usage_of(app, key)
        assert [r["surface"] for r in records.values()] == ["responses", "responses"]
        assert sum(r["cost_micros"] for r in records.values()) == 2 * LOW_1024

    on_upstream(tmp_path, fake_upstream, scenario)


def test_an_earlier_image_sent_back_as_input_is_edited(tmp_path: Path, fake_upstream: FakeOpenAI) -> None:
    """Conversation state kept by the client: the first answer's output item sent back as input."""

    async def scenario(app: InProcess) -> None:
        key = await app.new_key()
        client = sdk(app, key)
        first = await client.responses.create(model="gpt-5", input=PROMPT, tools=[TOOL], store=False)
        turn = [*(item.model_dump() for item in first.output), {"role": "user", "content": "add a moon"}]
        await client.responses.create(model="gpt-5", input=turn, tools=[TOOL])  # type: ignore[arg-type]
        edit = fake_upstream.requests[1]
        parts = {part.name: part for part in parse_multipart(edit.headers["content-type"], edit.body)}
        assert parts["image"].data == base64.b64decode(first.output[0].result or "")
        with pytest.raises(openai.NotFoundError):  # store: false kept nothing
            await client.responses.retrieve(first.id)

    on_upstream(tmp_path, fake_upstream, scenario)


def test_kept_responses_are_the_accounts_own_and_go_when_deleted_or_expired(tmp_path: Path) -> None:
    async def scenario(app: InProcess) -> None:
        key, other = await app.new_key(), await app.new_key()
        mine = await sdk(app, key).responses.create(model="gpt-image-2", input=PROMPT, tools=[{"type": "image_generation"}])
        assert (await sdk(app, key).responses.retrieve(mine.id)).model_dump() == mine.model_dump()
        with pytest.raises(openai.NotFoundError):
            await sdk(app, other).responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError) as caught:
            await sdk(app, other).responses.create(
                model="gpt-image-2", input="again", tools=[TOOL], previous_response_id=mine.id
            )
        assert (caught.value.code, caught.value.param) == ("previous_response_not_found", "previous_response_id")
        with pytest.raises(openai.NotFoundError):
            await sdk(app, other).responses.delete(mine.id)
        await sdk(app, key).responses.delete(mine.id)
        with pytest.raises(openai.NotFoundError):
            await sdk(app, key).responses.retrieve(mine.id)

        kept = await sdk(app, key).responses.create(model="gpt-image-2", input=PROMPT, tools=[TOOL])
        images = tmp_path / "data" / "images" / "responses"
        assert any(images.rglob("*"))
        assert await app.gateway.responses.sweep(now=time.time() + 86_400 + 1) == 1
        assert not any(path.is_file() for path in images.rglob("*"))
        with pytest.raises(openai.NotFoundError):
            await sdk(app, key).responses.retrieve(kept.id)

    run_app(tmp_path, scenario)
